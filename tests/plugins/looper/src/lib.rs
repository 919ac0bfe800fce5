//! Spins forever in `validate-credentials`: the host must stop it at the
//! call deadline and keep serving other calls.
use guest_kit::*;

struct Looper;

impl Behaviour for Looper {
    const ID: &'static str = "looper";
    fn validate_credentials(_ctx: CallContext) -> Result<Account, ProviderError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

test_plugin!(Looper);
