//! Outbound HTTP on behalf of plugins: the allow-list, the auth header,
//! redirects, size and time caps, retries of 429/5xx, and the
//! integration's rate-limit pause (`pause.rs`).
//!
//! A plugin's request goes out only when its origin is declared by the
//! plugin (the integration's own origin counts as declared) and is either
//! the plugin's default origin or granted by the operator. Redirects are
//! followed here, not by the HTTP client, so that every hop is checked
//! again and the auth header is never carried to another origin.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::auth_header::scrub;
pub use super::auth_header::{AuthHeader, AuthHeaderError, AuthScheme};
use super::conditional::{CacheKey, ConditionalCache, Kept};
use super::limits::HttpLimits;
use super::origin::Origin;
use super::pause::{Pause, Pauses, declared_pause, rule_pause};
use super::url_rules::{UrlRefusal, parse_plugin_url};

mod message;
mod policy;
pub mod tape;

pub use message::{CacheState, OutError, OutRequest, OutResponse};
pub use policy::CallPolicy;
use policy::{forbidden_request_header, validators};

/// Time a request needs after a pause ends: a call whose deadline comes
/// sooner than that after the pause fails as rate-limited at once instead
/// of waiting to send a request it has no time left to finish.
const PAUSE_MARGIN: Duration = Duration::from_millis(500);

/// The shared HTTP client and limits. One per process.
pub struct Outbound {
    client: reqwest::Client,
    limits: HttpLimits,
    pauses: Pauses,
    conditional: ConditionalCache,
    /// Records or replays every exchange (`buildsnap plugin call`); `None`
    /// in the server.
    tape: Option<Arc<tape::Tape>>,
}

/// Per-call state of outbound HTTP: the policy, the deadline and the
/// request count. Cheap to clone into a batch of futures.
#[derive(Clone)]
pub struct CallHttp {
    /// The process's shared client and limits.
    pub outbound: Arc<Outbound>,
    /// What this call may reach.
    pub policy: Arc<CallPolicy>,
    /// When the call ends; every request's timeout is clamped to it.
    pub deadline: Instant,
    /// Requests sent so far in this call, against `max_requests_per_call`.
    pub sent: Arc<AtomicU32>,
    /// The integration's rate-limit pause, shared with its other calls.
    pub pause: Arc<Pause>,
}

impl Outbound {
    /// The client (no redirects followed, no proxies from the environment)
    /// under `limits`.
    pub fn new(limits: HttpLimits) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .user_agent(concat!("buildsnap/", env!("CARGO_PKG_VERSION")))
            // Never read proxies from the environment: a proxy would see
            // the auth header and could answer for any origin.
            .no_proxy()
            .build()?;
        Ok(Outbound {
            client,
            conditional: ConditionalCache::new(limits.conditional_cache_bytes),
            limits,
            pauses: Pauses::new(),
            tape: None,
        })
    }

    /// Every request is recorded on, or answered from, `tape`.
    pub fn with_tape(mut self, tape: Arc<tape::Tape>) -> Self {
        self.tape = Some(tape);
        self
    }

    /// The HTTP limits every plugin request runs under.
    pub fn limits(&self) -> &HttpLimits {
        &self.limits
    }

    /// Every integration's rate-limit pause.
    pub fn pauses(&self) -> &Pauses {
        &self.pauses
    }
}

