//! Requests to the CircleCI API and the translation of its answers into
//! the contract's errors.
//!
//! The plugin never sees the token: the host adds `Circle-Token` itself.

use serde::de::DeserializeOwned;

use crate::time::http_date_secs;
use crate::transport::Transport;
use crate::wit::{
    CallContext, HttpError, Method, ProviderError, RateLimit, Request, Response, UpstreamError,
};

/// A CircleCI API at one base URL, reached through a [`Transport`].
pub struct Api<'a> {
    transport: &'a dyn Transport,
    base: String,
}

impl<'a> Api<'a> {
    /// The API of the integration `ctx` describes.
    pub fn new(transport: &'a dyn Transport, ctx: &CallContext) -> Self {
        Api::at(transport, &ctx.base_url)
    }

    /// The API at `base_url` (`https://circleci.com` or a server install).
    pub fn at(transport: &'a dyn Transport, base_url: &str) -> Self {
        Api {
            transport,
            base: base_url.trim().trim_end_matches('/').to_string(),
        }
    }

    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A GET of `path` (starting with `/`), asking for JSON.
    pub fn get(&self, path: &str) -> Request {
        Request {
            method: Method::Get,
            url: format!("{}{}", self.base, path),
            // v1.1 answers in EDN unless asked for JSON.
            headers: vec![("Accept".into(), "application/json".into())],
            body: None,
            timeout_ms: None,
            conditional: false,
        }
    }

    /// A GET of `path` the host makes conditional: when it holds an earlier
    /// answer with a validator (`ETag`), an unchanged resource costs a 304
    /// and the host hands back its copy. Used where the same URL is read
    /// again and again (sync).
    pub fn get_conditional(&self, path: &str) -> Request {
        Request {
            conditional: true,
            ..self.get(path)
        }
    }

    /// Send one request; a non-2xx answer or a host error becomes the
    /// matching [`ProviderError`].
    pub fn send(&self, req: &Request) -> Result<Response, ProviderError> {
        let resp = self.transport.send(req).map_err(|e| host_error(&e))?;
        ok_or_error(resp)
    }

    /// Send one request and parse its 2xx body as `T`.
    pub fn send_json<T: DeserializeOwned>(&self, req: &Request) -> Result<T, ProviderError> {
        let resp = self.send(req)?;
        parse_json(&resp.body, &req.url)
    }

    /// Send several requests at once; answers in order.
    pub fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
        if reqs.is_empty() {
            return Vec::new();
        }
        let mut answers = self.transport.send_batch(reqs);
        // A host that answers short must not make us index out of bounds.
        answers.resize_with(reqs.len(), || {
            Err(HttpError::Other("no answer in batch".into()))
        });
        answers
    }
}

/// `Ok` for a 2xx answer, else the error the status means.
pub fn ok_or_error(resp: Response) -> Result<Response, ProviderError> {
    if (200..300).contains(&resp.status) {
        Ok(resp)
    } else {
        Err(status_error(&resp))
    }
}

/// Parse a JSON body; failure is an invalid response naming the URL.
pub fn parse_json<T: DeserializeOwned>(body: &[u8], url: &str) -> Result<T, ProviderError> {
    crate::items::from_body(body).map_err(|e| {
        ProviderError::InvalidResponse(format!("CircleCI answered {url} with unexpected JSON: {e}"))
    })
}

/// The error a non-2xx answer means.
pub fn status_error(resp: &Response) -> ProviderError {
    let message = error_message(&resp.body);
    match resp.status {
        401 => ProviderError::Unauthorized(
            message.unwrap_or_else(|| "CircleCI rejected the token (401)".into()),
        ),
        404 => ProviderError::NotFound(message.unwrap_or_else(|| "not found (404)".into())),
        // The host pauses on 429s itself (the descriptor's rule), so this
        // is met only when it let one through.
        429 => ProviderError::RateLimited(RateLimit {
            until: retry_after_ms(&resp.headers).map(|ms| resp.received_at.saturating_add(ms)),
            message: message.unwrap_or_else(|| "rate limited by CircleCI (429)".into()),
        }),
        status => ProviderError::Upstream(UpstreamError {
            status,
            message: message.unwrap_or_else(|| format!("CircleCI answered HTTP {status}")),
        }),
    }
}

