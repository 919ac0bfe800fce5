//! Verifying a webhook delivery by the scheme the plugin declared
//! (contract 0.2.0 `webhook-scheme`), so that the secrets never enter the
//! plugin: HMAC-SHA256 of the raw body against a signature header, or a
//! shared token carried in a header. Every comparison is constant-time, and
//! every secret the integration holds is tried (more than one while a
//! secret is rotated).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::runtime::wit::latest::provider::{HmacSignature, WebhookScheme};

/// Why a delivery did not verify. The reason goes to the log only: every
/// refusal gets the same answer (issue 18, F5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// The header the scheme names is missing.
    #[error("the delivery has no `{0}` header")]
    MissingHeader(String),
    /// No signature or token in it matched any of the secrets.
    #[error("no secret of the integration matches the delivery's `{0}` header")]
    Mismatch(String),
}

/// What the host made of a delivery before the plugin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The host checked it and it holds.
    Verified,
    /// The scheme is the plugin's own: the plugin gets the secrets.
    ByPlugin,
}

/// Checks `body` and `headers` (names lower-case) under `scheme` with each
/// of `secrets`.
pub fn verify(
    scheme: &WebhookScheme,
    headers: &[(String, String)],
    body: &[u8],
    secrets: &[&str],
) -> Result<Verdict, Unverified> {
    match scheme {
        WebhookScheme::ByPlugin => Ok(Verdict::ByPlugin),
        WebhookScheme::HmacSha256(sig) => hmac(sig, headers, body, secrets),
        WebhookScheme::SharedToken(name) => {
            let name = name.to_ascii_lowercase();
            let given = header(headers, &name).ok_or(Unverified::MissingHeader(name.clone()))?;
            let given = given.trim().as_bytes();
            // Every secret is compared, whatever the first one gave.
            let hit = secrets.iter().fold(0u8, |acc, s| {
                acc | u8::from(bool::from(s.as_bytes().ct_eq(given)))
            });
            if hit == 1 {
                Ok(Verdict::Verified)
            } else {
                Err(Unverified::Mismatch(name))
            }
        }
    }
}

fn hmac(
    sig: &HmacSignature,
    headers: &[(String, String)],
    body: &[u8],
    secrets: &[&str],
) -> Result<Verdict, Unverified> {
    let name = sig.header.to_ascii_lowercase();
    let value = header(headers, &name).ok_or(Unverified::MissingHeader(name.clone()))?;
    let candidates: Vec<&str> = if sig.comma_separated {
        value.split(',').map(str::trim).collect()
    } else {
        vec![value.trim()]
    };
    let given: Vec<Vec<u8>> = candidates
        .iter()
        .filter_map(|c| c.strip_prefix(sig.prefix.as_str()))
        .filter_map(|hex_sig| hex::decode(hex_sig.trim()).ok())
        .collect();
    let mut hit = 0u8;
    for secret in secrets {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        for g in &given {
            hit |= u8::from(bool::from(expected.as_slice().ct_eq(g)));
        }
    }
    if hit == 1 {
        Ok(Verdict::Verified)
    } else {
        Err(Unverified::Mismatch(name))
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> WebhookScheme {
        WebhookScheme::HmacSha256(HmacSignature {
            header: "X-Hub-Signature-256".into(),
            prefix: "sha256=".into(),
            comma_separated: false,
        })
    }

    fn h(name: &str, value: &str) -> Vec<(String, String)> {
        vec![(name.into(), value.into())]
    }

    /// GitHub's documented test vector ("Validating webhook deliveries"):
    /// secret "It's a Secret to Everybody", payload "Hello, World!".
    const GITHUB_SIG: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_test_vector_verifies_with_the_current_or_the_previous_secret() {
        let headers = h("x-hub-signature-256", GITHUB_SIG);
        let body = b"Hello, World!";
        assert_eq!(
            verify(&github(), &headers, body, &["It's a Secret to Everybody"]),
            Ok(Verdict::Verified)
        );
        assert_eq!(
            verify(
                &github(),
                &headers,
                body,
                &["new", "It's a Secret to Everybody"]
            ),
            Ok(Verdict::Verified)
        );
        assert!(matches!(
            verify(
                &github(),
                &headers,
                b"Hello, World?",
                &["It's a Secret to Everybody"]
            ),
            Err(Unverified::Mismatch(_))
        ));
        assert!(matches!(
            verify(&github(), &[], body, &["It's a Secret to Everybody"]),
            Err(Unverified::MissingHeader(_))
        ));
        // No secrets: nothing verifies.
        assert!(verify(&github(), &headers, body, &[]).is_err());
    }

    #[test]
    fn comma_separated_signatures_verify_when_any_one_matches() {
        let scheme = WebhookScheme::HmacSha256(HmacSignature {
            header: "x-sig".into(),
            prefix: "sha256=".into(),
            comma_separated: true,
        });
        let headers = h("x-sig", &format!("sha256=00ff, {GITHUB_SIG}"));
        assert_eq!(
            verify(
                &scheme,
                &headers,
                b"Hello, World!",
                &["It's a Secret to Everybody"]
            ),
            Ok(Verdict::Verified)
        );
        // Without the flag the whole value is one signature, which fails.
        assert!(
            verify(
                &github(),
                &h("x-hub-signature-256", &format!("{GITHUB_SIG},x")),
                b"Hello, World!",
                &["It's a Secret to Everybody"]
            )
            .is_err()
        );
    }

    #[test]
    fn a_shared_token_is_compared_with_every_secret() {
        let scheme = WebhookScheme::SharedToken("X-Gitlab-Token".into());
        let ok = h("x-gitlab-token", "s3cret");
        assert_eq!(
            verify(&scheme, &ok, b"{}", &["old", "s3cret"]),
            Ok(Verdict::Verified)
        );
        assert!(verify(&scheme, &h("x-gitlab-token", "s3cre"), b"{}", &["s3cret"]).is_err());
        assert!(verify(&scheme, &[], b"{}", &["s3cret"]).is_err());
        assert_eq!(
            verify(&WebhookScheme::ByPlugin, &[], b"{}", &["s3cret"]),
            Ok(Verdict::ByPlugin)
        );
    }
}