impl CallHttp {
    /// Send one request: policy, redirects, retries, caps.
    pub async fn send(&self, req: OutRequest) -> Result<OutResponse, OutError> {
        let limits = &self.outbound.limits;
        if self.sent.fetch_add(1, Ordering::Relaxed) >= limits.max_requests_per_call {
            return Err(OutError::Denied(format!(
                "plugin `{}` exceeded {} requests in one call",
                self.policy.plugin, limits.max_requests_per_call
            )));
        }
        let mut url = parse_plugin_url(&req.url).map_err(|e| match e {
            UrlRefusal::DotSegment => OutError::Denied(format!("`{}`: {e}", req.url)),
            UrlRefusal::Invalid { .. } => OutError::Other(e.to_string()),
        })?;
        let mut method = req.method.clone();
        let mut body = req.body.clone();
        let key = self.conditional_key(&req, &url);
        let kept = key.as_ref().and_then(|k| self.outbound.conditional.get(k));
        let mut validators = kept.as_ref().map(validators).unwrap_or_default();
        for hop in 0..=limits.max_redirects {
            let origin = self.policy.check(&url)?;
            let response = self
                .send_with_retries(&req, &method, &url, &origin, body.as_deref(), &validators)
                .await?;
            let next = redirect_target(&url, &response);
            if hop == 0
                && next.is_none()
                && let Some(key) = key.clone()
            {
                return Ok(self.settle_conditional(key, kept, response));
            }
            // Validators belong to the URL they were kept for.
            validators.clear();
            if let Some(next) = next {
                // 303, and 301/302 after a POST, turn into a GET (RFC 9110).
                if response.status == 303
                    || (matches!(response.status, 301 | 302) && method == reqwest::Method::POST)
                {
                    method = reqwest::Method::GET;
                    body = None;
                }
                url = next;
                continue;
            }
            return Ok(response);
        }
        Err(OutError::Other(format!(
            "more than {} redirects",
            limits.max_redirects
        )))
    }

    /// Send several requests at once, answers in order.
    pub async fn send_batch(&self, reqs: Vec<OutRequest>) -> Vec<Result<OutResponse, OutError>> {
        let concurrency = self
            .outbound
            .limits
            .batch_concurrency
            .min(self.policy.max_concurrency)
            .max(1);
        futures::stream::iter(reqs)
            .map(|req| self.send(req))
            .buffered(concurrency)
            .collect()
            .await
    }

    /// The cache key of a conditional `GET` of `url`, when this call has
    /// a cache scope.
    fn conditional_key(&self, req: &OutRequest, url: &Url) -> Option<CacheKey> {
        if !req.conditional || req.method != reqwest::Method::GET {
            return None;
        }
        let scope = self.policy.cache_scope.clone()?;
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .filter(|(k, _)| !forbidden_request_header(k, self.policy.auth.as_ref()))
            .collect();
        headers.sort();
        Some(CacheKey {
            scope,
            url: url.to_string(),
            headers,
        })
    }