/// CircleCI's own words from an error body: the `message` or `error` field
/// of a JSON object, else the text itself (a 429 may say `Rate limited.`).
/// None when there is nothing readable (empty body, `{}`).
pub fn error_message(body: &[u8]) -> Option<String> {
    if let Ok(serde_json::Value::Object(map)) = crate::items::from_body::<serde_json::Value>(body) {
        return ["message", "error"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    // Keep a proxy's HTML page from flooding the message.
    Some(text.chars().take(300).collect())
}

/// How long to wait, from `Retry-After` (seconds, or an HTTP date measured
/// against the answer's own `Date`, as the component has no clock), else
/// from a `RateLimit-Reset`/`X-RateLimit-Reset` seconds count.
pub fn retry_after_ms(headers: &[(String, String)]) -> Option<u64> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(value) = header("retry-after") {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(secs.saturating_mul(1000));
        }
        if let (Some(at), Some(now)) = (
            http_date_secs(value),
            header("date").and_then(http_date_secs),
        ) {
            return Some((at - now).max(0) as u64 * 1000);
        }
    }
    ["ratelimit-reset", "x-ratelimit-reset"]
        .iter()
        .filter_map(|name| header(name)?.parse::<u64>().ok())
        .find(|secs| *secs > 0)
        .map(|secs| secs.saturating_mul(1000))
}

/// A host HTTP error in the contract's words, CircleCI named (the kit's
/// reading: a pause is `rate-limited` with its end, the rest `other`).
pub fn host_error(e: &HttpError) -> ProviderError {
    buildsnap_pdk::json::host_error("CircleCI", e)
}

/// Query strings as every provider writes them (from the kit).
pub use buildsnap_pdk::json::{encode_component, with_query};

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            cache_state: crate::wit::CacheState::Miss,
            received_at: 1_000_000,
        }
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(br#"{"message":"Project not found"}"#).as_deref(),
            Some("Project not found")
        );
        assert_eq!(
            error_message(br#"{"error":"bad request"}"#).as_deref(),
            Some("bad request")
        );
        assert_eq!(
            error_message(b"Rate limited."),
            Some("Rate limited.".into())
        );
        assert_eq!(error_message(b"{}"), None);
        assert_eq!(error_message(b""), None);
    }

    #[test]
    fn statuses_map_to_errors() {
        assert_eq!(
            status_error(&resp(401, &[], r#"{"message":"You must log in first."}"#)),
            ProviderError::Unauthorized("You must log in first.".into())
        );
        assert_eq!(
            status_error(&resp(404, &[], r#"{"message":"Project not found"}"#)),
            ProviderError::NotFound("Project not found".into())
        );
        assert_eq!(
            status_error(&resp(429, &[("retry-after", "7")], "Rate limited.")),
            ProviderError::RateLimited(RateLimit {
                until: Some(1_007_000),
                message: "Rate limited.".into()
            })
        );
        match status_error(&resp(429, &[], "{}")) {
            ProviderError::RateLimited(r) => {
                assert_eq!(r.until, None);
                assert!(r.message.contains("429"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            status_error(&resp(502, &[], "<html>Bad gateway</html>")),
            ProviderError::Upstream(UpstreamError {
                status: 502,
                message: "<html>Bad gateway</html>".into()
            })
        );
    }

    #[test]
    fn retry_after_forms() {
        let h = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(retry_after_ms(&h(&[("retry-after", "30")])), Some(30_000));
        assert_eq!(
            retry_after_ms(&h(&[
                ("retry-after", "Sun, 06 Nov 1994 08:50:07 GMT"),
                ("date", "Sun, 06 Nov 1994 08:49:37 GMT")
            ])),
            Some(30_000)
        );
        // A date without the answer's own Date cannot be turned into a wait.
        assert_eq!(
            retry_after_ms(&h(&[("retry-after", "Sun, 06 Nov 1994 08:50:07 GMT")])),
            None
        );
        assert_eq!(
            retry_after_ms(&h(&[("x-ratelimit-reset", "12")])),
            Some(12_000)
        );
        assert_eq!(retry_after_ms(&h(&[])), None);
    }

    #[test]
    fn host_errors_are_named() {
        let msg = |e| match host_error(&e) {
            ProviderError::Other(m) => m,
            other => panic!("{other:?}"),
        };
        assert!(msg(HttpError::Timeout).contains("timeout"));
        assert!(msg(HttpError::Denied("origin not granted".into())).contains("denied"));
        assert!(msg(HttpError::Connect("dns".into())).contains("connect"));
        assert!(msg(HttpError::TooLarge(10)).contains("10 bytes"));
        let paused = host_error(&HttpError::Paused(crate::wit::Pause {
            until: 42,
            reason: "429 from circleci.com".into(),
        }));
        assert_eq!(
            paused,
            ProviderError::RateLimited(RateLimit {
                until: Some(42),
                message: "429 from circleci.com".into()
            })
        );
    }

    #[test]
    fn query_encoding() {
        assert_eq!(
            with_query("/p", &[("branch", Some("feat/x y")), ("page-token", None)]),
            "/p?branch=feat%2Fx%20y"
        );
        assert_eq!(
            with_query("/p", &[("a", Some("1")), ("b", Some("2"))]),
            "/p?a=1&b=2"
        );
    }
}
