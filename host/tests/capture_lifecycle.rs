//! Deploy build snapshots end to end around them: disabling mid-capture,
//! webhooks, the background sync, a clean stop.
//!
//! The real HTTP API started with `serve::start` on a temp data dir, the
//! built-in CircleCI plugin, and the CircleCI simulator on 127.0.0.1 (granted
//! with --allow-hosts). Deploys are registered and their snapshots read back
//! through the API; what crossed the wire is checked in the simulator's log.

#[path = "capture_support/mod.rs"]
mod support;

use std::time::Duration;

use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, SimOptions, WebhookConfig};
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_drops_the_in_flight_capture_and_calls_the_provider_no_more() {
    let sha = stable_sha("capture:disable");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    env.sim.set_fault(FaultRule::always(
        "/api/v2/project/*",
        Fault::Latency { ms: 3_000 },
    ));
    let id = env.api.deploy(&sha, &start, "production").await;
    // Wait until the search is in flight.
    let deadline = std::time::Instant::now() + WAIT;
    while env.sim.requests().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.api.disable_circleci().await;
    let snap = env.api.snapshot(id).await;
    assert_eq!(snap["state"], "error");
    assert!(
        snap["explain"].as_str().unwrap().contains("disabled"),
        "{snap}"
    );
    // The capture ends (the worker counts it as dropped) without waiting
    // for the slow answer; once it has ended nothing can follow it (no
    // workflow or job lists), so no sleep is needed to see that.
    let dropped = "buildsnap_captures_total{outcome=\"dropped\"}";
    expect_metric(&env.api, dropped, 1).await;
    let reqs = env.sim.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    let snap = env.api.snapshot(id).await;
    assert_eq!(
        snap["state"], "error",
        "the dropped capture wrote nothing: {snap}"
    );
    assert_eq!(snap["builds"], json!([]));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_verified_deduplicated_and_shown_beside_the_snapshot() {
    let sha = stable_sha("capture:webhook");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1).revision(&sha).workflow(
                WorkflowSpec::new("build")
                    .status("running")
                    .then_at(120, "failed")
                    .job(
                        JobSpec::new("test")
                            .status("running")
                            .then_at(110, "failed"),
                    ),
            ),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    let hook = format!("{}/api/v1/webhooks/circleci/acme", env.api.base);
    env.sim.add_webhook(WebhookConfig {
        duplicates: 1,
        ..WebhookConfig::new(hook.clone(), WEBHOOK_SECRET)
    });

    let id = env.api.deploy(&sha, &start, "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(statuses(&snap), ["running"]);
    assert!(snap["builds"][0].get("current_status").is_none());
    let requests = env.sim.requests().len();

    env.sim.clock().advance(Duration::from_secs(200));
    // job-completed and workflow-completed, each delivered twice.
    assert!(
        env.sim
            .wait_for_deliveries(Duration::from_secs(20), |d| d.len() >= 4
                && d.iter().all(|d| d.status.is_some()))
            .await,
        "{:#?}",
        env.sim.webhook_deliveries()
    );
    let deliveries = env.sim.webhook_deliveries();
    assert!(
        deliveries.iter().all(|d| d.status == Some(202)),
        "{deliveries:#?}"
    );
    let snap = env.api.snapshot(id).await;
    let b = &snap["builds"][0];
    assert_eq!(b["status"], "running", "the snapshot never changes");
    assert_eq!(b["current_status"], "failed", "{b}");
    // Webhook parsing made no provider request.
    assert_eq!(env.sim.requests().len(), requests);

    // The same event again (signed by the test): acknowledged as a duplicate.
    let event = env
        .sim
        .webhook_events()
        .into_iter()
        .find(|e| e["type"] == "workflow-completed")
        .unwrap();
    let body = serde_json::to_vec(&event).unwrap();
    let sig = format!(
        "v1={}",
        circleci_sim::webhooks::sign(WEBHOOK_SECRET.as_bytes(), &body)
    );
    let post = |sig: String, body: Vec<u8>| {
        env.api
            .http
            .post(&hook)
            .header("content-type", "application/json")
            .header("circleci-event-type", "workflow-completed")
            .header("circleci-signature", sig)
            .body(body)
            .send()
    };
    let r = post(sig.clone(), body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["accepted"].clone(), v["duplicate"].clone()),
        (json!(true), json!(true)),
        "{v}"
    );
    assert_eq!(v["id"], event["id"]);

    // A wrong signature, or a changed body, is refused.
    let r = post("v1=00".into(), body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "bad_signature");
    let mut tampered = event.clone();
    tampered["id"] = json!("another-event-id");
    let r = post(sig, serde_json::to_vec(&tampered).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A fresh, well-signed event is applied.
    let body = serde_json::to_vec(&tampered).unwrap();
    let sig = format!(
        "v1={}",
        circleci_sim::webhooks::sign(WEBHOOK_SECRET.as_bytes(), &body)
    );
    let v: Value = post(sig, body).await.unwrap().json().await.unwrap();
    assert_eq!(
        (v["accepted"].clone(), v["duplicate"].clone()),
        (json!(true), json!(false)),
        "{v}"
    );
    expect_metric(&env.api, "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"parse_webhook\",outcome=\"bad_signature\"}", 2).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_sync_refreshes_unfinished_builds() {
    let sha = stable_sha("capture:sync");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1).revision(&sha).workflow(
                WorkflowSpec::new("build")
                    .status("running")
                    .then_at(120, "success")
                    .job(
                        JobSpec::new("test")
                            .status("running")
                            .then_at(110, "success"),
                    ),
            ),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 1).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    let id = env.api.deploy(&sha, &start, "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(statuses(&snap), ["running"]);
    let workflow = workflow_id(&env.sim, 1, 0);
    // A first sync (no cursor) reads the recent pipelines; the next ones
    // only look above the cursor and refresh what was not final.
    let sync_ok =
        "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"sync\",outcome=\"ok\"}";
    let deadline = std::time::Instant::now() + WAIT;
    while metric(&env.api.metrics().await, sync_ok) < 1 {
        assert!(std::time::Instant::now() < deadline, "no sync ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    env.sim.clock().advance(Duration::from_secs(200));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let snap = env.api.snapshot(id).await;
        if snap["builds"][0]["current_status"] == "success" {
            assert_eq!(snap["builds"][0]["status"], "running");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sync never refreshed: {snap}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The refresh read the unfinished workflow by id.
    let path = format!("/api/v2/workflow/{workflow}");
    assert!(
        env.sim.requests().iter().any(|r| r.path == path),
        "{:#?}",
        env.sim.requests()
    );
    // Disabled: the sync stops calling the provider.
    env.api.disable_circleci().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.sim.clear_requests();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(env.sim.requests().is_empty(), "{:#?}", env.sim.requests());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_stop_leaves_the_in_flight_capture_queued_for_the_next_start() {
    let sha = stable_sha("capture:clean-stop");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))),
        )
        .build()
        .unwrap();
    let mut env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    let hang = env.sim.set_fault(FaultRule::always(
        "/api/v2/project/*",
        Fault::Hang { ms: None },
    ));
    let id = env.api.deploy(&sha, &plus(&start, 120), "production").await;
    let deadline = std::time::Instant::now() + WAIT;
    while env.sim.requests().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopping = std::time::Instant::now();
    env.server.take().unwrap().stop().await.unwrap();
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(10), "stop waited {took:?}");
    // Back in the queue, the interrupted claim not counted as an attempt.
    {
        let key = buildsnap_store::SecretKey::load_or_create(env.dir.path(), None).unwrap();
        let store = buildsnap_store::Store::open(env.dir.path(), key).unwrap();
        let (state, attempts, last) = store.capture_job_state(id).unwrap().unwrap();
        assert_eq!((state.as_str(), attempts), ("queued", 0), "{last:?}");
        assert_eq!(last.as_deref(), Some("interrupted by shutdown"));
        assert_eq!(
            store.get_deploy("acme", id).unwrap().builds.state,
            buildsnap_store::SnapshotState::Pending
        );
    }
    env.sim.remove_fault(hang);
    env.sim.clear_requests();
    let server = buildsnap::serve::start(serve_args(&env.sim, env.dir.path(), 0))
        .await
        .unwrap();
    env.api = Api::new(server.addr);
    env.server = Some(server);
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(statuses(&snap), ["success"]);
    assert_eq!(on(&env.sim, "/api/v2/project/{slug}/pipeline"), 1);
    env.stop().await;
}
