//! Panics in `validate-credentials`: the host's error must carry the text.
use guest_kit::*;

struct Panicker;

impl Behaviour for Panicker {
    const ID: &'static str = "panicker";
    fn validate_credentials(ctx: CallContext) -> Result<Account, ProviderError> {
        panic!("kaboom: cannot handle base url {}", ctx.base_url);
    }
}

test_plugin!(Panicker);
