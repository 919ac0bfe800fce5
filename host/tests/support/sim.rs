//! Support for running the built-in CircleCI plugin inside the host against
//! the CircleCI simulator (`circleci-sim`): scenario loading, a registry
//! granted the simulator's origin, integrations and queries, request-log
//! helpers, and a local webhook receiver that keeps raw deliveries.
#![allow(dead_code)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildsnap::runtime::limits::PluginLimits;
use buildsnap::runtime::origin::AllowList;
use buildsnap::runtime::wit::CommitQuery;
use buildsnap::runtime::wit::latest::provider::Horizon;
use buildsnap::runtime::{Credential, Integration, Plugin, PluginSource, Registry};
use bytes::Bytes;
use circleci_sim::{RequestRecord, Scenario, SimHandle, SimOptions, Simulator};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use url::Url;

/// The demo token (orgs `gh/acme`, `bb/acme-bb`, the GitHub App org).
pub const ALICE: &str = "demo-token-alice";

/// `host/simulators/circleci/scenarios/demo.json`.
pub fn demo_scenario() -> Scenario {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("simulators/circleci/scenarios/demo.json");
    Scenario::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Start a simulator with a frozen clock, on 127.0.0.1.
pub async fn start(scenario: Scenario) -> SimHandle {
    start_with(scenario, SimOptions::default()).await
}

pub async fn start_with(scenario: Scenario, opts: SimOptions) -> SimHandle {
    let opts = SimOptions {
        clock_running: Some(false),
        ..opts
    };
    let sim = Simulator::start(scenario, opts)
        .await
        .expect("simulator starts");
    assert!(sim.addr().ip().is_loopback());
    sim
}

/// Which CircleCI component runs (the CircleCI suites say which in their
/// crate's `CIRCLECI` constant; see `circleci_cases.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// The built-in one (plugins/dist/circleci.wasm, contract 0.2.0).
    Builtin,
    /// The CircleCI component as it shipped for contract 0.1.0
    /// (tests/plugins/dist/circleci-0.1.0.wasm, a frozen fixture).
    V0_1_0,
}

impl Component {
    /// Whether this component speaks contract 0.2.0 (attempts, webhooks
    /// verified by the host).
    pub fn is_v0_2(self) -> bool {
        self == Component::Builtin
    }
}

/// A registry with the built-in plugins, granted the simulator's origin
/// (as an operator would with BUILDSNAP_ALLOW_HOSTS).
pub async fn registry(sim: &SimHandle, limits: PluginLimits) -> Registry {
    registry_of(Component::Builtin, sim, limits).await
}

/// A registry whose CircleCI plugin is `component` (the 0.1.0 one alone,
/// without the built-ins), granted the simulator's origin.
pub async fn registry_of(component: Component, sim: &SimHandle, limits: PluginLimits) -> Registry {
    let mut builder = Registry::builder();
    if component == Component::V0_1_0 {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/plugins/dist/circleci-0.1.0.wasm");
        builder = builder.builtin(false).source(PluginSource {
            origin: "test:circleci-0.1.0".into(),
            bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        });
    }
    let registry = builder
        .grants(AllowList::parse(&sim.base_url()).expect("origin pattern"))
        .limits(limits)
        // Compiled artifacts shared by the tests: each test builds its own
        // registry, and compiling the component is the slow part of that.
        .cache_dir(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("circleci-e2e-cache"))
        .build()
        .await
        .expect("registry builds");
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    registry
}

/// The CircleCI plugin `component`, with `limits`.
pub async fn circleci_of(
    component: Component,
    sim: &SimHandle,
    limits: PluginLimits,
) -> Arc<Plugin> {
    registry_of(component, sim, limits)
        .await
        .get("circleci")
        .expect("a circleci plugin")
}

pub fn integration(sim: &SimHandle, token: Option<&str>) -> Integration {
    integration_at(&sim.base_url(), token)
}

pub fn integration_at(base: &str, token: Option<&str>) -> Integration {
    Integration {
        org: None,
        base_url: Url::parse(base).unwrap(),
        settings: vec![],
        credential: token.map(Credential::new),
    }
}

pub fn query(project: &str, sha: &str) -> CommitQuery {
    CommitQuery {
        project: project.into(),
        sha: sha.into(),
        branch: None,
        horizon: Horizon {
            max_pipelines: 1_000,
            not_before: None,
        },
    }
}

/// Requests the simulator logged for one route template
/// (`/api/v2/project/{slug}/pipeline`, `/api/v2/pipeline/{id}/workflow`, ...).
pub fn on_route(sim: &SimHandle, route: &str) -> Vec<RequestRecord> {
    sim.requests()
        .into_iter()
        .filter(|r| r.route == route)
        .collect()
}

pub const PIPELINES: &str = "/api/v2/project/{slug}/pipeline";
pub const WORKFLOWS: &str = "/api/v2/pipeline/{id}/workflow";
pub const JOBS: &str = "/api/v2/workflow/{id}/job";

/// One webhook delivery as received: lower-case header names, raw body.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A local webhook receiver on 127.0.0.1 answering 200 and keeping every
/// delivery byte for byte.
pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let got2 = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let got = got2.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let got = got.clone();
                        async move {
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (
                                        n.as_str().to_string(),
                                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                    )
                                })
                                .collect();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            got.lock().unwrap().push(Received { headers, body });
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { port, got }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Wait (real time) until a delivery satisfies `pred`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&Received) -> bool,
    ) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(r) = self.got.lock().unwrap().iter().find(|r| pred(r)) {
                return Some(r.clone());
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn header<'a>(r: &'a Received, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
