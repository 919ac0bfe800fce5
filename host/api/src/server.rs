//! The application: wiring (builder) and the per-request pipeline (request
//! id, body limit and deadline, authentication, dispatch, metrics, logs).
//! The accept loop is in `conn.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use buildsnap_metrics::Metrics;
use buildsnap_services::HostServices;
use buildsnap_store::Store;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body;
use hyper::header::{ALLOW, CONTENT_LENGTH, EXPECT, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use tracing::Instrument;

use crate::admission::{Admission, DEFAULT_MAX_CONNECTIONS};
use crate::body::{self, BodyError};
use crate::errors::ApiError;
use crate::router::{self, Match, RouteId};
use crate::routes::{self, Resp};
use crate::state::{AppState, Req};

/// Largest accepted request body (contract: larger → 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Header carrying the request id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Why [`AppBuilder::build`] failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A required part was not given.
    #[error("App::builder() needs .{0}(...)")]
    Missing(&'static str),
}

/// Builds an [`App`].
#[derive(Default)]
pub struct AppBuilder {
    store: Option<Store>,
    services: Option<Arc<dyn HostServices>>,
    metrics: Option<Arc<Metrics>>,
    shutdown_timeout: Option<Duration>,
    max_connections: Option<usize>,
    body_timeout: Option<Duration>,
    header_timeout: Option<Duration>,
}

impl AppBuilder {
    /// The store (required).
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// The host's services: providers, validation, and the deploy,
    /// integration and webhook events (required).
    pub fn services(mut self, services: Arc<dyn HostServices>) -> Self {
        self.services = Some(services);
        self
    }

    /// Metrics shared with the host's workers (default: a fresh set).
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// How long [`App::serve`] waits, after the shutdown signal, for in-flight
    /// requests to finish before dropping connections (default 30 s). Longer
    /// lets slow provider validations finish; shorter stops faster.
    pub fn shutdown_timeout(mut self, t: Duration) -> Self {
        self.shutdown_timeout = Some(t);
        self
    }

    /// Most connections served at once (default 512, below a typical 1024
    /// file descriptor limit). Past it a small overflow lane answers
    /// `/healthz` and refuses the rest with 503 `overloaded`.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// How long a request's whole body may take to arrive once its headers
    /// have (default 30 s; then 408 `body_timeout` and the connection
    /// closes). A client trickling a body otherwise holds its connection
    /// for ever.
    pub fn body_timeout(mut self, t: Duration) -> Self {
        self.body_timeout = Some(t);
        self
    }

    /// How long a request's headers may take to arrive, counted from the
    /// connection's start or the end of its previous answer (default 30 s).
    pub fn header_timeout(mut self, t: Duration) -> Self {
        self.header_timeout = Some(t);
        self
    }

    /// The app.
    pub fn build(self) -> Result<App, BuildError> {
        Ok(App {
            state: Arc::new(AppState {
                store: self.store.ok_or(BuildError::Missing("store"))?,
                services: self.services.ok_or(BuildError::Missing("services"))?,
                metrics: self.metrics.unwrap_or_default(),
            }),
            shutdown_timeout: self.shutdown_timeout.unwrap_or(Duration::from_secs(30)),
            admission: Admission::new(self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS)),
            body_timeout: self.body_timeout.unwrap_or(Duration::from_secs(30)),
            header_timeout: self.header_timeout.unwrap_or(Duration::from_secs(30)),
        })
    }
}

/// The HTTP API v1 service.
#[derive(Clone)]
pub struct App {
    pub(crate) state: Arc<AppState>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) admission: Admission,
    pub(crate) body_timeout: Duration,
    pub(crate) header_timeout: Duration,
}

/// A new request id: 32 hex digits, a random per-process half and a
/// counter. Uniqueness, not secrecy, matters here, so one `getrandom` at
/// start replaces one per request (a syscall on every request).
fn new_request_id() -> String {
    static PROCESS: LazyLock<u64> = LazyLock::new(|| {
        let mut b = [0u8; 8];
        if getrandom::getrandom(&mut b).is_err() {
            let n = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            b = (n as u64).to_le_bytes();
        }
        u64::from_le_bytes(b)
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:016x}{:016x}",
        *PROCESS,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A client-supplied request id is kept when it is short and plain (so it can
/// be logged and echoed safely); otherwise a new one is made.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
        })
        .map(str::to_string)
        .unwrap_or_else(new_request_id)
}

