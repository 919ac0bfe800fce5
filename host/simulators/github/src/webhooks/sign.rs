//! `X-Hub-Signature-256`: `sha256=<hex HMAC-SHA256 of the raw body under the secret>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Lower-case hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header value GitHub sends: `sha256=<hex>`.
pub fn signature_header(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", sign(secret, body))
}

/// Checks an `X-Hub-Signature-256` value in constant time.
pub fn verify(header: &str, secret: &[u8], body: &[u8]) -> bool {
    let Some(sig) = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector in GitHub's "Validating webhook deliveries".
    #[test]
    fn githubs_documented_vector() {
        let (secret, body) = (b"It's a Secret to Everybody", b"Hello, World!");
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(signature_header(secret, body), expected);
        assert!(verify(expected, secret, body));
        assert!(!verify(expected, secret, b"Hello, World?"));
        assert!(!verify("sha1=757107ea", secret, body));
    }
}
