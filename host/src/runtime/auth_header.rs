//! The provider token on the wire: the auth header a call adds to
//! requests bound for the integration's own origin, and the scrubbing of
//! the token from anything a server echoes back.

use reqwest::header::{HeaderName, HeaderValue};

use super::credential::Credential;
use super::origin::Origin;

/// How the token is attached, from the plugin's descriptor.
#[derive(Debug, Clone)]
pub enum AuthScheme {
    /// `<header-name>: <token>` (CircleCI: `Circle-Token`); the name is
    /// stored lower-case.
    Header(String),
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: Basic base64(<token>:)`: the token as user name.
    BasicUser,
}

/// The header a call adds on requests to the integration's origin.
#[derive(Clone)]
pub struct AuthHeader {
    pub(crate) origin: Origin,
    pub(crate) name: HeaderName,
    pub(crate) value: HeaderValue,
    /// Kept to scrub the token from anything a server echoes back.
    pub(crate) token: Credential,
}

/// Why the auth header of a call could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthHeaderError {
    /// The token has bytes a header value cannot carry (CR, LF, other
    /// controls): a paste error, never a real provider token. Not
    /// echoed, since it is the secret.
    #[error(
        "the token contains characters that cannot be sent in an HTTP header (a line break or another control character); enter the token again without them"
    )]
    TokenNotSendable,
    /// The plugin's header name is invalid (refused at load already).
    #[error("the plugin's auth header name is not a valid header name: {0}")]
    BadName(String),
}

impl AuthHeader {
    /// The header for `token` under `scheme`, sent only to `origin`.
    pub fn new(
        origin: Origin,
        scheme: &AuthScheme,
        token: Credential,
    ) -> Result<Self, AuthHeaderError> {
        use base64::Engine as _;
        let (name, value) = match scheme {
            AuthScheme::Header(name) => (name.clone(), token.expose().to_string()),
            AuthScheme::Bearer => ("authorization".into(), format!("Bearer {}", token.expose())),
            AuthScheme::BasicUser => (
                "authorization".into(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{}:", token.expose()))
                ),
            ),
        };
        let name =
            HeaderName::try_from(name).map_err(|e| AuthHeaderError::BadName(e.to_string()))?;
        let mut value =
            HeaderValue::try_from(value).map_err(|_| AuthHeaderError::TokenNotSendable)?;
        // Keeps the value out of hyper's and reqwest's debug output.
        value.set_sensitive(true);
        Ok(AuthHeader {
            origin,
            name,
            value,
            token,
        })
    }
}

/// A server that echoes request headers (error pages, debugging proxies)
/// would hand the token to the plugin; replace it wherever it appears.
pub(crate) fn scrub(token: &[u8], headers: &mut [(String, String)], body: &mut Vec<u8>) {
    if token.is_empty() {
        return;
    }
    let token_str = String::from_utf8_lossy(token);
    for (_, value) in headers.iter_mut() {
        if value.contains(token_str.as_ref()) {
            *value = value.replace(token_str.as_ref(), "[redacted]");
        }
    }
    if memchr::memmem::find(body, token).is_some() {
        let mut out = Vec::with_capacity(body.len());
        let mut rest = &body[..];
        while let Some(i) = memchr::memmem::find(rest, token) {
            out.extend_from_slice(&rest[..i]);
            out.extend_from_slice(b"[redacted]");
            rest = &rest[i + token.len()..];
        }
        out.extend_from_slice(rest);
        *body = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_replaces_every_echo_of_the_token() {
        let mut headers = vec![("x-echo".to_string(), "Circle-Token: tok123".to_string())];
        let mut body = b"{\"seen\":\"tok123\",\"again\":\"tok123\"}".to_vec();
        scrub(b"tok123", &mut headers, &mut body);
        assert_eq!(headers[0].1, "Circle-Token: [redacted]");
        assert_eq!(body, b"{\"seen\":\"[redacted]\",\"again\":\"[redacted]\"}");
    }

    #[test]
    fn a_token_with_line_breaks_cannot_be_sent_under_any_scheme_that_sends_it_raw() {
        let origin = Origin::parse("https://circleci.com").unwrap();
        for scheme in [
            AuthScheme::Header("circle-token".into()),
            AuthScheme::Bearer,
        ] {
            for token in ["s3cr3t\r\nX-Injected: 1", "s3cr3t\n", "s3cr3t\u{0}"] {
                let err = AuthHeader::new(origin.clone(), &scheme, Credential::new(token))
                    .err()
                    .expect("refused");
                assert_eq!(err, AuthHeaderError::TokenNotSendable);
                assert!(!err.to_string().contains("s3cr3t"), "{err}");
            }
        }
        // Basic auth base64-encodes the token, so any bytes can be sent.
        assert!(AuthHeader::new(origin, &AuthScheme::BasicUser, Credential::new("a\r\nb")).is_ok());
    }
}
