//! Token extraction, the way CircleCI accepts it.
//!
//! Accepted: `Circle-Token: <t>`, `Authorization: Basic base64(<t>:)` (token
//! as user name, password ignored), `Authorization: Bearer <t>`, and, only if
//! enabled, the deprecated `?circle-token=<t>` query parameter.

use base64::Engine;
use hyper::HeaderMap;

/// Which form carried the token (recorded in the request log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthForm {
    /// `Circle-Token` header.
    CircleToken,
    /// HTTP Basic with the token as user name.
    Basic,
    /// `Authorization: Bearer`.
    Bearer,
    /// Deprecated query parameter.
    Query,
}

/// Finds the token in a request, if any.
pub fn extract(
    headers: &HeaderMap,
    query: Option<&str>,
    allow_query: bool,
) -> Option<(String, AuthForm)> {
    if let Some(t) = headers.get("circle-token").and_then(|v| v.to_str().ok()) {
        return Some((t.trim().to_owned(), AuthForm::CircleToken));
    }
    if let Some(v) = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = v.trim().split_once(' ')?;
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some((rest.trim().to_owned(), AuthForm::Bearer));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let text = String::from_utf8(raw).ok()?;
            let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
            return Some((user.to_owned(), AuthForm::Basic));
        }
        return None;
    }
    if allow_query {
        let q = query?;
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("circle-token=") {
                return Some((v.to_owned(), AuthForm::Query));
            }
        }
    }
    None
}

/// Short, non-reversible fingerprint of a token for logs (never log tokens).
pub fn fingerprint(token: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(token.as_bytes())[..6])
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn all_forms() {
        let basic = base64::engine::general_purpose::STANDARD.encode("tok:");
        assert_eq!(
            extract(&headers("circle-token", "tok"), None, false),
            Some(("tok".into(), AuthForm::CircleToken))
        );
        assert_eq!(
            extract(
                &headers("authorization", &format!("Basic {basic}")),
                None,
                false
            ),
            Some(("tok".into(), AuthForm::Basic))
        );
        assert_eq!(
            extract(&headers("authorization", "Bearer tok"), None, false),
            Some(("tok".into(), AuthForm::Bearer))
        );
        assert_eq!(
            extract(&HeaderMap::new(), Some("circle-token=tok"), false),
            None
        );
        assert_eq!(
            extract(&HeaderMap::new(), Some("a=1&circle-token=tok"), true),
            Some(("tok".into(), AuthForm::Query))
        );
    }
}
