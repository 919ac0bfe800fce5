//! Shared helpers for the integration tests: an HTTP client and a webhook receiver, both
//! on 127.0.0.1 only.
#![allow(dead_code)]

pub mod schema;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use github_sim::{Scenario, SimHandle, SimOptions, Simulator, cases};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

#[allow(unused_imports)]
pub use github_sim::cases::{DEMO_TOKEN, OTHER_TOKEN};

/// A collected HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The URL of `rel` in the `Link` header.
    pub fn link(&self, rel: &str) -> Option<String> {
        let link = self.header("link")?;
        link.split(", ").find_map(|part| {
            let (url, r) = part.split_once("; ")?;
            (r == format!("rel=\"{rel}\"")).then(|| url.trim_matches(['<', '>']).to_owned())
        })
    }
}

pub fn demo_scenario() -> Scenario {
    cases::demo().expect("demo scenario builds")
}

pub async fn start(s: Scenario) -> SimHandle {
    start_with(s, SimOptions::default()).await
}

pub async fn start_with(s: Scenario, opts: SimOptions) -> SimHandle {
    Simulator::start(s, opts).await.expect("simulator starts")
}

pub async fn start_demo() -> SimHandle {
    start(demo_scenario()).await
}

/// One client for every test: building one per request is slow. Without idle connections,
/// nothing ties it to the runtime of the test that used it first.
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client builds")
    })
}

/// Sends one request to an absolute URL.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Resp, reqwest::Error> {
    let mut b = client().request(method.parse().unwrap(), url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    if let Some(text) = body {
        b = b.body(text.to_owned());
    }
    let r = b.send().await?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await?.to_vec();
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// GET `path` (relative to the API root) as GitHub clients send it.
pub async fn get(sim: &SimHandle, path: &str, token: &str) -> Resp {
    get_with(sim, path, token, &[]).await
}

/// GET with extra headers.
pub async fn get_with(sim: &SimHandle, path: &str, token: &str, extra: &[(&str, &str)]) -> Resp {
    let auth = format!("Bearer {token}");
    let mut headers: Vec<(&str, &str)> = vec![
        ("authorization", auth.as_str()),
        ("accept", "application/vnd.github+json"),
        ("x-github-api-version", "2022-11-28"),
    ];
    // Extra headers replace the defaults of the same name.
    headers.retain(|(k, _)| !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(k)));
    headers.extend_from_slice(extra);
    request("GET", &format!("{}{path}", sim.base_url()), &headers, None)
        .await
        .expect("request succeeds")
}

/// GET an absolute URL (e.g. a `Link` target).
pub async fn get_url(url: &str, token: &str) -> Resp {
    let auth = format!("Bearer {token}");
    request("GET", url, &[("authorization", &auth)], None)
        .await
        .expect("request succeeds")
}

/// Control call under `/_sim`.
pub async fn control(sim: &SimHandle, method: &str, path: &str, body: Option<&str>) -> Resp {
    request(
        method,
        &format!("{}{path}", sim.root_url()),
        &[("content-type", "application/json")],
        body,
    )
    .await
    .expect("control call")
}

/// One request received by [`Receiver`].
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

/// A webhook receiver on 127.0.0.1 that answers 200 and records what it got.
pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let g = g.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let g = g.clone();
                            async move {
                                let headers = req.headers().clone();
                                let body = req.into_body().collect().await?.to_bytes().to_vec();
                                g.lock().unwrap().push(Received { headers, body });
                                Ok::<_, hyper::Error>(Response::new(Empty::<Bytes>::new()))
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self { addr, got }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/github", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}
