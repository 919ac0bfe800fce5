//! Requests and answers in a provider's terms: a GET request builder,
//! query strings, header lookup, JSON decoding and the contract's
//! `provider-error` for what went wrong, each message naming the provider.

use serde::de::DeserializeOwned;

use crate::transport::Transport;
use crate::wit::{HttpError, Method, ProviderError, RateLimit, Request, Response, UpstreamError};

/// A JSON `GET` of `url`. `conditional` lets the host revalidate with its
/// own copy of the URL's last answer (a 304 costs most providers nothing
/// against the rate limit).
pub fn get(url: impl Into<String>, conditional: bool) -> Request {
    Request {
        method: Method::Get,
        url: url.into(),
        headers: vec![("accept".into(), "application/json".into())],
        body: None,
        timeout_ms: None,
        conditional,
    }
}

/// The first value of a header (answers' names are lower-case; matched
/// case-insensitively all the same).
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Percent-encodes a path segment or query value (everything but RFC 3986
/// unreserved characters).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path` with the given query parameters appended (absent values skipped).
pub fn with_query(path: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut out = path.to_string();
    let mut sep = if path.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        if let Some(v) = v {
            out.push(sep);
            out.push_str(k);
            out.push('=');
            out.push_str(&encode_component(v));
            sep = '&';
        }
    }
    out
}

/// The provider's own words from an error body: the `message` or `error`
/// field of a JSON object, else the text itself, at most 300 characters (a
/// proxy's HTML page must not flood the message). `None` when there is
/// nothing readable (an empty body, `{}`).
pub fn error_message(body: &[u8]) -> Option<String> {
    if let Ok(serde_json::Value::Object(map)) = from_body::<serde_json::Value>(body) {
        return ["message", "error"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(300).collect())
}

/// The error a non-2xx answer means, in the contract's words: 401 and 403
/// `unauthorized`, 404 `not-found`, 429 `rate-limited` (its end from a
/// `Retry-After` in seconds), anything else `upstream`.
pub fn status_error(provider: &str, resp: &Response) -> ProviderError {
    let message = error_message(&resp.body);
    let said = |fallback: String| message.clone().unwrap_or(fallback);
    match resp.status {
        401 | 403 => ProviderError::Unauthorized(said(format!(
            "{provider} rejected the token ({})",
            resp.status
        ))),
        404 => ProviderError::NotFound(said("not found (404)".into())),
        429 => ProviderError::RateLimited(RateLimit {
            until: header(&resp.headers, "retry-after")
                .and_then(|v| v.parse::<u64>().ok())
                .map(|secs| resp.received_at.saturating_add(secs.saturating_mul(1000))),
            message: said(format!("rate limited by {provider} (429)")),
        }),
        status => ProviderError::Upstream(UpstreamError {
            status,
            message: said(format!("{provider} answered HTTP {status}")),
        }),
    }
}

/// A host HTTP error in the contract's words. A pause (the integration is
/// rate limited) is `rate-limited` with its end, so the host reschedules
/// the work for after it; the rest are `other`, their kind named.
pub fn host_error(provider: &str, e: &HttpError) -> ProviderError {
    let message = match e {
        HttpError::Paused(p) => {
            return ProviderError::RateLimited(RateLimit {
                until: Some(p.until),
                message: p.reason.clone(),
            });
        }
        HttpError::Denied(why) => format!("request denied by the host: {why}"),
        HttpError::Timeout => format!("timeout: {provider} did not answer in time"),
        HttpError::Connect(why) => format!("could not connect to {provider}: {why}"),
        HttpError::TooLarge(cap) => {
            format!("{provider}'s answer was larger than the host's cap of {cap} bytes")
        }
        HttpError::Other(why) => format!("HTTP error: {why}"),
    };
    ProviderError::Other(message)
}

/// Parses a JSON body: UTF-8 checked once, then `serde_json::from_str`.
/// `from_slice` would check every string again, and a plugin that uses
/// both readers carries two copies of every deserializer (tens of KiB).
pub fn from_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(e) => Err(serde::de::Error::custom(format!("body is not UTF-8: {e}"))),
    }
}

/// Decodes a JSON body; failure is `invalid-response` naming the URL.
pub fn decode<T: DeserializeOwned>(
    provider: &str,
    url: &str,
    body: &[u8],
) -> Result<T, ProviderError> {
    from_body(body).map_err(|e| {
        ProviderError::InvalidResponse(format!(
            "{provider} answered {url} with unexpected JSON: {e}"
        ))
    })
}

/// GETs `url` and decodes its JSON, every failure read as above.
pub fn get_json<T: DeserializeOwned>(
    provider: &str,
    t: &impl Transport,
    url: &str,
) -> Result<T, ProviderError> {
    let resp = t
        .send(&get(url, true))
        .map_err(|e| host_error(provider, &e))?;
    if !(200..300).contains(&resp.status) {
        return Err(status_error(provider, &resp));
    }
    decode(provider, url, &resp.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::CacheState;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            cache_state: CacheState::Miss,
            received_at: 1_000,
        }
    }

    struct Canned(Response);

    impl Transport for Canned {
        fn send(&self, _: &Request) -> Result<Response, HttpError> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn statuses_become_the_contracts_errors_with_the_providers_words() {
        let e = status_error("Acme", &answer(401, &[], r#"{"message":"bad token"}"#));
        assert_eq!(e, ProviderError::Unauthorized("bad token".into()));
        let e = status_error("Acme", &answer(429, &[("Retry-After", "30")], ""));
        assert_eq!(
            e,
            ProviderError::RateLimited(RateLimit {
                until: Some(31_000),
                message: "rate limited by Acme (429)".into()
            })
        );
        let e = status_error("Acme", &answer(502, &[], "<html>bad gateway</html>"));
        assert_eq!(
            e,
            ProviderError::Upstream(UpstreamError {
                status: 502,
                message: "<html>bad gateway</html>".into()
            })
        );
        assert_eq!(error_message(b"{}"), None);
    }

    #[test]
    fn get_json_decodes_or_names_the_url() {
        let v: serde_json::Value = get_json(
            "Acme",
            &Canned(answer(200, &[], r#"{"a":1}"#)),
            "https://x/a",
        )
        .unwrap();
        assert_eq!(v["a"], 1);
        let e =
            get_json::<serde_json::Value>("Acme", &Canned(answer(200, &[], "nope")), "https://x/a")
                .unwrap_err();
        assert!(matches!(e, ProviderError::InvalidResponse(m) if m.contains("https://x/a")));
    }

    #[test]
    fn queries_are_encoded_and_absent_values_skipped() {
        assert_eq!(
            with_query(
                "/api/v2/pipeline?x=1",
                &[("branch", Some("feat/a b")), ("page-token", None)]
            ),
            "/api/v2/pipeline?x=1&branch=feat%2Fa%20b"
        );
        assert_eq!(
            header(&[("link".into(), " <a> ".into())], "Link"),
            Some("<a>")
        );
    }
}
