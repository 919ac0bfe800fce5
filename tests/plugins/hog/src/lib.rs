//! Allocates without bound in `validate-credentials`: the host must stop
//! it at the memory cap.
use guest_kit::*;

struct Hog;

impl Behaviour for Hog {
    const ID: &'static str = "hog";
    fn validate_credentials(_ctx: CallContext) -> Result<Account, ProviderError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // Touch every page so the memory is really used.
            hoard.push(vec![0xA5; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}

test_plugin!(Hog);