    /// A conditional request's answer: a 304 answered from the kept copy,
    /// a new 200 kept in place of the old one.
    fn settle_conditional(
        &self,
        key: CacheKey,
        kept: Option<Kept>,
        response: OutResponse,
    ) -> OutResponse {
        let cache = &self.outbound.conditional;
        match (response.status, kept) {
            (304, Some(kept)) => {
                // The 304's own headers (rate-limit counters, a new Date)
                // are current; the rest are the kept answer's.
                let mut headers = kept.headers;
                for (name, value) in response.headers {
                    match headers.iter_mut().find(|(k, _)| *k == name) {
                        Some(slot) => slot.1 = value,
                        None => headers.push((name, value)),
                    }
                }
                OutResponse {
                    status: 200,
                    headers,
                    body: kept.body,
                    cache: CacheState::Revalidated,
                    received_at: response.received_at,
                }
            }
            (200, kept) => {
                match Kept::of(&response.headers, &response.body, response.received_at) {
                    Some(new) => cache.put(key, new),
                    None => cache.remove(&key),
                }
                OutResponse {
                    cache: if kept.is_some() {
                        CacheState::Fresh
                    } else {
                        CacheState::Miss
                    },
                    ..response
                }
            }
            (_, _) => response,
        }
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    async fn send_with_retries(
        &self,
        req: &OutRequest,
        method: &reqwest::Method,
        url: &Url,
        origin: &Origin,
        body: Option<&[u8]>,
        validators: &[(HeaderName, HeaderValue)],
    ) -> Result<OutResponse, OutError> {
        let limits = &self.outbound.limits;
        let mut attempt = 1;
        loop {
            // Nothing of a paused integration is sent before the pause ends,
            // retries included.
            self.pause.wait(self.deadline, PAUSE_MARGIN).await?;
            let response = self
                .send_once(req, method, url, origin, body, validators)
                .await?;
            let now = SystemTime::now();
            // The provider's own signals first (GitHub's 403 with
            // `x-ratelimit-remaining: 0`), then the standard 429/503 ones.
            let by_rule = rule_pause(
                &self.policy.rate_limits,
                response.status,
                &response.headers,
                now,
            );
            let declared =
                by_rule.or_else(|| declared_pause(response.status, &response.headers, now));
            if let Some(wait) = declared {
                self.pause.extend(wait);
            }
            // A rate-limited answer is tried again once the pause is over
            // (when the call's deadline allows), like a 429.
            let retryable = by_rule.is_some()
                || response.status == 429
                || matches!(response.status, 500 | 502 | 503 | 504);
            if !retryable || attempt >= limits.max_attempts {
                return Ok(response);
            }
            let wait = declared
                .or_else(|| retry_after(&response.headers, now))
                .unwrap_or_else(|| limits.initial_backoff * 2u32.saturating_pow(attempt - 1));
            // Give up early rather than sleep past the call's deadline: the
            // plugin then sees the 429 and reports rate-limited with the
            // provider's retry-after, which the capture queue honours.
            if wait + Duration::from_millis(50) >= self.remaining() {
                return Ok(response);
            }
            tracing::debug!(plugin = %self.policy.plugin, status = response.status, ?wait, attempt, "retrying plugin request");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        req: &OutRequest,
        method: &reqwest::Method,
        url: &Url,
        origin: &Origin,
        body: Option<&[u8]>,
        validators: &[(HeaderName, HeaderValue)],
    ) -> Result<OutResponse, OutError> {
        let limits = &self.outbound.limits;
        let timeout = req
            .timeout
            .unwrap_or(limits.request_timeout)
            .min(limits.request_timeout)
            .min(self.remaining());
        if timeout.is_zero() {
            return Err(OutError::Timeout);
        }
        let auth = self.policy.auth.as_ref().filter(|a| &a.origin == origin);
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            let lower = name.to_ascii_lowercase();
            if forbidden_request_header(&lower, self.policy.auth.as_ref()) {
                continue;
            }
            let (Ok(n), Ok(v)) = (
                HeaderName::try_from(lower),
                HeaderValue::try_from(value.as_str()),
            ) else {
                return Err(OutError::Other(format!("invalid header `{name}`")));
            };
            headers.append(n, v);
        }
        if let Some(auth) = auth {
            headers.insert(auth.name.clone(), auth.value.clone());
        }
        for (name, value) in validators {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(answer) = self
            .outbound
            .tape
            .as_ref()
            .and_then(|t| t.answer(method.as_str(), url.as_str(), body))
        {
            return answer.map(replayed).map_err(|what| {
                OutError::Other(format!("replay: the recording has no answer for {what}"))
            });
        }
        let sent_headers: Vec<(String, String)> = match &self.outbound.tape {
            Some(_) => headers
                .iter()
                .filter(|(n, _)| auth.is_none_or(|a| *n != a.name))
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        let mut builder = self
            .outbound
            .client
            .request(method.clone(), url.clone())
            .headers(headers);
        if let Some(body) = body {
            builder = builder.body(body.to_vec());
        }
        let fut = async {
            let mut resp = builder.send().await.map_err(classify)?;
            let cap = limits.max_response_bytes;
            if resp.content_length().is_some_and(|n| n > cap) {
                return Err(OutError::TooLarge(cap));
            }
            let status = resp.status().as_u16();
            let mut headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(classify)? {
                if body.len() as u64 + chunk.len() as u64 > cap {
                    return Err(OutError::TooLarge(cap));
                }
                body.extend_from_slice(&chunk);
            }
            if let Some(auth) = &self.policy.auth {
                scrub(auth.token.expose().as_bytes(), &mut headers, &mut body);
            }
            Ok(OutResponse {
                status,
                headers,
                body,
                cache: CacheState::Miss,
                received_at: SystemTime::now(),
            })
        };
        let result = match tokio::time::timeout(timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(OutError::Timeout),
        };
        if let (Some(tape), Ok(answer)) = (&self.outbound.tape, &result) {
            let mut url = url.to_string();
            if let Some(auth) = &self.policy.auth {
                url = url.replace(auth.token.expose(), "[redacted]");
            }
            tape.keep(tape::Exchange {
                method: method.to_string(),
                url,
                request_headers: sent_headers,
                request_body: body.map(tape::Body::of),
                status: answer.status,
                headers: answer.headers.clone(),
                body: tape::Body::of(&answer.body),
            });
        }
        result
    }
}

/// A recorded exchange as the answer it stands for.
fn replayed(e: tape::Exchange) -> OutResponse {
    OutResponse {
        status: e.status,
        headers: e.headers,
        body: e.body.bytes(),
        cache: CacheState::Miss,
        received_at: SystemTime::now(),
    }
}

fn classify(err: reqwest::Error) -> OutError {
    if err.is_timeout() {
        OutError::Timeout
    } else if err.is_connect() {
        OutError::Connect(error_chain(&err))
    } else {
        OutError::Other(error_chain(&err))
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn redirect_target(current: &Url, response: &OutResponse) -> Option<Url> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = header(&response.headers, "location")?;
    current.join(location).ok()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &[(String, String)], now: SystemTime) -> Option<Duration> {
    delay_value(header(headers, "retry-after")?, now)
}

/// A delay header's value (`Retry-After`'s form: seconds or an HTTP date)
/// as the wait from `now`.
pub fn delay_value(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::origin::AllowList;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let h = |v: &str| vec![("Retry-After".to_string(), v.to_string())];
        assert_eq!(retry_after(&h("7"), now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(retry_after(&h(&date), now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(&h("soon"), now), None);
        assert_eq!(retry_after(&[], now), None);
    }

    fn policy(grants: &str) -> CallPolicy {
        CallPolicy {
            plugin: "p".into(),
            declared: vec![
                Origin::parse("https://circleci.com").unwrap(),
                Origin::parse("http://127.0.0.1:8000").unwrap(),
            ],
            granted_default: Some(Origin::parse("https://circleci.com").unwrap()),
            grants: Arc::new(AllowList::parse(grants).unwrap()),
            auth: None,
            rate_limits: Arc::from(Vec::new()),
            max_concurrency: 8,
            cache_scope: None,
        }
    }

    #[test]
    fn policy_needs_declared_and_granted() {
        let url = |s: &str| Url::parse(s).unwrap();
        let p = policy("");
        assert!(p.check(&url("https://circleci.com/api/v2/me")).is_ok());
        let err = p.check(&url("http://127.0.0.1:8000/x")).unwrap_err();
        assert!(
            err.to_string()
                .contains("BUILDSNAP_ALLOW_HOSTS=http://127.0.0.1:8000"),
            "{err}"
        );
        assert!(
            policy("http://127.0.0.1:*")
                .check(&url("http://127.0.0.1:8000/x"))
                .is_ok()
        );
        // Granted by the operator but never declared by the plugin.
        let err = policy("http://127.0.0.1:*")
            .check(&url("http://127.0.0.1:9000/x"))
            .unwrap_err();
        assert!(err.to_string().contains("did not declare"), "{err}");
        assert!(p.check(&url("file:///etc/passwd")).is_err());
        // Credentials in a URL (a plugin's or a redirect's) would go out as
        // Basic auth: refused, and not echoed.
        let err = p
            .check(&url("https://user:hunter2@circleci.com/api/v2/me"))
            .unwrap_err();
        assert!(matches!(err, OutError::Denied(_)), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
