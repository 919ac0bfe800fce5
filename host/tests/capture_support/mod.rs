//! Support for the capture tests: the real `buildsnap serve` (in process via
//! `serve::start`, or the real binary) on a temp data dir, the CircleCI
//! simulator on 127.0.0.1 granted with --allow-hosts, and API helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use buildsnap::runtime::Registry;
use buildsnap::runtime::origin::AllowList;
use buildsnap::serve::{self, Server};
use buildsnap::settings::Settings;
use circleci_sim::{Scenario, SimHandle, SimOptions};
use serde_json::{Value, json};

pub const ALICE: &str = "token-alice";
pub const ADMIN: &str = "capture-test-admin-token-0123456789";
pub const PROJECT: &str = "gh/acme/api";
pub const WEBHOOK_SECRET: &str = "capture-webhook-secret";

/// Real time `secs` seconds ago, in whole seconds (as the simulator serves it).
pub fn real_now_minus(secs: u64) -> String {
    let t = buildsnap_store::ts::now() - std::time::Duration::from_secs(secs);
    buildsnap_store::ts::format(t.replace_nanosecond(0).unwrap())
}

/// `t` + `secs` seconds (RFC 3339 in and out).
pub fn plus(t: &str, secs: i64) -> String {
    let base = buildsnap_store::ts::parse(t).unwrap();
    let out = if secs >= 0 {
        base + Duration::from_secs(secs as u64)
    } else {
        base - Duration::from_secs(secs.unsigned_abs())
    };
    buildsnap_store::ts::format(out)
}

/// A scenario builder whose clock starts an hour before real time (so
/// deploys "at" simulated times are in the real past, and the clock can be
/// moved forward without overtaking real time), with alice and gh/acme/api.
pub fn builder() -> circleci_sim::builder::ScenarioBuilder {
    Scenario::builder()
        .clock_start(&real_now_minus(3600))
        .user("alice", ALICE)
        .project(PROJECT)
}

#[path = "../support/sim.rs"]
mod sim;

/// A simulator with a frozen clock, on 127.0.0.1 (the CircleCI tests' own
/// starter).
pub use sim::start_with as start_sim;

/// The simulator's clock start.
pub fn sim_start(sim: &SimHandle) -> String {
    sim.scenario()
        .clock
        .start
        .as_ref()
        .expect("clock start")
        .to_string()
}

/// Compiled plugin artifacts shared by the tests: copied into each data dir
/// so each server start loads the component from cache.
async fn warm_cache(allow: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("capture-plugin-cache");
    let registry = Registry::builder()
        .grants(AllowList::parse(allow).unwrap())
        .cache_dir(&dir)
        .build()
        .await
        .expect("registry builds");
    assert!(registry.failures().is_empty());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Prepares a data dir with the plugin cache in place.
pub async fn data_dir(sim: &SimHandle) -> tempfile::TempDir {
    let cache = warm_cache(&sim.base_url()).await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&cache, &dir.path().join("plugin-cache"));
    dir
}

/// The server's settings for a test: a free port, `dir`, the simulator's
/// origin granted, the test admin token, defaults otherwise.
pub fn serve_args(sim: &SimHandle, dir: &Path, sync_interval: u64) -> Settings {
    Settings::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir)
        .allow_hosts(sim.base_url())
        .admin_token(Some(ADMIN.into()))
        .sync_interval(Duration::from_secs(sync_interval))
        .build()
        .unwrap()
}

