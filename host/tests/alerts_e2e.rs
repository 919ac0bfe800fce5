//! After the deploy, end to end (alerts, later builds): the real server (in process) and the CircleCI
//! simulator, a loopback receiver that checks signatures; a delivery
//! retried after a 500 with the same id and body across a restart, and
//! `deploy.builds_changed` when a workflow running at deploy time fails.

#[path = "capture_support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use buildsnap::alerts::signature;
use buildsnap::serve;
use buildsnap::settings::Settings;
use bytes::Bytes;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{SimHandle, SimOptions};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use support::*;

const SECRET: &str = "alert-secret-for-the-e2e-test";

#[derive(Clone, Debug)]
struct Got {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// A receiver on 127.0.0.1 answering the queued statuses, then 200.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Got>>>,
}

async fn receiver(statuses: Vec<u16>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let queue = Arc::new(Mutex::new(VecDeque::from(statuses)));
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (g, q) = (g.clone(), queue.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (g, q) = (g.clone(), q.clone());
                    async move {
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(n, v)| {
                                (n.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                            })
                            .collect();
                        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                        g.lock().unwrap().push(Got { headers, body });
                        let status = q.lock().unwrap().pop_front().unwrap_or(200);
                        let mut r = Response::new(Full::new(Bytes::from_static(b"")));
                        *r.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Receiver { port, got }
}

impl Receiver {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/buildsnap", self.port)
    }

    async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Got> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} deliveries after {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn settings(sim: &SimHandle, dir: &std::path::Path, recv: &Receiver, sync: u64) -> Settings {
    let mut s = serve_args(sim, dir, sync);
    s.allow_hosts = format!("{},http://127.0.0.1:{}", sim.base_url(), recv.port);
    s
}

async fn add_hook(api: &Api, recv: &Receiver, events: &[&str]) -> i64 {
    let (s, v) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/orgs/acme/alert-hooks",
            Some(json!({"url": recv.url(), "events": events, "secret": SECRET})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().unwrap()
}

fn verified(g: &Got) -> Value {
    assert_eq!(
        g.header("x-buildsnap-signature"),
        signature(SECRET.as_bytes(), &g.body),
        "signed with the hook's secret"
    );
    assert_eq!(g.header("content-type"), "application/json");
    serde_json::from_slice(&g.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delivery_is_retried_after_a_restart_with_the_same_id_and_body() {
    let sha = stable_sha("alerts:completed");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("test"))),
        )
        .build()
        .unwrap();
    let sim = start_sim(scenario, SimOptions::default()).await;
    let start = sim_start(&sim);
    let recv = receiver(vec![500]).await;
    let dir = data_dir(&sim).await;
    let server = serve::start(settings(&sim, dir.path(), &recv, 0))
        .await
        .unwrap();
    let api = Api::new(server.addr);
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    let hook = add_hook(&api, &recv, &["snapshot.completed"]).await;
    let id = api.deploy(&sha, &plus(&start, 600), "production").await;

    // The first attempt is refused (500); the server then stops.
    let first = recv.wait_for(1, Duration::from_secs(60)).await[0].clone();
    server.stop().await.unwrap();
    let body = verified(&first);
    assert_eq!(body["event"], "snapshot.completed");
    assert_eq!(body["org"], "acme");
    assert_eq!(body["deploy"]["id"], id);
    assert_eq!(body["deploy"]["builds"]["state"], "complete");
    assert_eq!(first.header("x-buildsnap-event"), "snapshot.completed");
    assert_eq!(
        first.header("x-buildsnap-delivery"),
        body["delivery"].as_str().unwrap()
    );

    // A new process on the same data dir retries it (after the 10 s backoff).
    let server = serve::start(settings(&sim, dir.path(), &recv, 0))
        .await
        .unwrap();
    let api = Api::new(server.addr);
    let got = recv.wait_for(2, Duration::from_secs(60)).await;
    let second = &got[1];
    assert_eq!(
        second.header("x-buildsnap-delivery"),
        first.header("x-buildsnap-delivery")
    );
    assert_eq!(second.body, first.body, "the same bytes on every attempt");
    verified(second);
    // The receiver has the answer before the server has written it down:
    // wait for the record to say so (it is the observable event).
    let path = format!("/api/v1/orgs/acme/alert-hooks/{hook}/deliveries");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let deliveries = loop {
        let deliveries = api.get(&path).await;
        if deliveries["deliveries"][0]["state"] != "queued" || std::time::Instant::now() > deadline
        {
            break deliveries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let d = &deliveries["deliveries"][0];
    assert_eq!(
        (
            d["state"].as_str(),
            d["attempts"].as_i64(),
            d["last_status"].as_i64()
        ),
        (Some("delivered"), Some(2), Some(200))
    );
    assert_eq!(deliveries["deliveries"].as_array().unwrap().len(), 1);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_running_at_deploy_time_that_fails_later_is_reported() {
    let sha = stable_sha("alerts:changed");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1).revision(&sha).workflow(
                WorkflowSpec::new("build")
                    .status("running")
                    .then_at(120, "failed")
                    .job(JobSpec::new("test")),
            ),
        )
        .build()
        .unwrap();
    let sim = start_sim(scenario, SimOptions::default()).await;
    let start = sim_start(&sim);
    let recv = receiver(vec![]).await;
    let dir = data_dir(&sim).await;
    // Sync every second: it is what notices the workflow finishing.
    let server = serve::start(settings(&sim, dir.path(), &recv, 1))
        .await
        .unwrap();
    let api = Api::new(server.addr);
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    add_hook(&api, &recv, &["deploy.builds_changed"]).await;
    let id = api.deploy(&sha, &plus(&start, 60), "production").await;
    let snap = api.wait_snapshot(id, Duration::from_secs(60)).await;
    assert_eq!(snap["builds"][0]["status"], "running", "{snap}");

    sim.clock().advance(Duration::from_secs(200));
    let got = recv.wait_for(1, Duration::from_secs(60)).await;
    let body = verified(&got[0]);
    assert_eq!(body["event"], "deploy.builds_changed");
    assert_eq!(body["deploy"]["id"], id);
    assert_eq!(body["changed"][0]["name"], "build");
    assert_eq!(body["changed"][0]["frozen_status"], "running");
    assert_eq!(body["changed"][0]["current_status"], "failed");
    // The snapshot itself is unchanged; the news is beside it.
    let after = api.snapshot(id).await;
    assert_eq!(after["builds"][0]["status"], "running");
    assert_eq!(after["builds"][0]["current_status"], "failed");
    // Once: later syncs (seen asking the simulator again) queue nothing more.
    let asked = sim.count("/api/v2/");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.count("/api/v2/") < asked + 2 {
        assert!(Instant::now() < deadline, "no further sync");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hooks = api.get("/api/v1/orgs/acme/alert-hooks").await;
    let hook = hooks["alert_hooks"][0]["id"].as_i64().unwrap();
    let deliveries = api
        .get(&format!("/api/v1/orgs/acme/alert-hooks/{hook}/deliveries"))
        .await;
    assert_eq!(
        deliveries["deliveries"].as_array().unwrap().len(),
        1,
        "{deliveries}"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_builds_fill_in_for_a_deploy_registered_before_its_pipeline_started() {
    let sha = stable_sha("later:builds");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .created_at(&plus(&real_now_minus(3600), 300))
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("test"))),
        )
        .build()
        .unwrap();
    let sim = start_sim(scenario, SimOptions::default()).await;
    let start = sim_start(&sim);
    let recv = receiver(vec![]).await;
    let dir = data_dir(&sim).await;
    // Sync every second: it is what brings the later pipeline in.
    let server = serve::start(settings(&sim, dir.path(), &recv, 1))
        .await
        .unwrap();
    let api = Api::new(server.addr);
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    add_hook(&api, &recv, &["deploy.builds_changed"]).await;
    // Deployed on merge, before CI started: the snapshot is empty.
    let id = api.deploy(&sha, &plus(&start, 60), "production").await;
    let snap = api.wait_snapshot(id, Duration::from_secs(60)).await;
    assert_eq!(
        (snap["state"].as_str(), snap["summary"].as_str()),
        (Some("complete"), Some("none")),
        "{snap}"
    );
    assert_eq!(snap["later_builds"], json!([]));

    // The pipeline starts (the simulator's clock passes it); sync indexes it.
    sim.clock().advance(Duration::from_secs(600));
    let deadline = Instant::now() + Duration::from_secs(60);
    let later = loop {
        let s = api.snapshot(id).await;
        if s["later_builds"].as_array().is_some_and(|l| !l.is_empty()) {
            break s;
        }
        assert!(Instant::now() < deadline, "no later builds: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(later["later_builds"][0]["name"], "build");
    assert_eq!(later["later_builds"][0]["sha"], sha.as_str());
    // Beside the frozen part, never in it.
    assert_eq!(later["builds"], json!([]));
    assert_eq!(later["summary"], "none");
    let listed = api.get("/api/v1/orgs/acme/deploys").await;
    assert_eq!(
        listed["deploys"][0]["builds"]["later_builds"][0]["name"],
        "build"
    );
    // Its finishing is news for the deploy too: a later build, so no
    // frozen status.
    let got = recv.wait_for(1, Duration::from_secs(60)).await;
    let body = verified(&got[0]);
    assert_eq!(body["event"], "deploy.builds_changed");
    assert_eq!(body["deploy"]["id"], id);
    assert_eq!(body["changed"][0]["name"], "build");
    assert_eq!(body["changed"][0]["frozen_status"], Value::Null);
    assert_eq!(body["changed"][0]["current_status"], "success");
    server.stop().await.unwrap();
}
