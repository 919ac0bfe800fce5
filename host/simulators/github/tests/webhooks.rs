//! Webhook deliveries: bodies validate against GitHub's webhooks description, headers are
//! the ones it requires, signatures verify, redelivery keeps the delivery id.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::schema::{Checker, Exception, WEBHOOKS};
use common::*;
use github_sim::webhooks::sign::verify;
use github_sim::{SimHandle, SimOptions, WebhookConfig};
use serde_json::{Value, json};

const SECRET: &str = "It's a Secret to Everybody";

/// No deviation is needed today; keep the list so one can be documented when it is.
const EXCEPTIONS: &[Exception] = &[];

/// Waits (real time) until `pred` holds for what the receiver got.
async fn wait_for(rx: &Receiver, what: &str, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = rx.received();
        if pred(&got) {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: got {}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn demo_with_receiver(c: impl FnOnce(String) -> WebhookConfig) -> (SimHandle, Receiver) {
    let rx = Receiver::start().await;
    let opts = SimOptions {
        webhooks: vec![c(rx.url())],
        ..SimOptions::default()
    };
    (start_with(demo_scenario(), opts).await, rx)
}

/// Runs the demo through every transition and returns everything delivered.
async fn all_events(sim: &SimHandle, rx: &Receiver) -> Vec<Received> {
    wait_for(rx, "ping", |g| !g.is_empty()).await;
    sim.clock().advance(Duration::from_secs(600));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sim.pending_webhooks() > 0 || sim.webhook_deliveries().len() < sim.webhook_bodies().len()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries did not finish"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n = sim.webhook_bodies().len();
    wait_for(rx, "every delivery", |g| g.len() >= n).await
}

fn schema_key(event: &str, action: Option<&str>) -> String {
    match (event, action) {
        ("ping", _) => "ping".into(),
        (e, Some(a)) => format!("{}-{}", e.replace('_', "-"), a.replace('_', "-")),
        (e, None) => panic!("{e} without an action"),
    }
}

#[tokio::test]
async fn webhook_bodies_and_headers_match_the_webhooks_description() {
    let c = Checker::new(WEBHOOKS, EXCEPTIONS);
    let (sim, rx) = demo_with_receiver(|url| WebhookConfig::new(url, SECRET)).await;
    let got = all_events(&sim, &rx).await;
    let mut seen = BTreeSet::new();
    let mut bad = Vec::new();
    for r in &got {
        let event = r
            .header("x-github-event")
            .expect("X-GitHub-Event")
            .to_owned();
        let body = r.json();
        let key = schema_key(&event, body["action"].as_str());
        seen.insert(key.clone());
        let op = &c.root["webhooks"][key.as_str()]["post"];
        assert!(op.is_object(), "the description has webhook {key}");
        for p in op["parameters"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            if p["required"] == json!(true) && p["in"] == "header" {
                assert!(
                    r.header(name).is_some_and(|v| !v.is_empty()),
                    "{key}: header {name} missing"
                );
            }
        }
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        bad.extend(c.violations(&key, &key, 0, schema, &body));
        let sig = r.header("x-hub-signature-256").unwrap();
        assert!(
            verify(sig, SECRET.as_bytes(), &r.body),
            "{key}: signature verifies"
        );
        assert!(
            r.header("user-agent")
                .unwrap()
                .starts_with("GitHub-Hookshot/")
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        uuid_like(r.header("x-github-delivery").unwrap());
    }
    assert!(
        bad.is_empty(),
        "violations outside the exception list:\n{}",
        bad.join("\n")
    );
    let expected: BTreeSet<String> = [
        "ping",
        "workflow-run-requested",
        "workflow-run-in-progress",
        "workflow-run-completed",
        "workflow-job-queued",
        "workflow-job-waiting",
        "workflow-job-in-progress",
        "workflow-job-completed",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        seen, expected,
        "every webhook the description has was exercised"
    );
    c.assert_every_exception_used();
    sim.shutdown().await;
}

fn uuid_like(s: &str) {
    let parts: Vec<usize> = s.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{s} is a UUID");
}

fn find<'a>(got: &'a [Received], event: &str, action: &str, id: u64) -> Option<&'a Received> {
    got.iter().find(|r| {
        let b = r.json();
        let subject = if event == "workflow_run" {
            &b["workflow_run"]
        } else {
            &b["workflow_job"]
        };
        r.header("x-github-event") == Some(event) && b["action"] == action && subject["id"] == id
    })
}

#[tokio::test]
async fn events_follow_the_clock_and_carry_the_state_at_their_time() {
    let (sim, rx) = demo_with_receiver(|url| WebhookConfig::new(url, SECRET)).await;
    let got = all_events(&sim, &rx).await;
    let rerun = github_sim::cases::ids::RERUN_LATER;
    let requested = find(&got, "workflow_run", "requested", rerun)
        .expect("re-run requested")
        .json();
    assert_eq!(requested["workflow_run"]["run_attempt"], 2);
    assert_eq!(requested["workflow_run"]["status"], "queued");
    let done = find(&got, "workflow_run", "completed", rerun)
        .expect("re-run completed")
        .json();
    assert_eq!(
        (
            done["workflow_run"]["status"].clone(),
            done["workflow_run"]["conclusion"].clone()
        ),
        (json!("completed"), json!("success"))
    );
    assert_eq!(done["workflow"]["path"], ".github/workflows/ci.yml");
    assert_eq!(done["repository"]["full_name"], "acme/api");
    assert_eq!(done["organization"]["login"], "acme");
    // Events that happened before the start are not sent.
    assert!(
        find(
            &got,
            "workflow_run",
            "completed",
            github_sim::cases::ids::TWO_ATTEMPTS
        )
        .is_none()
    );
    let ping = got
        .iter()
        .find(|r| r.header("x-github-event") == Some("ping"))
        .unwrap()
        .json();
    assert_eq!(
        ping["hook"]["config"]["secret"], "********",
        "the secret is never sent"
    );
    assert!(!String::from_utf8_lossy(&got[0].body).contains(SECRET));
    // Jobs come before the run they complete.
    let pos = |event, action, id| {
        got.iter()
            .position(|r| std::ptr::eq(r, find(&got, event, action, id).unwrap()))
            .unwrap()
    };
    let job = sim.scenario().repos[0]
        .runs
        .iter()
        .find(|r| r.id == rerun)
        .unwrap()
        .attempts[1]
        .jobs[0]
        .id;
    assert!(pos("workflow_job", "completed", job) < pos("workflow_run", "completed", rerun));
    sim.shutdown().await;
}

#[tokio::test]
async fn redelivery_keeps_the_delivery_id_and_body() {
    let (sim, rx) = demo_with_receiver(|url| WebhookConfig::new(url, SECRET)).await;
    let first = wait_for(&rx, "ping", |g| !g.is_empty()).await.remove(0);
    let guid = first.header("x-github-delivery").unwrap().to_owned();
    assert!(sim.redeliver(&guid));
    assert!(!sim.redeliver("not-a-delivery"));
    let got = wait_for(&rx, "redelivery", |g| g.len() >= 2).await;
    assert_eq!(got[1].header("x-github-delivery"), Some(guid.as_str()));
    assert_eq!(got[1].body, first.body);
    assert_eq!(
        got[1].header("x-hub-signature-256"),
        first.header("x-hub-signature-256")
    );
    assert!(
        sim.wait_for_deliveries(Duration::from_secs(10), |d| d
            .iter()
            .any(|d| d.redelivery && d.guid == guid && d.status == Some(200)))
            .await
    );
    let r = control(
        &sim,
        "POST",
        "/_sim/webhooks/redeliver",
        Some(&json!({"guid": guid}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200);
    wait_for(&rx, "redelivery through the control route", |g| {
        g.len() >= 3
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn subscriptions_filter_by_repository_and_event_and_unsigned_hooks_send_no_signature() {
    let rx = Receiver::start().await;
    let sim = start_demo().await;
    sim.add_webhook(WebhookConfig {
        secret: None,
        repos: vec!["acme/docs".into()],
        ..WebhookConfig::new(rx.url(), "unused")
    });
    let jobs_only = Receiver::start().await;
    let hook = sim.add_webhook(WebhookConfig {
        events: vec!["workflow_job".into()],
        ..WebhookConfig::new(jobs_only.url(), SECRET)
    });
    assert!(hook.id.is_some());
    let ping = wait_for(&rx, "ping", |g| !g.is_empty()).await;
    assert!(ping[0].header("x-hub-signature-256").is_none());
    assert_eq!(ping[0].json()["repository"]["full_name"], "acme/docs");
    sim.clock().advance(Duration::from_secs(600));
    let got = wait_for(&jobs_only, "job events", |g| {
        g.iter().any(|r| r.json()["action"] == "completed")
    })
    .await;
    assert!(
        got.iter()
            .all(|r| matches!(r.header("x-github-event"), Some("ping" | "workflow_job")))
    );
    assert_eq!(
        got[0].header("x-github-hook-id"),
        Some(hook.id.unwrap().to_string().as_str())
    );
    assert!(
        sim.wait_for_deliveries(Duration::from_secs(10), |_| sim.pending_webhooks() == 0)
            .await
    );
    assert_eq!(
        rx.received().len(),
        1,
        "acme/docs has no events after the start"
    );
    let body: Value = ping[0].json();
    assert_eq!(
        body["hook"]["config"].get("secret"),
        None,
        "no secret, no masked secret"
    );
    sim.shutdown().await;
}