/// An HTTP client of the buildsnap API at `base`.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr) -> Api {
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `method path` with `body`, expected to succeed (2xx); its answer.
    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (s, v) = self.call(method.clone(), path, Some(body)).await;
        assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
        v
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Org `acme`, project `api` with one code deployment (build project
    /// given, or derived from the repo URL), the CircleCI integration at
    /// the simulator with `token` and the webhook secret, as build server.
    pub async fn setup(&self, sim: &SimHandle, token: &str, build_project: Option<&str>) {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/orgs",
                Some(json!({"slug": "acme", "name": "Acme"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/orgs/acme/projects",
                Some(json!({"slug": "api", "name": "API"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let mut cd =
            json!({"slug": "prod", "repo_url": "https://github.com/acme/api", "branch": "main"});
        if let Some(p) = build_project {
            cd["build_project"] = json!(p);
        }
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/orgs/acme/projects/api/code-deployments",
                Some(cd),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = self
            .call(
                reqwest::Method::PUT,
                "/api/v1/orgs/acme/integrations/circleci",
                Some(json!({"token": token, "base_url": sim.base_url(), "webhook_secret": WEBHOOK_SECRET})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["webhook_configured"], true);
        assert!(
            !v.to_string().contains(WEBHOOK_SECRET),
            "the webhook secret is write-only: {v}"
        );
        let (s, v) = self
            .call(
                reqwest::Method::PUT,
                "/api/v1/orgs/acme/integrations/circleci/default-build-server",
                Some(json!({"project": "api"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        // Only what the captures ask from now on (the PUT validated the token).
        sim.clear_requests();
    }

    /// Disables acme's CircleCI integration through the API (204).
    pub async fn disable_circleci(&self) {
        let (s, _) = self
            .call(
                reqwest::Method::DELETE,
                "/api/v1/orgs/acme/integrations/circleci",
                None,
            )
            .await;
        assert_eq!(s, 204);
    }

    /// Registers a deploy; returns its id.
    pub async fn deploy(&self, sha: &str, deployed_at: &str, environment: &str) -> i64 {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/orgs/acme/projects/api/deploys",
                Some(json!({"sha": sha, "deployed_at": deployed_at, "environment": environment})),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        assert_eq!(v["builds"]["state"], "pending", "{v}");
        v["id"].as_i64().unwrap()
    }

    pub async fn snapshot(&self, id: i64) -> Value {
        self.get(&format!("/api/v1/orgs/acme/deploys/{id}/builds"))
            .await
    }

    /// Waits (real time) until the snapshot is no longer pending.
    pub async fn wait_snapshot(&self, id: i64, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.snapshot(id).await;
            if s["state"] != "pending" {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "snapshot {id} still pending after {timeout:?}: {s}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running in-process server with its API client and data dir.
pub struct Env {
    pub sim: SimHandle,
    pub server: Option<Server>,
    pub api: Api,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn start(scenario: Scenario, opts: SimOptions, sync_interval: u64) -> Env {
        let sim = start_sim(scenario, opts).await;
        let dir = data_dir(&sim).await;
        let server = serve::start(serve_args(&sim, dir.path(), sync_interval))
            .await
            .expect("server starts");
        let api = Api::new(server.addr);
        Env {
            sim,
            server: Some(server),
            api,
            dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
    }
}

/// The value of a Prometheus sample line (0 when absent).
pub fn metric(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(sample)
                .and_then(|rest| rest.trim().parse::<f64>().ok())
        })
        .map(|v| v as u64)
        .unwrap_or(0)
}

/// Waits until the metric sample reaches `expected` (metrics are bumped
/// just after the snapshot is written), then returns its value.
pub async fn wait_metric(api: &Api, sample: &str, expected: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = metric(&api.metrics().await, sample);
        if v == expected || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (10 s at most) for `sample` to reach `expected` and fails the test,
/// naming the sample, if it does not.
pub async fn expect_metric(api: &Api, sample: &str, expected: u64) {
    let got = wait_metric(api, sample, expected).await;
    assert_eq!(got, expected, "{sample}");
}

/// Statuses of the snapshot's builds, in order.
pub fn statuses(snap: &Value) -> Vec<String> {
    snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["status"].as_str().unwrap().to_string())
        .collect()
}

pub mod cases;
// Not every capture test uses them.
#[allow(unused_imports)]
pub use cases::*;
