//! Enabling an integration over HTTP on the real provider path: the real
//! server (`serve::start`), the built-in CircleCI plugin in the sandbox and
//! the CircleCI simulator on 127.0.0.1. Each refusal is the one the HTTP
//! contract names, and `/metrics` counts each validation once, with the
//! runtime's outcome label.

#[path = "capture_support/mod.rs"]
mod support;

use buildsnap::serve;
use circleci_sim::{Fault, FaultRule, SimHandle, SimOptions};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

/// The `validate_credentials` sample of `outcome`.
fn validations(outcome: &str) -> String {
    format!(
        "buildsnap_plugin_calls_total{{provider=\"circleci\",call=\"validate_credentials\",outcome=\"{outcome}\"}}"
    )
}

/// Every `validate_credentials` sample line of the exposition.
fn validation_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("call=\"validate_credentials\""))
        .collect()
}

/// An origin on 127.0.0.1 where nothing listens (the port was just freed).
fn dead_origin() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// The real server, granted the simulator's origin and `extra_grants`,
/// with org `acme` created.
async fn start(extra_grants: &[&str]) -> (SimHandle, serve::Server, Api, tempfile::TempDir) {
    let sim = start_sim(builder().build().unwrap(), SimOptions::default()).await;
    let dir = data_dir(&sim).await;
    let mut args = serve_args(&sim, dir.path(), 0);
    for g in extra_grants {
        args.plugins.allow_hosts = format!("{},{g}", args.plugins.allow_hosts);
    }
    let server = buildsnap::serve::start(args).await.expect("server starts");
    let api = Api::new(server.addr);
    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    (sim, server, api, dir)
}

async fn enable(api: &Api, body: Value) -> (u16, Value) {
    api.call(
        Method::PUT,
        "/api/v1/orgs/acme/integrations/circleci",
        Some(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_validation_is_counted_once_with_outcome_ok() {
    let (sim, server, api, _dir) = start(&[]).await;
    let (s, v) = enable(&api, json!({"token": ALICE, "base_url": sim.base_url()})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["account"]["login"], "alice", "{v}");
    assert_eq!(sim.count("/api/v2/me"), 1, "one provider call");
    let text = api.metrics().await;
    assert_eq!(
        validation_lines(&text),
        vec![format!("{} 1", validations("ok"))],
        "{text}"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_422_invalid_credentials_and_counted_as_provider_error() {
    let (sim, server, api, _dir) = start(&[]).await;
    let (s, v) = enable(
        &api,
        json!({"token": "not-a-real-token", "base_url": sim.base_url()}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "invalid_credentials", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("You must log in first."),
        "the provider's reason is shown: {v}"
    );
    let text = api.metrics().await;
    assert_eq!(
        validation_lines(&text),
        vec![format!("{} 1", validations("provider_error"))],
        "{text}"
    );
    // Nothing was stored: the integration is still disabled.
    let v = api.get("/api/v1/orgs/acme/integrations/circleci").await;
    assert_eq!(v["enabled"], false, "{v}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_not_granted_is_422_host_not_allowed_before_any_plugin_call() {
    let (sim, server, api, _dir) = start(&[]).await;
    let (s, v) = enable(
        &api,
        json!({"token": ALICE, "base_url": "https://circleci.example.com"}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "host_not_allowed", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BUILDSNAP_ALLOW_HOSTS"),
        "{v}"
    );
    assert_eq!(sim.requests().len(), 0, "nothing left the host");
    let text = api.metrics().await;
    assert!(validation_lines(&text).is_empty(), "{text}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_is_502_provider_unreachable() {
    let dead = dead_origin();
    let (_sim, server, api, _dir) = start(&[&dead]).await;
    let (s, v) = enable(&api, json!({"token": ALICE, "base_url": dead})).await;
    assert_eq!(s, 502, "{v}");
    assert_eq!(v["error"]["code"], "provider_unreachable", "{v}");
    assert!(
        !v.to_string().contains(ALICE),
        "the token is never echoed: {v}"
    );
    let text = api.metrics().await;
    assert_eq!(
        validation_lines(&text),
        vec![format!("{} 1", validations("provider_error"))],
        "{text}"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_answer_that_is_no_account_is_502_provider_error() {
    let (sim, server, api, _dir) = start(&[]).await;
    sim.set_fault(FaultRule::always(
        "/api/v2/me",
        Fault::ServerError {
            status: 404,
            body: Some(r#"{"message":"Not found."}"#.into()),
        },
    ));
    let (s, v) = enable(&api, json!({"token": ALICE, "base_url": sim.base_url()})).await;
    assert_eq!(s, 502, "{v}");
    assert_eq!(v["error"]["code"], "provider_error", "{v}");
    let text = api.metrics().await;
    assert_eq!(
        validation_lines(&text),
        vec![format!("{} 1", validations("provider_error"))],
        "{text}"
    );
    // Then the fault goes away and the same PUT succeeds: counted apart.
    sim.clear_faults();
    let (s, v) = enable(&api, json!({"token": ALICE, "base_url": sim.base_url()})).await;
    assert_eq!(s, 200, "{v}");
    let text = api.metrics().await;
    assert_eq!(metric(&text, &validations("ok")), 1, "{text}");
    assert_eq!(metric(&text, &validations("provider_error")), 1, "{text}");
    server.stop().await.unwrap();
}
