//! What the provider signals outside a capture reaches the captures: a
//! webhook wakes a capture waiting out its backoff; sync's 401 turns the
//! integration to `needs_attention`; sync's 429 holds the integration's
//! requests for the `Retry-After` it sent. The real server and plugin
//! against the CircleCI simulator; every wait is on an observable event.

#[path = "capture_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use buildsnap::serve;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, SimOptions, WebhookConfig};
use support::*;

const WAIT: Duration = Duration::from_secs(60);

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_wakes_a_capture_waiting_out_its_backoff() {
    let sha = stable_sha("signals:wake");
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
    let sim = start_sim(scenario, SimOptions::default()).await;
    let start = sim_start(&sim);
    let dir = data_dir(&sim).await;
    // A retry would wait two minutes: only the wake-up can finish it sooner.
    let mut settings = serve_args(&sim, dir.path(), 0);
    settings.capture.backoff_base = Duration::from_secs(120);
    settings.capture.backoff_max = Duration::from_secs(120);
    let server = serve::start(settings).await.unwrap();
    let api = Api::new(server.addr);
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    sim.add_webhook(WebhookConfig::new(
        format!("{}/api/v1/webhooks/circleci/acme", api.base),
        WEBHOOK_SECRET,
    ));
    // The provider fails until the capture has gone back to the queue
    // (the host's own retries within the call fail too).
    let down = sim.set_fault(FaultRule::always(
        "/api/v2/project/*",
        Fault::ServerError {
            status: 503,
            body: None,
        },
    ));
    let id = api.deploy(&sha, &plus(&start, 60), "production").await;
    until("the retry to be queued", async || {
        metric(
            &api.metrics().await,
            "buildsnap_captures_total{outcome=\"retry\"}",
        ) == 1
    })
    .await;
    sim.remove_fault(down);
    let queued_at = Instant::now();
    // CI moves on: the simulator pushes workflow-completed to the server.
    sim.clock().advance(Duration::from_secs(200));
    let snap = api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert!(
        queued_at.elapsed() < Duration::from_secs(100),
        "woken by the webhook, not by the 120 s backoff: {:?}",
        queued_at.elapsed()
    );
    assert!(
        sim.webhook_deliveries()
            .iter()
            .any(|d| d.status == Some(202))
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_s_401_turns_the_integration_to_needs_attention() {
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&stable_sha("signals:401"))
                .workflow(WorkflowSpec::new("build")),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 1).await;
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    env.sim.set_fault(FaultRule::always(
        "/api/v2/*",
        Fault::ServerError {
            status: 401,
            body: Some(r#"{"message":"You must log in first."}"#.into()),
        },
    ));
    // No deploy: only the sync asks.
    until("needs_attention", async || {
        env.api.get("/api/v1/orgs/acme/integrations/circleci").await["status"] == "needs_attention"
    })
    .await;
    let integration = env.api.get("/api/v1/orgs/acme/integrations/circleci").await;
    assert!(
        integration["last_error"]
            .as_str()
            .unwrap()
            .contains("You must log in first.")
    );
    assert!(
        env.sim
            .requests()
            .iter()
            .all(|r| r.route.starts_with("/api/v2/project/")),
        "sync requests only"
    );
    assert!(
        metric(
            &env.api.metrics().await,
            "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"sync\",outcome=\"provider_error\"}"
        ) >= 1
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_s_429_holds_the_integration_s_requests_for_its_retry_after() {
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&stable_sha("signals:429"))
                .workflow(WorkflowSpec::new("build")),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 1).await;
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    env.sim.set_fault(FaultRule {
        times: Some(1),
        ..FaultRule::always(
            "/api/v2/*",
            Fault::RateLimit {
                retry_after_secs: 3,
                body: Default::default(),
                http_date: false,
            },
        )
    });
    until("the 429", async || {
        env.sim.count_by_status().get(&429) == Some(&1)
    })
    .await;
    let limited = env
        .sim
        .requests()
        .into_iter()
        .find(|r| r.status == Some(429))
        .unwrap();
    let answered = limited.responded_at.unwrap();
    until("a request after the pause", async || {
        env.sim.requests().iter().any(|r| r.seq > limited.seq)
    })
    .await;
    let next = env
        .sim
        .requests()
        .into_iter()
        .find(|r| r.seq > limited.seq)
        .unwrap();
    assert!(
        next.received_at >= answered + Duration::from_secs(3) - Duration::from_millis(50),
        "nothing of the integration before Retry-After: 429 answered at {answered:?}, next request at {:?}",
        next.received_at
    );
    assert!(
        metric(
            &env.api.metrics().await,
            "buildsnap_provider_pauses_total{provider=\"circleci\"}"
        ) >= 1
    );
    env.stop().await;
}
