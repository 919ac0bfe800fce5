//! Tokens, the way GitHub accepts them: `Authorization: Bearer <t>` or `token <t>`.

use hyper::HeaderMap;

/// The token of a request, if it sent an `Authorization` header. Any other scheme yields
/// an empty token, which no account has, so it is answered "Bad credentials".
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    Some(if known {
        rest.trim().to_owned()
    } else {
        String::new()
    })
}

/// Short, non-reversible fingerprint of a token for logs (tokens are never logged).
pub fn fingerprint(token: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(token.as_bytes())[..6])
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn bearer_and_token_schemes() {
        assert_eq!(bearer(&with("Bearer abc")).as_deref(), Some("abc"));
        assert_eq!(bearer(&with("token abc")).as_deref(), Some("abc"));
        assert_eq!(bearer(&with("Basic YWJjOg==")).as_deref(), Some(""));
        assert_eq!(bearer(&HeaderMap::new()), None);
        assert_ne!(fingerprint("abc"), "abc");
    }
}
