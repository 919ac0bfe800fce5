//! Shared helpers for the integration tests: a tiny HTTP client and a webhook receiver,
//! both on 127.0.0.1 only.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use circleci_sim::{Scenario, SimHandle, SimOptions, Simulator};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

/// Token of alice in scenarios/demo.json.
pub const ALICE: &str = "demo-token-alice";
/// Token of bob (other org) in scenarios/demo.json.
pub const BOB: &str = "demo-token-bob";

/// A collected HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
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
}

pub fn demo_scenario() -> Scenario {
    Scenario::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/demo.json"))
        .expect("demo scenario loads")
}

pub async fn start(s: Scenario) -> SimHandle {
    Simulator::start(s, SimOptions::default())
        .await
        .expect("simulator starts")
}

pub async fn start_demo() -> SimHandle {
    start(demo_scenario()).await
}

/// Sends one request with optional headers and body; transport errors are returned as Err.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Resp, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let addr = format!("{}:{}", uri.host().unwrap(), uri.port_u16().unwrap());
    let stream = TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut b = Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", addr);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp: Response<hyper::body::Incoming> = match body {
        Some(text) => {
            sender
                .send_request(b.body(Full::new(Bytes::from(text.to_owned()))).unwrap())
                .await
        }
        None => {
            sender
                .send_request(b.body(Full::new(Bytes::new())).unwrap())
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// GET with `Circle-Token`.
pub async fn get(sim: &SimHandle, path: &str, token: &str) -> Resp {
    request(
        "GET",
        &format!("{}{path}", sim.base_url()),
        &[("Circle-Token", token), ("Accept", "application/json")],
        None,
    )
    .await
    .expect("request succeeds")
}

/// Admin call.
pub async fn admin(sim: &SimHandle, method: &str, path: &str, body: Option<&str>) -> Resp {
    request(
        method,
        &format!("{}{path}", sim.base_url()),
        &[("content-type", "application/json")],
        body,
    )
    .await
    .expect("admin call")
}

/// One request received by [`Receiver`].
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A webhook receiver on 127.0.0.1 that answers with scripted statuses (then 200).
pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(script: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let g = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let g = g.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let g = g.clone();
                            let script = script.clone();
                            async move {
                                let headers = req.headers().clone();
                                let body = req.into_body().collect().await?.to_bytes().to_vec();
                                g.lock().unwrap().push(Received { headers, body });
                                let status = script.lock().unwrap().next().unwrap_or(200);
                                Ok::<_, hyper::Error>(
                                    Response::builder()
                                        .status(status)
                                        .body(Empty::<Bytes>::new())
                                        .unwrap(),
                                )
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
        format!("http://{}/hooks/circleci", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}
