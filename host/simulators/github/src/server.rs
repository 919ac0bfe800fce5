//! HTTP front: accepts connections; applies the Enterprise prefix, API versions, auth,
//! faults, the primary rate limit and conditional requests; logs; adds common headers.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::conditional::{etag, http_date, is_not_modified};
use crate::faults::Fault;
use crate::log::{Arrival, Limited, Outcome};
use crate::ratelimit::Budget;
use crate::routes::{self, ApiResponse, DOCS_ROOT, Req};
use crate::state::Shared;
use crate::{admin, auth};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A duplicate of the connection's socket, kept so a reset fault can set SO_LINGER 0.
type Socket = Arc<Mutex<Option<OwnedFd>>>;

const RATE_LIMIT_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
const SECONDARY_DOCS: &str = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

/// Accept loop; returns when `shutdown` flips to true.
pub async fn serve(listener: TcpListener, sh: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let socket: Socket = Arc::new(Mutex::new(stream.as_fd().try_clone_to_owned().ok()));
                let sh = sh.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| handle(sh.clone(), req, socket.clone()));
                    // Errors here are clients hanging up or deliberate hang/reset faults.
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

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The path the routes see: without `/api/v3` in Enterprise mode; `None` when an
/// Enterprise request lacks the prefix.
fn api_path<'p>(sh: &Shared, path: &'p str) -> Option<&'p str> {
    if !sh.enterprise {
        return Some(path);
    }
    match path.strip_prefix("/api/v3") {
        Some("") => Some("/"),
        Some(p) if p.starts_with('/') => Some(p),
        _ => None,
    }
}

