//! Requests to GitHub's REST API and what their answers mean.
//!
//! Every request carries GitHub's media type and the API version the plugin
//! is written for (`X-GitHub-Api-Version: 2022-11-28`); the host adds the
//! token (`Authorization: Bearer`). Answers become typed values or a
//! [`ProviderError`] in words the host acts on.

use serde::de::DeserializeOwned;

use crate::model::ErrorBody;
use crate::transport::Transport;
use crate::wit::{
    CallContext, HttpError, Method, ProviderError, RateLimit, Request, Response, UpstreamError,
};

/// The REST API version the plugin's mapping is written against.
pub const API_VERSION: &str = "2022-11-28";

/// GitHub's wait for a secondary limit that names no `retry-after`: "at
/// least one minute".
pub const SECONDARY_WAIT_MS: u64 = 60_000;

/// A transport and the call it works for.
pub struct Client<'a> {
    /// Where requests go.
    pub transport: &'a dyn Transport,
    /// The call's context (base URL, the host's clock).
    pub ctx: &'a CallContext,
}

impl<'a> Client<'a> {
    /// A client for one call.
    pub fn new(transport: &'a dyn Transport, ctx: &'a CallContext) -> Self {
        Client { transport, ctx }
    }

    /// The absolute URL of an API path (`/repos/...`).
    pub fn url(&self, path_and_query: &str) -> String {
        let mut url = self.ctx.base_url.trim_end_matches('/').to_owned();
        url.push_str(path_and_query);
        url
    }

    /// A `GET` of an absolute URL; `conditional` asks the host to revalidate
    /// its kept copy (a 304 costs no rate limit on GitHub).
    pub fn get(&self, url: String, conditional: bool) -> Request {
        Request {
            method: Method::Get,
            url,
            headers: vec![
                ("accept".into(), "application/vnd.github+json".into()),
                ("x-github-api-version".into(), API_VERSION.into()),
                ("user-agent".into(), "buildsnap-github-actions".into()),
            ],
            body: None,
            timeout_ms: None,
            conditional,
        }
    }

    /// Send one request; a non-2xx answer is an error.
    pub fn send(&self, req: &Request) -> Result<Response, ProviderError> {
        let resp = self.transport.send(req).map_err(http_error)?;
        check(self.ctx, resp)
    }

    /// `GET` a URL and decode its JSON.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        url: String,
        conditional: bool,
    ) -> Result<(T, Response), ProviderError> {
        let resp = self.send(&self.get(url, conditional))?;
        let value = decode(&resp)?;
        Ok((value, resp))
    }
}

/// A host HTTP error in the contract's words. A pause is the host's rate
/// limit: pass its `until` on so the host reschedules after it.
pub fn http_error(e: HttpError) -> ProviderError {
    match e {
        HttpError::Paused(p) => ProviderError::RateLimited(RateLimit {
            until: Some(p.until),
            message: p.reason,
        }),
        HttpError::Timeout => ProviderError::Other("GitHub did not answer in time".into()),
        HttpError::Connect(m) => ProviderError::Other(format!("could not reach GitHub: {m}")),
        HttpError::Denied(m) => ProviderError::Other(m),
        HttpError::TooLarge(n) => {
            ProviderError::InvalidResponse(format!("GitHub's answer was over {n} bytes"))
        }
        HttpError::Other(m) => ProviderError::Other(m),
    }
}

/// The first value of a header (names are lower-case in answers).
pub fn header<'r>(resp: &'r Response, name: &str) -> Option<&'r str> {
    resp.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// GitHub's `message`, or a summary of a body that has none.
pub fn message(resp: &Response) -> String {
    let text = String::from_utf8_lossy(&resp.body);
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(ErrorBody { message: Some(m) }) => m,
        _ => {
            let excerpt: String = text.chars().take(200).collect();
            format!("HTTP {}: {excerpt}", resp.status)
        }
    }
}

/// A 2xx answer as is; any other as the error it means.
pub fn check(ctx: &CallContext, resp: Response) -> Result<Response, ProviderError> {
    match resp.status {
        200..=299 => Ok(resp),
        401 => Err(ProviderError::Unauthorized(message(&resp))),
        403 | 429 => Err(limit_or_forbidden(ctx, &resp)),
        404 => Err(ProviderError::NotFound(message(&resp))),
        status => Err(ProviderError::Upstream(UpstreamError {
            status,
            message: message(&resp),
        })),
    }
}

