//! Alert hooks over HTTP (fake host services): add, list, remove, their
//! deliveries, and the refusals; the secret and the URL never come back.

mod common;

use buildsnap_store::Scope;
use common::*;
use serde_json::json;

const SECRET: &str = "a-signing-secret-of-some-length";

#[tokio::test]
async fn hooks_are_added_listed_and_removed_without_showing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    srv.store.create_org("acme", "Acme").unwrap();
    let token = srv
        .store
        .create_token("acme", "t", Scope::All)
        .unwrap()
        .token;
    let c = client();
    let url = |p: &str| format!("{}/api/v1/orgs/acme/alert-hooks{p}", srv.base);
    let hook_url = "https://hooks.granted.example/services/T0/B0/XYZ123";

    let r = call(&c, "POST", &url(""), Some(&token), Some(json!({
        "url": hook_url, "events": ["deploy.builds_changed", "snapshot.completed"], "secret": SECRET, "format": "slack"
    }))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["url"], "https://hooks.granted.example/…Z123",
        "masked"
    );
    assert_eq!(
        r.body["events"],
        json!(["snapshot.completed", "deploy.builds_changed"])
    );
    assert_eq!(r.body["format"], "slack");
    assert!(
        !r.text.contains(SECRET) && !r.text.contains("XYZ123"),
        "{}",
        r.text
    );
    let id = r.body["id"].as_i64().unwrap();

    let listed = call(&c, "GET", &url(""), Some(&token), None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["alert_hooks"][0]["id"], id);
    assert!(!listed.text.contains(SECRET) && !listed.text.contains("XYZ123"));
    // Nothing in the database file in plain text either.
    let db = std::fs::read(srv.store.path()).unwrap();
    let wal = std::fs::read(srv.store.path().with_extension("db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
        assert!(
            !bytes
                .windows(hook_url.len())
                .any(|w| w == hook_url.as_bytes())
        );
    }

    let d = call(
        &c,
        "GET",
        &url(&format!("/{id}/deliveries")),
        Some(&token),
        None,
    )
    .await;
    assert_eq!((d.status, d.body["deliveries"].clone()), (200, json!([])));

    let r = call(&c, "DELETE", &url(&format!("/{id}")), Some(&token), None).await;
    assert_eq!(r.status, 204);
    let r = call(&c, "DELETE", &url(&format!("/{id}")), Some(&token), None).await;
    assert_error(&r, 404, "alert_hook_not_found");
    let r = call(
        &c,
        "GET",
        &url(&format!("/{id}/deliveries")),
        Some(&token),
        None,
    )
    .await;
    assert_error(&r, 404, "alert_hook_not_found");
    srv.stop().await;
}

#[tokio::test]
async fn refusals_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    srv.store.create_org("acme", "Acme").unwrap();
    let token = srv
        .store
        .create_token("acme", "t", Scope::All)
        .unwrap()
        .token;
    let c = client();
    let url = format!("{}/api/v1/orgs/acme/alert-hooks", srv.base);
    let ok = "https://hooks.granted.example/x";
    for (body, status, code) in [
        (
            json!({"url": "https://elsewhere.example/x", "events": ["snapshot.completed"], "secret": SECRET}),
            422,
            "host_not_allowed",
        ),
        (
            json!({"url": ok, "events": [], "secret": SECRET}),
            400,
            "invalid_request",
        ),
        (
            json!({"url": ok, "events": ["deploy.exploded"], "secret": SECRET}),
            400,
            "invalid_request",
        ),
        (
            json!({"url": ok, "events": ["snapshot.completed"], "secret": "short"}),
            400,
            "invalid_request",
        ),
        (
            json!({"url": ok, "events": ["snapshot.completed"], "secret": SECRET, "format": "teams"}),
            400,
            "invalid_request",
        ),
        (
            json!({"url": ok, "events": ["snapshot.completed"]}),
            400,
            "invalid_json",
        ),
    ] {
        let r = call(&c, "POST", &url, Some(&token), Some(body.clone())).await;
        assert_error(&r, status, code);
        assert!(!r.text.contains(SECRET), "{body}: {}", r.text);
    }
    let deploy_only = srv
        .store
        .create_token("acme", "ci", Scope::RegisterDeploy)
        .unwrap()
        .token;
    let r = call(&c, "GET", &url, Some(&deploy_only), None).await;
    assert_error(&r, 403, "forbidden");
    srv.stop().await;
}
