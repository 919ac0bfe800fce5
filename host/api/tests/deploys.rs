//! Registering deploys and reading them over HTTP.
//! A real server on 127.0.0.1:0 with the fake host services, and a real client.

mod common;

use buildsnap_domain::{Status, Summary};
use buildsnap_store::{FinalSnapshot, SnapshotState, ts};
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn deploy_registration_rules_and_reads() {
    let w = world().await;
    let reg = "/api/v1/orgs/acme/projects/web/deploys";
    let r = w.post(reg, json!({"sha": "abcdef1"})).await;
    assert_error(&r, 404, "project_not_found");
    w.post(
        "/api/v1/orgs/acme/projects",
        json!({"slug": "web", "name": "Web"}),
    )
    .await;
    let r = w.post(reg, json!({"sha": "abcdef1"})).await;
    assert_error(&r, 409, "no_code_deployment");
    with_build_server_on_existing(&w).await;

    for bad in ["abc", "abcdefg", "a".repeat(41).as_str(), "abcdef1 "] {
        let r = w.as_(&w.deployer).post(reg, json!({"sha": bad})).await;
        assert_error(&r, 400, "invalid_sha");
    }
    let r = w
        .as_(&w.deployer)
        .post(reg, json!({"sha": "abcdef1", "deployed_at": "yesterday"}))
        .await;
    assert_error(&r, 400, "invalid_deployed_at");

    let before = ts::now();
    let r = w
        .as_(&w.deployer)
        .post(reg, json!({"sha": "ABCDEF1234"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let d1 = r.body.clone();
    assert_eq!(d1["sha"], "abcdef1234");
    assert_eq!(d1["environment"], "production");
    assert_eq!(d1["project"], "web");
    assert_eq!(d1["code_deployment"], "main");
    let at = ts::parse(d1["deployed_at"].as_str().unwrap()).unwrap();
    assert!(at >= before - time::Duration::seconds(1) && at <= ts::now());
    assert_eq!(d1["builds"]["state"], "pending");
    assert_eq!(d1["builds"]["as_of"], d1["deployed_at"]);
    assert_eq!(d1["builds"]["provider"], "circleci");
    assert_eq!(d1["builds"]["build_project"], "gh/acme/web");
    assert_eq!(d1["builds"]["summary"], "none");
    assert_eq!(d1["builds"]["builds"], json!([]));
    assert_eq!(d1["builds"]["captured_at"], Value::Null);
    // The capture worker is woken ...
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        w.srv.capture_notify.notified(),
    )
    .await
    .expect("registration notifies the capture worker");
    // ... and the capture job is durable and queued.
    let job = w.srv.store.next_capture_job().unwrap().unwrap();
    assert_eq!(job.deploy_id, d1["id"].as_i64().unwrap());
    assert_eq!(
        (job.sha.as_str(), job.provider.as_str(), job.attempts),
        ("abcdef1234", "circleci", 1)
    );

    let r = w.post(reg, json!({"sha": "1234567", "environment": "staging", "deployed_at": "2024-05-01T14:00:00+02:00"})).await;
    assert_eq!(r.status, 202);
    let d2 = r.body.clone();
    assert_eq!(d2["deployed_at"], "2024-05-01T12:00:00Z");
    assert_eq!(d2["environment"], "staging");

    // A second code deployment makes omission ambiguous.
    w.post(
        "/api/v1/orgs/acme/projects/web/code-deployments",
        json!({"slug": "eu", "repo_url": "https://github.com/acme/web", "branch": "eu"}),
    )
    .await;
    let r = w
        .as_(&w.deployer)
        .post(reg, json!({"sha": "abcdef1"}))
        .await;
    assert_error(&r, 422, "ambiguous_code_deployment");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("main, eu")
    );
    let r = w
        .as_(&w.deployer)
        .post(reg, json!({"sha": "abcdef1", "code_deployment": "nope"}))
        .await;
    assert_error(&r, 422, "unknown_code_deployment");
    let r = w
        .as_(&w.deployer)
        .post(reg, json!({"sha": "fedcba9", "code_deployment": "eu"}))
        .await;
    assert_eq!(r.status, 202);
    let d3 = r.body.clone();
    assert_eq!(d3["code_deployment"], "eu");
    assert_eq!(d3["builds"]["build_project"], Value::Null);

    // Project without build server: no_build_server, no capture job.
    w.post(
        "/api/v1/orgs/acme/projects",
        json!({"slug": "docs", "name": "Docs"}),
    )
    .await;
    w.post(
        "/api/v1/orgs/acme/projects/docs/code-deployments",
        json!({"slug": "main", "repo_url": "https://github.com/acme/docs", "branch": "main"}),
    )
    .await;
    // Consume the wake-up left by the pending registrations above.
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        w.srv.capture_notify.notified(),
    )
    .await
    .unwrap();
    let depth = w.srv.store.capture_queue_depth().unwrap();
    let r = w
        .as_(&w.deployer)
        .post(
            "/api/v1/orgs/acme/projects/docs/deploys",
            json!({"sha": "0000000"}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["builds"]["state"], "no_build_server");
    assert!(
        r.body["builds"]["explain"]
            .as_str()
            .unwrap()
            .contains("no build server")
    );
    assert_eq!(w.srv.store.capture_queue_depth().unwrap(), depth);
    let woken = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        w.srv.capture_notify.notified(),
    )
    .await;
    assert!(woken.is_err(), "no capture, no wake-up");
    let d4 = r.body.clone();

    // Reads: newest deployed_at first (d2 is in 2024, so last).
    let r = w.get("/api/v1/orgs/acme/deploys").await;
    let ids: Vec<i64> = r.body["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [&d4, &d3, &d1, &d2].map(|d| d["id"].as_i64().unwrap()));
    let r = w.get("/api/v1/orgs/acme/deploys?project=web&limit=2").await;
    let ids: Vec<i64> = r.body["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [&d3, &d1].map(|d| d["id"].as_i64().unwrap()));
    let r = w.get("/api/v1/orgs/acme/deploys?limit=0").await;
    assert_error(&r, 400, "invalid_limit");
    let r = w.get("/api/v1/orgs/acme/deploys?project=ghost").await;
    assert_error(&r, 404, "project_not_found");
    let id1 = d1["id"].as_i64().unwrap();
    let r = w.get(&format!("/api/v1/orgs/acme/deploys/{id1}")).await;
    assert_eq!((r.status, &r.body), (200, &d1));
    let r = w
        .get(&format!("/api/v1/orgs/acme/deploys/{id1}/builds"))
        .await;
    assert_eq!((r.status, &r.body), (200, &d1["builds"]));
    let r = w.get("/api/v1/orgs/acme/deploys/999999").await;
    assert_error(&r, 404, "deploy_not_found");
    let r = w.get("/api/v1/orgs/acme/deploys/abc").await;
    assert_error(&r, 404, "deploy_not_found");

    // Isolation: globex cannot read acme's deploy, even by id through its own org.
    let r = w
        .as_(&w.other)
        .get(&format!("/api/v1/orgs/globex/deploys/{id1}"))
        .await;
    assert_error(&r, 404, "deploy_not_found");
    let r = w
        .as_(&w.other)
        .get(&format!("/api/v1/orgs/acme/deploys/{id1}/builds"))
        .await;
    assert_error(&r, 404, "org_not_found");
    let r = w.as_(&w.other).get("/api/v1/orgs/globex/deploys").await;
    assert_eq!(r.body["deploys"], json!([]));

    // GET builds returns the stored final snapshot once the worker wrote it.
    let written = vec![frozen("wf-1", Status::Success)];
    let builds = serde_json::to_value(&written).unwrap();
    let fin = FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(Status::Success),
        builds: written,
        explain: None,
        build_project: None,
        captured_at: ts::now(),
    };
    assert!(w.srv.store.finish_capture(id1, &fin).unwrap());
    let r = w
        .get(&format!("/api/v1/orgs/acme/deploys/{id1}/builds"))
        .await;
    assert_eq!(r.body["state"], "complete");
    assert_eq!(r.body["summary"], "success");
    assert_eq!(r.body["builds"], builds);
    assert_eq!(r.body["build_project"], "gh/acme/web");
    assert!(r.body["captured_at"].is_string());
}