/// A 403 or 429 that the host's rules let through: a limit GitHub only
/// names in the body (a secondary limit without `retry-after`, which GitHub
/// asks to wait at least a minute for), a primary limit the host did not
/// pause on, or a plain refusal (a fine-grained token without
/// `Actions: read`).
fn limit_or_forbidden(ctx: &CallContext, resp: &Response) -> ProviderError {
    let msg = message(resp);
    let base = resp.received_at.max(ctx.now);
    let until = if header(resp, "x-ratelimit-remaining") == Some("0") {
        header(resp, "x-ratelimit-reset")
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(base + SECONDARY_WAIT_MS, |s| s.saturating_mul(1000))
    } else if let Some(secs) = header(resp, "retry-after").and_then(|s| s.parse::<u64>().ok()) {
        base + secs.saturating_mul(1000)
    } else if msg.to_ascii_lowercase().contains("rate limit") || resp.status == 429 {
        base + SECONDARY_WAIT_MS
    } else {
        return ProviderError::Upstream(UpstreamError {
            status: resp.status,
            message: msg,
        });
    };
    ProviderError::RateLimited(RateLimit {
        until: Some(until),
        message: msg,
    })
}

/// Decode a JSON body, saying what was wrong with it.
pub fn decode<T: DeserializeOwned>(resp: &Response) -> Result<T, ProviderError> {
    let text = std::str::from_utf8(&resp.body).map_err(|e| {
        ProviderError::InvalidResponse(format!("GitHub's answer is not UTF-8: {e}"))
    })?;
    serde_json::from_str(text)
        .map_err(|e| ProviderError::InvalidResponse(format!("unexpected answer from GitHub: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::{CacheState, Pause};

    fn ctx() -> CallContext {
        CallContext {
            now: 1_000_000,
            base_url: "https://api.github.com/".into(),
            settings: vec![],
        }
    }

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            body: body.as_bytes().to_vec(),
            cache_state: CacheState::Miss,
            received_at: 1_000_500,
        }
    }

    fn until(e: ProviderError) -> u64 {
        match e {
            ProviderError::RateLimited(r) => r.until.expect("until"),
            other => panic!("not rate-limited: {other:?}"),
        }
    }

    #[test]
    fn requests_name_the_api_version_and_never_the_token() {
        struct Never;
        impl Transport for Never {
            fn send(&self, _: &Request) -> Result<Response, HttpError> {
                unreachable!()
            }
            fn send_batch(&self, _: &[Request]) -> Vec<Result<Response, HttpError>> {
                unreachable!()
            }
        }
        let c = ctx();
        let client = Client::new(&Never, &c);
        let req = client.get(client.url("/user"), false);
        assert_eq!(req.url, "https://api.github.com/user");
        assert!(
            req.headers
                .contains(&("x-github-api-version".into(), "2022-11-28".into()))
        );
        assert!(!req.headers.iter().any(|(k, _)| k == "authorization"));
    }

    #[test]
    fn bad_credentials_keep_githubs_message() {
        let r = resp(401, &[], r#"{"message":"Bad credentials","status":"401"}"#);
        assert_eq!(
            check(&ctx(), r),
            Err(ProviderError::Unauthorized("Bad credentials".into()))
        );
    }

    #[test]
    fn a_primary_limit_waits_for_the_reset() {
        let r = resp(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "2000"),
            ],
            r#"{"message":"API rate limit exceeded for user ID 1."}"#,
        );
        assert_eq!(until(check(&ctx(), r).unwrap_err()), 2_000_000);
    }

    #[test]
    fn a_secondary_limit_waits_retry_after_or_a_minute() {
        let r = resp(429, &[("retry-after", "30")], r#"{"message":"x"}"#);
        assert_eq!(until(check(&ctx(), r).unwrap_err()), 1_000_500 + 30_000);
        let r = resp(
            403,
            &[],
            r#"{"message":"You have exceeded a secondary rate limit. Please wait."}"#,
        );
        assert_eq!(until(check(&ctx(), r).unwrap_err()), 1_000_500 + 60_000);
    }

    #[test]
    fn a_plain_403_is_upstream_with_its_message() {
        let r = resp(
            403,
            &[],
            r#"{"message":"Resource not accessible by personal access token"}"#,
        );
        assert_eq!(
            check(&ctx(), r),
            Err(ProviderError::Upstream(UpstreamError {
                status: 403,
                message: "Resource not accessible by personal access token".into()
            }))
        );
    }

    #[test]
    fn other_answers() {
        let r = resp(404, &[], r#"{"message":"Not Found"}"#);
        assert_eq!(
            check(&ctx(), r),
            Err(ProviderError::NotFound("Not Found".into()))
        );
        let r = resp(502, &[], "<html>bad gateway</html>");
        assert_eq!(
            check(&ctx(), r),
            Err(ProviderError::Upstream(UpstreamError {
                status: 502,
                message: "HTTP 502: <html>bad gateway</html>".into()
            }))
        );
        let r = resp(200, &[], "{");
        assert!(matches!(
            decode::<crate::model::User>(&r),
            Err(ProviderError::InvalidResponse(_))
        ));
    }

    #[test]
    fn a_host_pause_is_passed_on() {
        let e = http_error(HttpError::Paused(Pause {
            until: 42,
            reason: "rule 1: 403".into(),
        }));
        assert_eq!(until(e), 42);
    }
}
