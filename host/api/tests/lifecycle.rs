//! The server's life: a restart on the same data dir keeps everything, a graceful shutdown finishes requests in flight.
//! A real server on 127.0.0.1:0 with the fake host services, and a real client.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn restart_on_same_data_dir_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let srv = Server::start(dir.path()).await;
    let r = call(
        &c,
        "POST",
        &format!("{}/api/v1/orgs", srv.base),
        Some(ADMIN),
        Some(json!({"slug": "acme", "name": "Acme"})),
    )
    .await;
    assert_eq!(r.status, 201);
    let t = token(&c, &srv.base, "acme", ADMIN, "all").await;
    let b = srv.base.clone();
    call(
        &c,
        "POST",
        &format!("{b}/api/v1/orgs/acme/projects"),
        Some(&t),
        Some(json!({"slug": "web", "name": "Web"})),
    )
    .await;
    call(
        &c,
        "POST",
        &format!("{b}/api/v1/orgs/acme/projects/web/code-deployments"),
        Some(&t),
        Some(json!({"slug": "main", "repo_url": "https://github.com/acme/web", "branch": "main"})),
    )
    .await;
    call(
        &c,
        "PUT",
        &format!("{b}/api/v1/orgs/acme/integrations/circleci"),
        Some(&t),
        Some(json!({"token": "good-persist"})),
    )
    .await;
    call(
        &c,
        "PUT",
        &format!("{b}/api/v1/orgs/acme/integrations/circleci/default-build-server"),
        Some(&t),
        Some(json!({"project": "web"})),
    )
    .await;
    let d = call(
        &c,
        "POST",
        &format!("{b}/api/v1/orgs/acme/projects/web/deploys"),
        Some(&t),
        Some(json!({"sha": "abcdef1"})),
    )
    .await
    .body;
    srv.stop().await;
    // The old server is gone.
    assert!(c.get(format!("{b}/healthz")).send().await.is_err());

    let srv = Server::start(dir.path()).await;
    let b = srv.base.clone();
    let r = call(
        &c,
        "GET",
        &format!("{b}/api/v1/orgs/acme/deploys/{}", d["id"]),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &d),
        "org token and deploy survive a restart"
    );
    let r = call(
        &c,
        "GET",
        &format!("{b}/api/v1/orgs/acme/integrations/circleci"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.body["enabled"], true);
    assert_eq!(r.body["default_build_server_for"], json!(["web"]));
    let (_, tok) = srv
        .store
        .integration_token("acme", "circleci")
        .unwrap()
        .unwrap();
    assert_eq!(tok.expose(), "good-persist");
    // The pending capture is still queued for the worker.
    assert_eq!(
        srv.store.next_capture_job().unwrap().unwrap().deploy_id,
        d["id"].as_i64().unwrap()
    );
    srv.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let w = world().await;
    let mut w = w;
    let c = w.c.clone();
    let url = w.url("/api/v1/orgs/acme/integrations/circleci");
    let all = w.all.clone();
    // slow- tokens take 800 ms to validate.
    let slow = tokio::spawn(async move {
        call(
            &c,
            "PUT",
            &url,
            Some(&all),
            Some(json!({"token": "slow-token"})),
        )
        .await
    });
    // Wait until the request is inside the provider call (in flight).
    let t0 = std::time::Instant::now();
    while w
        .srv
        .services
        .validations
        .load(std::sync::atomic::Ordering::SeqCst)
        == 0
    {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(10),
            "request never reached the provider"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let serving = w.srv.trigger_shutdown();
    let r = slow.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["enabled"], true);
    tokio::time::timeout(std::time::Duration::from_secs(5), serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // No longer accepting.
    let fresh = client();
    assert!(fresh.get(w.url("/healthz")).send().await.is_err());
    w.c = fresh;
}
