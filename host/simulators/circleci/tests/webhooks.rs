//! Outbound webhooks to a local receiver, with signature verification.

mod common;

use std::time::Duration;

use circleci_sim::webhooks::{sign, verify};
use circleci_sim::{SimOptions, Simulator, WebhookConfig};
use common::*;
use serde_json::Value;

#[test]
fn signature_matches_the_documented_test_vectors() {
    // The test vectors of CircleCI's outbound webhooks guide ("Validate webhooks").
    assert_eq!(
        sign(b"secret", b"hello world"),
        "734cc62f32841568f45715aeb9f4d7891324e6d948e4c6c60c0621cdac48623a"
    );
    assert_eq!(
        sign(b"secret", b"foo"),
        "773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4"
    );
    assert!(verify(
        "v1=734cc62f32841568f45715aeb9f4d7891324e6d948e4c6c60c0621cdac48623a",
        b"secret",
        b"hello world"
    ));
    assert!(verify(
        "v2=ignored,v1=773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4",
        b"secret",
        b"foo"
    ));
    assert!(!verify(
        "v1=773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4",
        b"other",
        b"foo"
    ));
}

#[tokio::test]
async fn workflow_and_job_completed_events_are_signed_and_delivered_as_the_clock_moves() {
    let rx = Receiver::start(vec![]).await;
    let opts = SimOptions {
        webhooks: vec![WebhookConfig::new(rx.url(), "s3cr3t")],
        ..SimOptions::default()
    };
    let sim = Simulator::start(demo_scenario(), opts).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        rx.received().is_empty(),
        "nothing finishes before the clock moves"
    );

    sim.clock().advance(Duration::from_secs(150)); // 12:02:30: job "build" of pipeline 6 failed; the approval succeeded
    assert!(
        sim.wait_for_deliveries(Duration::from_secs(5), |d| d.len() >= 2)
            .await
    );
    sim.clock().advance(Duration::from_secs(300)); // everything scripted is final
    // Jobs: hold, deploy-prod, build, lint = 4; workflows: deploy (success), build (failed) = 2.
    assert!(
        sim.wait_for_deliveries(Duration::from_secs(5), |d| d.len() >= 6)
            .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got = rx.received();
    assert_eq!(got.len(), 6);
    for r in &got {
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["user-agent"], "CircleCI-Webhook/1.0");
        let sig = r.headers["circleci-signature"].to_str().unwrap();
        assert_eq!(sig, format!("v1={}", sign(b"s3cr3t", &r.body)));
        assert!(verify(sig, b"s3cr3t", &r.body));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            r.headers["circleci-event-type"].to_str().unwrap(),
            v["type"].as_str().unwrap()
        );
        assert_eq!(
            v["project"]["slug"], "github/acme/api",
            "webhooks use the long slug form"
        );
        assert!(
            v["happened_at"].as_str().unwrap().ends_with("000Z")
                || v["happened_at"].as_str().unwrap().len() == 27
        );
    }
    let events: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let workflows: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "workflow-completed")
        .collect();
    assert_eq!(workflows.len(), 2);
    let failed = workflows
        .iter()
        .find(|e| e["workflow"]["name"] == "build")
        .unwrap();
    assert_eq!(
        (
            failed["workflow"]["status"].as_str(),
            failed["workflow"]["stopped_at"].as_str()
        ),
        (Some("failed"), Some("2025-06-01T12:03:00Z"))
    );
    assert_eq!(failed["pipeline"]["vcs"]["provider_name"], "github");
    assert_eq!(failed["pipeline"]["number"], 6);
    let approval = events
        .iter()
        .find(|e| e["type"] == "job-completed" && e["job"]["name"] == "hold")
        .unwrap();
    assert!(approval["job"]["number"].is_null());
    // Order: a workflow's event comes after its jobs'.
    let pos = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred).unwrap();
    assert!(
        pos(&|e| e["job"]["name"] == "lint")
            < pos(&|e| e["type"] == "workflow-completed" && e["workflow"]["name"] == "build")
    );
    // Nothing more fires later: every scripted transition has been sent once.
    sim.clock().advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(rx.received().len(), 6);
}

#[tokio::test]
async fn duplicates_and_retries() {
    let rx = Receiver::start(vec![500]).await; // first POST fails, the rest succeed
    let mut c = WebhookConfig::new(rx.url(), "secret");
    c.events = vec!["workflow-completed".into()];
    c.duplicates = 1;
    c.projects = Some(vec!["github/acme/api".into()]);
    let sim = Simulator::start(demo_scenario(), SimOptions::default())
        .await
        .unwrap();
    sim.add_webhook(c);
    sim.clock().advance(Duration::from_secs(181)); // 12:03:01: workflow "build" failed
    assert!(
        sim.wait_for_deliveries(Duration::from_secs(5), |d| d
            .iter()
            .filter(|x| x.status == Some(200))
            .count()
            >= 2)
            .await
    );
    let d = sim.webhook_deliveries();
    assert_eq!(d.len(), 3, "{d:?}");
    assert_eq!((d[0].status, d[0].attempt, d[0].copy), (Some(500), 1, 0));
    assert_eq!((d[1].status, d[1].attempt, d[1].copy), (Some(200), 2, 0));
    assert_eq!((d[2].status, d[2].copy), (Some(200), 1));
    let bodies: Vec<Value> = rx
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3);
    assert!(
        bodies.iter().all(|b| b["id"] == bodies[0]["id"]),
        "duplicates share the event id"
    );
}

#[tokio::test]
async fn webhooks_can_be_added_through_the_admin_endpoint_without_a_secret() {
    let rx = Receiver::start(vec![]).await;
    let sim = start_demo().await;
    let cfg = format!(r#"{{"url": "{}", "events": ["job-completed"]}}"#, rx.url());
    assert_eq!(
        admin(&sim, "POST", "/_sim/webhooks", Some(&cfg))
            .await
            .status,
        200
    );
    admin(
        &sim,
        "POST",
        "/_sim/clock/advance",
        Some(r#"{"seconds": 61}"#),
    )
    .await; // approval "hold" succeeded
    assert!(
        sim.wait_for_deliveries(Duration::from_secs(5), |d| !d.is_empty())
            .await
    );
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].headers.get("circleci-signature").is_none());
    let deliveries = admin(&sim, "GET", "/_sim/webhooks/deliveries", None)
        .await
        .json();
    assert_eq!(deliveries[0]["event_type"], "job-completed");
}
