//! HTTP front: accepts connections, applies faults, logs, dispatches.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::faults::{Fault, RateLimitBody};
use crate::log::Arrival;
use crate::routes::{self, ApiResponse};
use crate::state::Shared;
use crate::{admin, auth};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A second handle on a connection's socket, taken by a `reset` fault to
/// set `SO_LINGER` to zero, so that the close hyper makes when the request
/// fails is a TCP RST instead of an orderly FIN.
type ResetHandle = Arc<std::sync::Mutex<Option<std::net::TcpStream>>>;

/// Splits a second handle off an accepted connection (a `dup` of its
/// socket; linger is a property of the socket, shared by both).
fn with_reset_handle(
    stream: tokio::net::TcpStream,
) -> std::io::Result<(tokio::net::TcpStream, ResetHandle)> {
    let std = stream.into_std()?;
    let dup = std.try_clone()?;
    let stream = tokio::net::TcpStream::from_std(std)?;
    Ok((stream, Arc::new(std::sync::Mutex::new(Some(dup)))))
}

/// Accept loop; returns when `shutdown` flips to true.
pub async fn serve(listener: TcpListener, sh: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let Ok((stream, reset)) = with_reset_handle(stream) else { continue };
                let sh = sh.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| handle(sh.clone(), req, reset.clone()));
                    // Errors here are clients hanging up or deliberate hang faults.
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    // Hung requests would otherwise keep the runtime busy forever.
    conns.abort_all();
}

async fn handle(
    sh: Arc<Shared>,
    req: Request<Incoming>,
    reset: ResetHandle,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    if path.starts_with("/_sim/") || path == "/_sim" {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let r = admin::handle(&sh, &method, &path, query.as_deref(), &body);
        return Ok(to_response(r, None));
    }
    let token = auth::extract(req.headers(), query.as_deref(), sh.allow_query_token);
    let principal = token
        .as_ref()
        .and_then(|(t, _)| sh.index.tokens.get(t).copied());
    let seq = sh.log.begin(Arrival {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        route: routes::template(&path),
        sim_time: sh.clock.now(),
        client: token.as_ref().map(|(t, _)| auth::fingerprint(t)),
        auth: token.as_ref().map(|(_, f)| *f),
    });
    let decision = sh.faults.decide(&method, &path);
    if let Some(f) = &decision.fault {
        sh.log.note_fault(seq, f.label());
    } else if !decision.delay.is_zero() {
        sh.log.note_fault(seq, "latency");
    }
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let (resp, retry_after) = match decision.fault {
        None => (
            routes::handle(&sh, &method, &path, query.as_deref(), principal),
            None,
        ),
        Some(Fault::Latency { .. }) => unreachable!("latency is folded into the delay"),
        Some(Fault::RateLimit {
            retry_after_secs,
            body,
            http_date,
        }) => {
            return Ok(rate_limited(&sh, seq, retry_after_secs, body, http_date));
        }
        Some(Fault::ServerError { status, body }) => (server_error(status, body), None),
        Some(Fault::Hang { ms }) => {
            match ms {
                Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                None => std::future::pending::<()>().await,
            }
            // Returning an error makes hyper drop the connection without a response.
            return Err("hang fault: closing without a response".into());
        }
        Some(Fault::Reset) => {
            if let Some(dup) = reset.lock().unwrap().take() {
                let _ = socket2::SockRef::from(&dup).set_linger(Some(Duration::ZERO));
            }
            return Err("reset fault: closing with a TCP RST".into());
        }
        Some(Fault::Truncated) => {
            let mut r = routes::handle(&sh, &method, &path, query.as_deref(), principal);
            r.body.truncate(r.body.len() / 2);
            (r, None)
        }
        Some(Fault::Malformed) => {
            let mut r = routes::handle(&sh, &method, &path, query.as_deref(), principal);
            if let Some(last) = r.body.pop() {
                r.body.extend_from_slice(b",");
                r.body.push(last);
            }
            (r, None)
        }
    };
    sh.log.finish(seq, resp.status, retry_after);
    Ok(to_response(resp, None))
}

fn rate_limited(
    sh: &Shared,
    seq: u64,
    secs: u64,
    body: RateLimitBody,
    http_date: bool,
) -> Response<Full<Bytes>> {
    let resp = match body {
        RateLimitBody::Json => ApiResponse::message(429, "Rate limit exceeded."),
        RateLimitBody::EmptyObject => ApiResponse {
            status: 429,
            body: b"{}".to_vec(),
            content_type: "application/json",
        },
        RateLimitBody::PlainText => ApiResponse {
            status: 429,
            body: b"Rate limited.".to_vec(),
            content_type: "text/plain",
        },
    };
    let value = if http_date {
        // An HTTP-date has one-second resolution; round up so waiting until it is enough.
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(secs + 1))
    } else {
        secs.to_string()
    };
    let retry_after = if http_date { secs + 1 } else { secs };
    sh.log.finish(seq, 429, Some(retry_after));
    to_response(resp, Some(value))
}

fn server_error(status: u16, body: Option<String>) -> ApiResponse {
    match body {
        Some(b) => {
            let ct = if b.trim_start().starts_with(['{', '[']) {
                "application/json"
            } else {
                "text/plain"
            };
            ApiResponse {
                status,
                body: b.into_bytes(),
                content_type: ct,
            }
        }
        // Load balancers answer 502-504 with HTML, the API itself with JSON.
        None if (502..=504).contains(&status) => ApiResponse {
            status,
            body: format!(
                "<html><body><h1>{status} {}</h1></body></html>",
                hyper::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Error")
            )
            .into_bytes(),
            content_type: "text/html",
        },
        None => ApiResponse::message(status, "Internal Server Error"),
    }
}

fn to_response(r: ApiResponse, retry_after: Option<String>) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(r.status)
        .header("content-type", r.content_type);
    if let Some(v) = retry_after {
        b = b
            .header("retry-after", v)
            .header("x-ratelimit-remaining", "0");
    }
    b.body(Full::new(Bytes::from(r.body)))
        .expect("valid response")
}