/// The answer to a HEAD: the GET answer's status and headers, its
/// `Content-Length` the length the body would have had, no body.
fn without_body(resp: Resp) -> Resp {
    let (mut parts, body) = resp.into_parts();
    let len = body.size_hint().exact().unwrap_or(0);
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// Routes that read a request body. Any other route answers without
/// waiting for one (a body sent anyway is left unread and the connection
/// closed after the answer), so a trickled body cannot hold it.
fn takes_body(r: RouteId) -> bool {
    matches!(
        r,
        RouteId::CreateOrg
            | RouteId::CreateToken
            | RouteId::PutIntegration
            | RouteId::PutDefaultBuildServer
            | RouteId::CreateProject
            | RouteId::CreateCodeDeployment
            | RouteId::RegisterDeploy
            | RouteId::CreateAlertHook
            | RouteId::Webhook
    )
}

fn requires_token(r: RouteId) -> bool {
    !matches!(
        r,
        RouteId::Healthz | RouteId::Readyz | RouteId::Metrics | RouteId::OpenApi | RouteId::Webhook
    ) && !r.is_web_page()
}

impl App {
    /// Starts building an app.
    pub fn builder() -> AppBuilder {
        AppBuilder::default()
    }

    /// The metrics this app records into.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    /// Answers one request (any body type; [`App::serve`] feeds hyper's).
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let rid = request_id(req.headers());
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let matched = router::route(&method, &path);
        let template = match &matched {
            Match::Found { template, .. } => *template,
            _ => "(unmatched)",
        };
        let span =
            tracing::info_span!("request", request_id = %rid, method = %method, route = template);
        self.state.metrics.in_flight_add(1);
        let mut resp = async {
            let resp = match self.run(matched, req).await {
                Ok(r) => r,
                Err(e) => routes::error_response(&e),
            };
            let status = resp.status().as_u16();
            if status >= 500 {
                tracing::warn!(status, path = %path, elapsed_ms = started.elapsed().as_millis() as u64, "request failed");
            } else {
                tracing::info!(status, path = %path, elapsed_ms = started.elapsed().as_millis() as u64, "request");
            }
            resp
        }
        .instrument(span)
        .await;
        self.state.metrics.in_flight_add(-1);
        self.state.metrics.record_request(
            template,
            router::method_label(&method),
            resp.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
        if let Ok(v) = HeaderValue::from_str(&rid) {
            resp.headers_mut().insert(REQUEST_ID_HEADER, v);
        }
        if method == Method::HEAD {
            resp = without_body(resp);
        }
        resp
    }

    async fn run<B>(&self, matched: Match, req: Request<B>) -> Result<Resp, ApiError>
    where
        B: Body + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (route, params) = match matched {
            Match::Found { route, params, .. } => (route, params),
            Match::MethodNotAllowed { allow } => {
                let mut r = routes::error_response(&ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!(
                        "use one of: {}",
                        allow
                            .iter()
                            .map(Method::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                let allow = allow
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    r.headers_mut().insert(ALLOW, v);
                }
                return Ok(r);
            }
            Match::NotFound => {
                return Err(ApiError::not_found(
                    "not_found",
                    "no such route; GET /api/v1/openapi.json lists them",
                ));
            }
        };
        let (parts, body) = req.into_parts();
        let deadline = tokio::time::Instant::now() + self.body_timeout;
        // A declared oversize body is refused before anything else is done
        // with the request; it is read and discarded first (within bounds)
        // so that the client, still sending, reads the 413 (body.rs). A
        // client waiting on `100-continue` has sent nothing to drain.
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(n) = declared.filter(|n| *n > MAX_BODY_BYTES as u64) {
            let expects_continue = parts
                .headers
                .get(EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            if takes_body(route) && n <= body::DRAIN_MAX_BYTES && !expects_continue {
                let _ = body::read(body, 0, deadline).await;
            }
            return Err(ApiError::too_large());
        }
        let principal = if requires_token(route) {
            let token = crate::auth::bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
            // Known tokens are answered from memory; others need the database.
            match self.state.store.authenticate_cached(token) {
                Some(p) => Some(p),
                None => {
                    let token = token.to_string();
                    let p = routes::db(&self.state, move |s| s.authenticate(&token)).await?;
                    Some(p.ok_or_else(ApiError::unauthorized)?)
                }
            }
        } else {
            None
        };
        let body = if takes_body(route) {
            match body::read(body, MAX_BODY_BYTES, deadline).await {
                Ok(b) => b,
                Err(BodyError::TooLarge) => return Err(ApiError::too_large()),
                Err(BodyError::Timeout) => {
                    return Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "body_timeout",
                        format!(
                            "the request body did not arrive within {} s",
                            self.body_timeout.as_secs_f64()
                        ),
                    ));
                }
                Err(BodyError::Read(e)) => {
                    return Err(ApiError::bad_request(
                        "invalid_body",
                        format!("could not read the request body: {e}"),
                    ));
                }
            }
        } else {
            drop(body);
            Bytes::new()
        };
        let req = Req {
            params,
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
            principal,
        };
        routes::dispatch(&self.state, route, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_post_and_put_routes_take_a_body() {
        for (m, template, r) in router::ROUTES {
            assert_eq!(
                takes_body(*r),
                *m == Method::POST || *m == Method::PUT,
                "{m} {template}"
            );
        }
    }
}
