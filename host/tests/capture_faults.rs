//! Deploy build snapshots end to end when the provider misbehaves: rate
//! limits, server errors, a revoked token, an inaccessible project.
//!
//! The real HTTP API started with `serve::start` on a temp data dir, the
//! built-in CircleCI plugin, and the CircleCI simulator on 127.0.0.1 (granted
//! with --allow-hosts). Deploys are registered and their snapshots read back
//! through the API; what crossed the wire is checked in the simulator's log.

#[path = "capture_support/mod.rs"]
mod support;

use std::time::Duration;

use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, RateLimitBody, SimOptions};
use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_beyond_the_call_is_retried_by_the_queue_honouring_retry_after() {
    let sha = stable_sha("capture:429");
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
    // Five 429s: the host's HTTP layer retries four times within the call
    // (honouring Retry-After), then the plugin reports rate-limited and the
    // capture queue waits it out before the next attempt.
    env.sim.set_fault(FaultRule::times(
        "/api/v2/project/*",
        5,
        Fault::RateLimit {
            retry_after_secs: 1,
            body: RateLimitBody::Json,
            http_date: false,
        },
    ));
    let id = env.api.deploy(&sha, &plus(&start, 120), "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(snap["summary"], "success");
    assert_eq!(env.sim.count_by_status().get(&429), Some(&5));
    env.sim
        .assert_retry_after_respected()
        .map_err(|v| v.to_string())
        .unwrap();
    expect_metric(&env.api, "buildsnap_captures_total{outcome=\"retry\"}", 1).await;
    expect_metric(
        &env.api,
        "buildsnap_captures_total{outcome=\"complete\"}",
        1,
    )
    .await;
    expect_metric(&env.api, "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"builds_for_commit\",outcome=\"provider_error\"}", 1).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_backoff_then_captured() {
    let sha = stable_sha("capture:5xx");
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
    // Four 503s exhaust one call's own retries; the queue retries the capture.
    env.sim.set_fault(FaultRule::times(
        "/api/v2/pipeline/*/workflow",
        4,
        Fault::ServerError {
            status: 503,
            body: None,
        },
    ));
    let id = env.api.deploy(&sha, &plus(&start, 120), "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(statuses(&snap), ["success"]);
    assert_eq!(env.sim.count_by_status().get(&503), Some(&4));
    expect_metric(&env.api, "buildsnap_captures_total{outcome=\"retry\"}", 1).await;
    // The retry started from scratch: two searches in all.
    assert_eq!(on(&env.sim, "/api/v2/project/{slug}/pipeline"), 2);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_token_turns_the_integration_to_needs_attention() {
    let sha = stable_sha("capture:401");
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
    // The token stops working after it was validated (revoked at CircleCI).
    env.sim.set_fault(FaultRule::always(
        "/api/v2/*",
        Fault::ServerError {
            status: 401,
            body: Some(r#"{"message":"You must log in first."}"#.into()),
        },
    ));
    let id = env.api.deploy(&sha, &start, "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "error", "{snap}");
    let explain = snap["explain"].as_str().unwrap();
    assert!(
        explain.contains("rejected") && explain.contains("You must log in first."),
        "{explain}"
    );
    let integration = env.api.get("/api/v1/orgs/acme/integrations/circleci").await;
    assert_eq!(integration["status"], "needs_attention", "{integration}");
    assert!(
        integration["last_error"]
            .as_str()
            .unwrap()
            .contains("You must log in first.")
    );
    assert!(!integration.to_string().contains(ALICE));
    // One call, no retry of a 401.
    assert_eq!(env.sim.count_by_status().get(&401), Some(&1));
    // Another deploy meanwhile: the rejected token is not tried again.
    let other = env
        .api
        .deploy(
            &stable_sha("capture:401-other"),
            &plus(&start, 120),
            "staging",
        )
        .await;
    let snap = env.api.wait_snapshot(other, WAIT).await;
    assert_eq!(snap["state"], "error");
    assert!(
        snap["explain"]
            .as_str()
            .unwrap()
            .contains("needs attention"),
        "{snap}"
    );
    assert_eq!(env.sim.count_by_status().get(&401), Some(&1));
    // Enabled again with a good token: captures work again.
    env.sim.clear_faults();
    let (s, v) = env
        .api
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/integrations/circleci",
            Some(json!({"token": ALICE, "base_url": env.sim.base_url()})),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")), "{v}");
    assert_eq!(
        v["webhook_configured"], true,
        "the webhook secret is kept when not given"
    );
    let again = env.api.deploy(&sha, &plus(&start, 120), "qa").await;
    assert_eq!(
        env.api.wait_snapshot(again, WAIT).await["state"],
        "complete"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inaccessible_project_is_an_error_and_a_future_deploy_waits_for_its_time() {
    let sha = stable_sha("capture:inaccessible");
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
    env.api
        .setup(&env.sim, ALICE, Some("gh/acme/missing"))
        .await;
    let id = env.api.deploy(&sha, &plus(&start, 120), "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "error", "{snap}");
    assert_eq!(snap["build_project"], "gh/acme/missing");
    let explain = snap["explain"].as_str().unwrap();
    assert!(
        explain.contains("project not accessible") && explain.contains("gh/acme/missing"),
        "{explain}"
    );
    assert_eq!(
        env.sim.count_by_status().get(&404),
        Some(&1),
        "a 404 is not retried"
    );

    // Deployed "in an hour": the builds as of then are not knowable yet; the
    // capture waits without asking the provider or spending an attempt.
    env.sim.clear_requests();
    let future = env
        .api
        .deploy(&sha, &plus(&real_now_minus(0), 3600), "later")
        .await;
    expect_metric(
        &env.api,
        "buildsnap_captures_total{outcome=\"deferred\"}",
        1,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.api.snapshot(future).await["state"], "pending");
    assert!(env.sim.requests().is_empty(), "{:#?}", env.sim.requests());
    env.stop().await;
}

/// The attempt bound, with the worker driven directly (a short backoff and
/// a bound of 3 instead of the default 1 s and 8, which take minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_errors_end_in_error_after_the_attempt_bound() {
    use buildsnap::capture::{Capture, CaptureConfig};
    use buildsnap_store::{
        Account, NewCodeDeployment, NewDeploy, ProviderToken, SecretKey, SnapshotState, Store,
    };

    let sha = stable_sha("capture:bound");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))),
        )
        .build()
        .unwrap();
    let sim = start_sim(scenario, SimOptions::default()).await;
    let start = sim_start(&sim);
    sim.set_fault(FaultRule::always(
        "/api/v2/project/*",
        Fault::ServerError {
            status: 502,
            body: None,
        },
    ));
    let dir = data_dir(&sim).await;
    let store = Store::open(
        dir.path(),
        SecretKey::load_or_create(dir.path(), None).unwrap(),
    )
    .unwrap();
    store.create_org("acme", "Acme").unwrap();
    store.create_project("acme", "api", "API").unwrap();
    let cd = NewCodeDeployment {
        slug: "prod".into(),
        repo_url: "https://github.com/acme/api".into(),
        branch: "main".into(),
        build_project: Some(PROJECT.into()),
        branch_builds_only: false,
    };
    store.create_code_deployment("acme", "api", &cd).unwrap();
    let account = Account {
        id: "1".into(),
        login: "alice".into(),
        name: "Alice".into(),
    };
    store
        .enable_integration(
            "acme",
            "circleci",
            &sim.base_url(),
            &ProviderToken::new(ALICE.into()),
            &account,
        )
        .unwrap();
    store
        .set_default_build_server("acme", "circleci", "api")
        .unwrap();
    let deployed_at = buildsnap_store::ts::parse(&plus(&start, 120)).unwrap();
    let d = store
        .register_deploy(
            "acme",
            "api",
            &NewDeploy {
                sha: sha.clone(),
                environment: None,
                deployed_at: Some(deployed_at),
                code_deployment: None,
            },
        )
        .unwrap();

    let registry = std::sync::Arc::new(
        buildsnap::runtime::Registry::builder()
            .grants(buildsnap::runtime::origin::AllowList::parse(&sim.base_url()).unwrap())
            .cache_dir(dir.path().join("plugin-cache"))
            .limits(buildsnap::runtime::limits::PluginLimits {
                http: buildsnap::runtime::limits::HttpLimits {
                    initial_backoff: Duration::from_millis(10),
                    ..Default::default()
                },
                ..Default::default()
            })
            .build()
            .await
            .unwrap(),
    );
    let metrics = std::sync::Arc::new(buildsnap_metrics::Metrics::new());
    let config = CaptureConfig {
        max_attempts: 3,
        backoff_base: Duration::from_millis(50),
        sync_interval: Duration::ZERO,
        ..CaptureConfig::default()
    };
    let capture = Capture::new(store.clone(), registry, metrics.clone(), config);
    let running = capture.start();
    let deadline = std::time::Instant::now() + WAIT;
    let snap = loop {
        let got = store.get_deploy("acme", d.id).unwrap();
        if got.builds.state != SnapshotState::Pending {
            break got.builds;
        }
        assert!(std::time::Instant::now() < deadline, "still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    running.stop().await;
    assert_eq!(snap.state, SnapshotState::Error);
    let explain = snap.explain.unwrap();
    assert!(
        explain.contains("gave up after 3 attempts") && explain.contains("502"),
        "{explain}"
    );
    // Three captures, each a call whose HTTP layer tried the page 4 times.
    assert_eq!(sim.count_by_status().get(&502), Some(&(3 * 4)));
    let (state, attempts, _) = store.capture_job_state(d.id).unwrap().unwrap();
    assert_eq!((state.as_str(), attempts), ("done", 3));
    let text = metrics.render();
    assert_eq!(
        metric(&text, "buildsnap_captures_total{outcome=\"retry\"}"),
        2,
        "{text}"
    );
    assert_eq!(
        metric(&text, "buildsnap_captures_total{outcome=\"error\"}"),
        1
    );
}