async fn handle(
    sh: Arc<Shared>,
    req: Request<Incoming>,
    socket: Socket,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    if path == "/_sim" || path.starts_with("/_sim/") {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let r = admin::handle(&sh, &method, &path, &body);
        return Ok(to_response(r.status, r.body, r.headers, true));
    }
    let headers = req.headers().clone();
    let inner = api_path(&sh, &path);
    let token = auth::bearer(&headers);
    let account = token
        .as_deref()
        .and_then(|t| sh.index.tokens.get(t).copied());
    let conditional =
        headers.contains_key("if-none-match") || headers.contains_key("if-modified-since");
    let seq = sh.log.begin(Arrival {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        route: inner.map_or_else(|| path.clone(), routes::template),
        sim_time: sh.clock.now(),
        client: token.as_deref().map(auth::fingerprint),
        conditional,
    });
    let key = account.map_or_else(String::new, |a| {
        sh.scenario.accounts[a].login.to_ascii_lowercase()
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
    let version = header(&headers, "x-github-api-version").map(str::to_owned);
    let selected = version
        .clone()
        .unwrap_or_else(|| sh.api_versions[0].clone());
    let mut common = vec![
        ("x-github-api-version-selected", selected),
        ("x-github-media-type", "github.v3; format=json".to_owned()),
        ("x-github-request-id", format!("5151:{seq:X}:SIM")),
    ];
    let finish = |status: u16,
                  body: Vec<u8>,
                  mut extra: Vec<(&'static str, String)>,
                  budget: Budget,
                  o: Outcome| {
        sh.log.finish(seq, Outcome { status, ..o });
        if !body.is_empty() && !extra.iter().any(|(k, _)| *k == "content-type") {
            extra.push(("content-type", "application/json; charset=utf-8".to_owned()));
        }
        extra.extend(budget.headers());
        to_response(status, body, extra, false)
    };
    match decision.fault {
        Some(Fault::Hang { ms }) => {
            match ms {
                Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                None => std::future::pending::<()>().await,
            }
            // An error makes hyper drop the connection without a response.
            return Err("hang fault: closing without a response".into());
        }
        Some(Fault::Reset) => {
            if let Some(fd) = socket.lock().unwrap().take() {
                // Linger 0 turns the close hyper does next into a RST.
                let _ = socket2::SockRef::from(&fd).set_linger(Some(Duration::ZERO));
            }
            return Err("reset fault: resetting the connection".into());
        }
        Some(Fault::SecondaryRateLimit {
            status,
            retry_after_secs,
        }) => {
            let r = ApiResponse::error(
                status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 5151:SIM.",
                SECONDARY_DOCS,
            );
            if let Some(s) = retry_after_secs {
                common.push(("retry-after", s.to_string()));
            }
            let o = Outcome {
                limited: Some(Limited::Secondary),
                retry_after: retry_after_secs,
                ..Outcome::default()
            };
            return Ok(finish(status, r.body, common, sh.limiter.peek(&key), o));
        }
        Some(Fault::ServerError { status, body }) => {
            let (body, ct) = server_error(status, body);
            common.push(("content-type", ct.to_owned()));
            return Ok(finish(
                status,
                body,
                common,
                sh.limiter.peek(&key),
                Outcome::default(),
            ));
        }
        _ => {}
    }
    let budget = sh.limiter.peek(&key);
    if budget.exhausted() {
        let status = sh.limiter.config().exhausted_status;
        let message = match account {
            Some(a) => format!("API rate limit exceeded for user ID {}.", sh.scenario.accounts[a].id),
            None => "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)".to_owned(),
        };
        let r = ApiResponse::error(status, &message, RATE_LIMIT_DOCS);
        let o = Outcome {
            limited: Some(Limited::Primary),
            reset: Some(budget.reset),
            ..Outcome::default()
        };
        return Ok(finish(status, r.body, common, budget, o));
    }
    let mut resp = match (inner, version) {
        (None, _) => ApiResponse::not_found(DOCS_ROOT),
        (_, Some(v)) if !sh.api_versions.contains(&v) => unsupported_version(&sh, &v),
        _ if token.is_some() && account.is_none() => {
            ApiResponse::error(401, "Bad credentials", DOCS_ROOT)
        }
        (Some(p), _) => {
            let req = Req {
                sh: &sh,
                path: p,
                query: query.as_deref(),
                user: account,
                now: sh.clock.now(),
            };
            routes::handle(&req, &method)
        }
    };
    if resp.status == 200 {
        let tag = etag(&resp.body);
        let hit = is_not_modified(
            header(&headers, "if-none-match"),
            header(&headers, "if-modified-since"),
            &tag,
            resp.last_modified,
        );
        common.push(("etag", tag));
        if let Some(lm) = resp.last_modified {
            common.push(("last-modified", http_date(lm)));
        }
        common.push((
            "cache-control",
            "private, max-age=60, s-maxage=60".to_owned(),
        ));
        if hit {
            // 304s are free: GitHub does not count them against the primary limit.
            return Ok(finish(
                304,
                Vec::new(),
                common,
                sh.limiter.peek(&key),
                Outcome::default(),
            ));
        }
    }
    let budget = sh.limiter.charge(&key);
    match decision.fault {
        Some(Fault::Truncated) => resp.body.truncate(resp.body.len() / 2),
        Some(Fault::Malformed) => {
            if let Some(last) = resp.body.pop() {
                resp.body.extend_from_slice(b",");
                resp.body.push(last);
            }
        }
        _ => {}
    }
    common.extend(resp.headers);
    Ok(finish(
        resp.status,
        resp.body,
        common,
        budget,
        Outcome::default(),
    ))
}

fn unsupported_version(sh: &Shared, v: &str) -> ApiResponse {
    let list: Vec<String> = sh
        .api_versions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 0 {
                format!("\"{s}\" (most recent)")
            } else {
                format!("\"{s}\"")
            }
        })
        .collect();
    ApiResponse::error(
        400,
        &format!(
            "The version you specified in the \"X-GitHub-API-Version\" request header, \"{v}\", is not a supported version. The following versions are currently supported: {}.",
            list.join(", ")
        ),
        "https://docs.github.com/rest/overview/api-versions",
    )
}

fn server_error(status: u16, body: Option<String>) -> (Vec<u8>, &'static str) {
    match body {
        Some(b) => {
            let ct = if b.trim_start().starts_with(['{', '[']) {
                "application/json"
            } else {
                "text/plain"
            };
            (b.into_bytes(), ct)
        }
        // GitHub's front ends answer 502-504 with an HTML page, the API itself with JSON.
        None if (502..=504).contains(&status) => (
            format!("<html><body><h1>{status} Unicorn!</h1></body></html>").into_bytes(),
            "text/html",
        ),
        None => (
            ApiResponse::error(status, "Server Error", DOCS_ROOT).body,
            "application/json; charset=utf-8",
        ),
    }
}

fn to_response(
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    json: bool,
) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(status);
    if json {
        b = b.header("content-type", "application/json; charset=utf-8");
    }
    for (k, v) in headers {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(body)))
        .expect("valid response")
}
