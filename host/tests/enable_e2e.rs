//! Enabling and disabling an integration over HTTP on the real provider
//! path: the real server (`serve::start`), the built-in CircleCI plugin in
//! the sandbox and the CircleCI simulator on 127.0.0.1. Each refusal is the
//! one the HTTP contract names, `/metrics` counts each validation once with
//! the runtime's outcome label, and a disable ends in-flight captures.

#[path = "capture_support/mod.rs"]
mod support;

use buildsnap::serve;
use std::time::{Duration, Instant};

use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
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
        args.allow_hosts = format!("{},{g}", args.allow_hosts);
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

/// The account endpoint answers 404: the base URL's server is not the
/// CircleCI API (a wrong base URL, most often). A 422 the person can act on,
/// not a 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_endpoint_answering_404_is_422_not_provider_api() {
    let (sim, server, api, _dir) = start(&[]).await;
    sim.set_fault(FaultRule::always(
        "/api/v2/me",
        Fault::ServerError {
            status: 404,
            body: Some(r#"{"message":"Not found."}"#.into()),
        },
    ));
    let (s, v) = enable(&api, json!({"token": ALICE, "base_url": sim.base_url()})).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "not_provider_api", "{v}");
    assert!(v.to_string().contains("check the base URL"), "{v}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disable_ends_the_capture_stalled_on_the_provider_at_once_and_re_enabling_works() {
    let sha = stable_sha("enable:disable-stalled");
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
    // The provider accepts the search and never answers: only the disable
    // can end the call before its 30 s timeout.
    let hang = env.sim.set_fault(FaultRule::always(
        "/api/v2/project/*",
        Fault::Hang { ms: None },
    ));
    let id = env.api.deploy(&sha, &start, "production").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while env.sim.count("/api/v2/project/") == 0 {
        assert!(Instant::now() < deadline, "the search never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dropped = "buildsnap_captures_total{outcome=\"dropped\"}";
    assert_eq!(metric(&env.api.metrics().await, dropped), 0);

    let disabled_at = Instant::now();
    env.api.disable_circleci().await;
    // The worker ends the capture and counts it: the observable end.
    expect_metric(&env.api, dropped, 1).await;
    let took = disabled_at.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the stalled call ended {took:?} after the disable"
    );
    // Nothing was stored for it: the snapshot is the disable's error, empty.
    let snap = env.api.snapshot(id).await;
    assert_eq!(snap["state"], "error", "{snap}");
    assert!(
        snap["explain"].as_str().unwrap().contains("disabled"),
        "{snap}"
    );
    assert_eq!(snap["builds"], json!([]), "{snap}");
    assert_eq!(env.sim.count("/api/v2/project/"), 1, "no call after it");

    // Enabled again (the provider answers now): a new deploy is captured,
    // the earlier disable does not end it.
    env.sim.remove_fault(hang);
    let (s, v) = env
        .api
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/integrations/circleci",
            Some(json!({"token": ALICE, "base_url": env.sim.base_url()})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // The disable also stopped the project using it.
    let (s, v) = env
        .api
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/integrations/circleci/default-build-server",
            Some(json!({"project": "api"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let again = env.api.deploy(&sha, &start, "staging").await;
    let snap = env.api.wait_snapshot(again, Duration::from_secs(60)).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(snap["builds"].as_array().unwrap().len(), 1, "{snap}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_timeout_setting_ends_a_looping_validation() {
    // The looping test guest spins forever in validate-credentials.
    let plugins = tempfile::tempdir().unwrap();
    let looper =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/dist/looper.wasm");
    std::fs::copy(&looper, plugins.path().join("looper.wasm")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = buildsnap::settings::Settings::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir.path())
        .plugins_dir(Some(plugins.path().to_path_buf()))
        .allow_hosts("https://example.invalid")
        .admin_token(Some(ADMIN.into()))
        .sync_interval(Duration::ZERO)
        .plugin_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let server = serve::start(settings).await.expect("server starts");
    assert!(server.registry.get("looper").is_some(), "looper loaded");
    let api = Api::new(server.addr);
    let (s, v) = api
        .call(Method::POST, "/api/v1/orgs", Some(json!({"slug": "acme"})))
        .await;
    assert_eq!(s, 201, "{v}");

    let started = Instant::now();
    let (s, v) = api
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/integrations/looper",
            Some(json!({"token": "t", "base_url": "https://example.invalid"})),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(s, 502, "{v}");
    assert_eq!(v["error"]["code"], "provider_unreachable", "{v}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "a 1 s timeout ended the call after {took:?}"
    );
    let text = api.metrics().await;
    assert_eq!(
        metric(
            &text,
            "buildsnap_plugin_calls_total{provider=\"looper\",call=\"validate_credentials\",outcome=\"timeout\"}"
        ),
        1,
        "{text}"
    );
    server.stop().await.unwrap();
}
