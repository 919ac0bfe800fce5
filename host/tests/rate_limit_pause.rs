//! A 429's `Retry-After` pauses the whole integration: while several
//! captures of one integration are in flight, one 429 holds back every
//! request of that integration (all its captures) until it elapses, as the
//! simulator's request log shows; another org's integration with the same
//! provider is not paused.

#[path = "capture_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use buildsnap::serve;
use circleci_sim::auth::fingerprint;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, RateLimitBody, SimOptions};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const BOB: &str = "token-bob";
const WAIT: Duration = Duration::from_secs(60);

async fn deploy(api: &Api, org: &str, sha: &str, at: &str) -> i64 {
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/api/v1/orgs/{org}/projects/api/deploys"),
            Some(json!({"sha": sha, "deployed_at": at, "environment": "production"})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    v["id"].as_i64().unwrap()
}

async fn wait_snapshot(api: &Api, org: &str, id: i64) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = api
            .get(&format!("/api/v1/orgs/{org}/deploys/{id}/builds"))
            .await;
        if s["state"] != "pending" {
            return s;
        }
        assert!(Instant::now() < deadline, "{org} deploy {id} pending: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Org `other` with project `api`, using the same CircleCI project with
/// bob's token: a second integration of the same provider and server.
async fn setup_other(api: &Api, sim: &circleci_sim::SimHandle) {
    let calls = [
        (
            Method::POST,
            "/api/v1/orgs".to_string(),
            json!({"slug": "other", "name": "Other"}),
            201,
        ),
        (
            Method::POST,
            "/api/v1/orgs/other/projects".into(),
            json!({"slug": "api", "name": "API"}),
            201,
        ),
        (
            Method::POST,
            "/api/v1/orgs/other/projects/api/code-deployments".into(),
            json!({"slug": "prod", "repo_url": "https://github.com/acme/api", "branch": "main", "build_project": PROJECT}),
            201,
        ),
        (
            Method::PUT,
            "/api/v1/orgs/other/integrations/circleci".into(),
            json!({"token": BOB, "base_url": sim.base_url()}),
            200,
        ),
        (
            Method::PUT,
            "/api/v1/orgs/other/integrations/circleci/default-build-server".into(),
            json!({"project": "api"}),
            200,
        ),
    ];
    for (method, path, body, want) in calls {
        let (s, v) = api.call(method, &path, Some(body)).await;
        assert_eq!(s, want, "{path}: {v}");
    }
}

fn assert_complete(snap: &Value, sha: &str) {
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(snap["summary"], "success", "{snap}");
    let builds = snap["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 1, "{snap}");
    assert!(builds.iter().all(|b| b["sha"] == sha), "{snap}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_429_pauses_every_capture_of_that_integration_and_no_other() {
    let shas: Vec<String> = (1..=5).map(|n| stable_sha(&format!("pause:{n}"))).collect();
    let mut b = builder().user("bob", BOB);
    for (n, sha) in shas.iter().enumerate() {
        b = b.pipeline(
            PipelineSpec::new(n as i64 + 1).revision(sha).workflow(
                WorkflowSpec::new("build")
                    .job(JobSpec::new("test"))
                    .job(JobSpec::new("lint")),
            ),
        );
    }
    let sim = start_sim(b.build().unwrap(), SimOptions::default()).await;
    let start = sim_start(&sim);
    let dir = data_dir(&sim).await;
    // Enough workers for acme's four captures and other's one at once.
    let mut args = serve_args(&sim, dir.path(), 0);
    args.capture.concurrency = 8;
    let server = serve::start(args).await.expect("server starts");
    let api = Api::new(server.addr);
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    setup_other(&api, &sim).await;
    sim.clear_requests();
    let (alice, bob) = (Some(fingerprint(ALICE)), Some(fingerprint(BOB)));

    // Acme's first three captures are held in the workflow lists of their
    // pipelines (answered after 1 s) when the fourth gets the 429.
    let pipeline_id = |n: usize| sim.scenario().projects[0].pipelines[n].id.clone();
    for n in 0..3 {
        let path = format!("/api/v2/pipeline/{}/workflow", pipeline_id(n));
        sim.set_fault(FaultRule::always(path, Fault::Latency { ms: 1_000 }));
    }
    let at = plus(&start, 600);
    let mut acme = Vec::new();
    for sha in &shas[..3] {
        acme.push(deploy(&api, "acme", sha, &at).await);
    }
    let deadline = Instant::now() + WAIT;
    while sim
        .requests()
        .iter()
        .filter(|r| r.route == "/api/v2/pipeline/{id}/workflow")
        .count()
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "captures never reached the workflow lists"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.set_fault(FaultRule::times(
        "/api/v2/project/*",
        1,
        Fault::RateLimit {
            retry_after_secs: 2,
            body: RateLimitBody::Json,
            http_date: false,
        },
    ));
    acme.push(deploy(&api, "acme", &shas[3], &at).await);
    let deadline = Instant::now() + WAIT;
    while !sim.requests().iter().any(|r| r.status == Some(429)) {
        assert!(Instant::now() < deadline, "no 429 was served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Other's capture runs while acme is paused.
    let other = deploy(&api, "other", &shas[4], &at).await;

    for (id, sha) in acme.iter().zip(&shas) {
        assert_complete(&wait_snapshot(&api, "acme", *id).await, sha);
    }
    assert_complete(&wait_snapshot(&api, "other", other).await, &shas[4]);

    let log = sim.requests();
    let limited: Vec<_> = log.iter().filter(|r| r.status == Some(429)).collect();
    assert_eq!(limited.len(), 1, "{limited:#?}");
    let r429 = limited[0];
    assert_eq!(r429.client, alice);
    let sent = r429.responded_at.unwrap();
    let until = sent + Duration::from_secs(2);
    let during = |client: &Option<String>| {
        log.iter()
            .filter(|r| &r.client == client && r.received_at > sent && r.received_at < until)
            .collect::<Vec<_>>()
    };
    // Not one request of acme's integration before Retry-After elapsed ...
    assert!(
        during(&alice).is_empty(),
        "sent during the pause: {:#?}",
        during(&alice)
    );
    // ... though its captures went on right after (the three held ones and
    // the retried one),
    let after = log
        .iter()
        .filter(|r| r.client == alice && r.received_at >= until)
        .count();
    assert!(after >= 4, "{after} acme requests after the pause");
    // while other's integration was never paused.
    assert!(
        !during(&bob).is_empty(),
        "other's capture was held: {log:#?}"
    );
    sim.assert_retry_after_respected()
        .map_err(|v| v.to_string())
        .unwrap();

    let metrics = api.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "buildsnap_provider_pauses_total{provider=\"circleci\"}"
        ),
        1,
        "{metrics}"
    );
    // The three captures waiting in the workflow lists were held back.
    assert!(
        metric(
            &metrics,
            "buildsnap_provider_paused_requests_total{provider=\"circleci\",outcome=\"sent\"}"
        ) >= 3,
        "{metrics}"
    );
    server.stop().await.unwrap();
}
