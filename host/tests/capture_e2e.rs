//! Deploy build snapshots end to end: the real HTTP API started with
//! `serve::start` on a temp data dir, the built-in CircleCI plugin, and the
//! CircleCI simulator on 127.0.0.1 (granted with --allow-hosts). Every test
//! registers deploys through the API and reads the snapshot back through
//! it; what crossed the wire to the simulator is checked in its request log.

#[path = "capture_support/mod.rs"]
mod support;

use std::time::Duration;

use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, RateLimitBody, SimOptions, WebhookConfig};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const WAIT: Duration = Duration::from_secs(60);

fn ids(snap: &Value) -> Vec<String> {
    snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

fn workflow_id(sim: &circleci_sim::SimHandle, number: i64, index: usize) -> String {
    let p = sim.scenario().projects[0]
        .pipelines
        .iter()
        .find(|p| p.number == number)
        .unwrap();
    p.workflows[index].id.clone()
}

// ------------------------------------------------------------ time rules

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backdated_deploy_is_frozen_as_of_deploy_time_and_later_news_sits_beside_it() {
    let sha = stable_sha("capture:backdated");
    let start = real_now_minus(3600);
    // The workflow ran from start-598s to start-538s; its jobs from -597s to -567s.
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .created_at(&plus(&start, -600))
                .workflow(
                    WorkflowSpec::new("build")
                        .job(JobSpec::new("lint"))
                        .job(JobSpec::new("test")),
                ),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;

    // While it ran.
    let during = env.api.deploy(&sha, &plus(&start, -580), "staging").await;
    let snap = env.api.wait_snapshot(during, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(snap["as_of"], plus(&start, -580));
    assert_eq!(snap["provider"], "circleci");
    assert_eq!(snap["build_project"], PROJECT);
    assert_eq!(snap["summary"], "running");
    assert!(snap["captured_at"].is_string());
    assert_eq!(snap["explain"], Value::Null);
    let b = &snap["builds"][0];
    assert_eq!(b["sha"], sha);
    assert_eq!(
        (b["status"].as_str(), b["stopped_at"].clone()),
        (Some("running"), Value::Null)
    );
    assert_eq!(
        b["current_status"], "success",
        "later news beside the frozen status: {b}"
    );
    for j in b["jobs"].as_array().unwrap() {
        assert_eq!(j["status"], "running", "{j}");
        assert_eq!(j["stopped_at"], Value::Null);
        assert!(j["started_at"].is_string());
    }
    let requests_after_first = env.sim.requests().len();
    assert!(
        requests_after_first >= 3,
        "pipeline page, workflow list, job list"
    );

    // After it finished: final status kept, no current_status (nothing differs).
    let after = env
        .api
        .deploy(&sha, &plus(&start, -500), "production")
        .await;
    let snap = env.api.wait_snapshot(after, WAIT).await;
    assert_eq!(snap["summary"], "success");
    let b = &snap["builds"][0];
    assert_eq!(b["status"], "success");
    assert_eq!(b["stopped_at"], plus(&start, -538));
    assert!(b.get("current_status").is_none(), "{b}");
    assert!(
        b["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] == "success")
    );

    // Before it was created: left out, explained.
    let before = env.api.deploy(&sha, &plus(&start, -700), "qa").await;
    let snap = env.api.wait_snapshot(before, WAIT).await;
    assert_eq!(snap["state"], "complete");
    assert_eq!(snap["builds"], json!([]));
    assert_eq!(snap["summary"], "none");
    let explain = snap["explain"].as_str().unwrap();
    assert!(
        explain.contains("created after") && explain.contains(&sha),
        "{explain}"
    );

    // The two later captures came from the index: no provider request.
    assert_eq!(env.sim.requests().len(), requests_after_first);
    // A complete snapshot never changes.
    let again = env.api.snapshot(during).await;
    assert_eq!(again["builds"][0]["status"], "running");
    assert_eq!(
        again["captured_at"],
        env.api.snapshot(during).await["captured_at"]
    );
    assert_eq!(
        wait_metric(
            &env.api,
            "buildsnap_captures_total{outcome=\"complete\"}",
            3
        )
        .await,
        3
    );
    assert_eq!(wait_metric(&env.api, "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"builds_for_commit\",outcome=\"ok\"}", 1).await, 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_while_ci_runs_completes_at_once_as_running_and_on_hold() {
    let sha = stable_sha("capture:running");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .workflow(
                    WorkflowSpec::new("build")
                        .status("running")
                        .then_at(300, "success")
                        .job(
                            JobSpec::new("test")
                                .status("running")
                                .then_at(290, "success"),
                        ),
                )
                .workflow(
                    WorkflowSpec::new("deploy")
                        .status("on_hold")
                        .job(JobSpec::new("ready"))
                        .job(JobSpec::approval("hold"))
                        .job(JobSpec::new("ship").status("blocked")),
                ),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    let id = env.api.deploy(&sha, &start, "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    // Determinable at once: whatever had not stopped by as_of was in progress.
    assert_eq!(snap["state"], "complete", "{snap}");
    let by_name = |n: &str| {
        snap["builds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == n)
            .unwrap()
            .clone()
    };
    let build = by_name("build");
    assert_eq!(build["status"], "running");
    assert_eq!(build["jobs"][0]["status"], "running");
    let deploy = by_name("deploy");
    assert_eq!(deploy["status"], "on_hold", "{deploy}");
    let jobs: Vec<&str> = deploy["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["success", "on_hold", "queued"]);
    assert_eq!(deploy["jobs"][2]["provider_status"], "blocked");
    // running beats on_hold in the summary.
    assert_eq!(snap["summary"], "running");
    // Exactly one search made the snapshot.
    assert_eq!(on(&env.sim, "/api/v2/project/{slug}/pipeline"), 1);
    env.stop().await;
}

fn on(sim: &circleci_sim::SimHandle, route: &str) -> usize {
    sim.requests().iter().filter(|r| r.route == route).count()
}

// ------------------------------------------------------------ commits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reruns_and_several_pipelines_summarised_by_newest_attempt() {
    let sha = stable_sha("capture:reruns");
    // Pipeline 2: "build" failed, then re-run successfully (same name);
    // "lint" passed. Pipeline 3: the same commit as a tag, "build" passed.
    let scenario = builder()
        .pipeline(PipelineSpec::new(1).workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))))
        .pipeline(
            PipelineSpec::new(2)
                .revision(&sha)
                .workflow(
                    WorkflowSpec::new("build")
                        .status("failed")
                        .job(JobSpec::new("test").status("failed")),
                )
                .workflow(WorkflowSpec::new("lint").job(JobSpec::new("lint")))
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("test"))),
        )
        .pipeline(
            PipelineSpec::new(3)
                .revision(&sha)
                .tag("v1.2.0")
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("t"))),
        )
        .pipeline(
            PipelineSpec::new(4).workflow(
                WorkflowSpec::new("build")
                    .status("failed")
                    .job(JobSpec::new("x").status("failed")),
            ),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    let id = env.api.deploy(&sha, &start, "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    // Newest first: pipeline 3's build, then pipeline 2's re-run, lint, the failed run.
    assert_eq!(
        ids(&snap),
        [
            workflow_id(&env.sim, 3, 0),
            workflow_id(&env.sim, 2, 2),
            workflow_id(&env.sim, 2, 1),
            workflow_id(&env.sim, 2, 0)
        ]
    );
    assert_eq!(statuses(&snap), ["success", "success", "success", "failed"]);
    let numbers: Vec<i64> = snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["pipeline_number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 2, 2]);
    assert_eq!(snap["builds"][0]["tag"], "v1.2.0");
    assert_eq!(snap["builds"][1]["branch"], "main");
    // The failed run is hidden by its newer re-run.
    assert_eq!(snap["summary"], "success");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_sha_unique_prefix_and_ambiguous_prefix() {
    let one = format!("abcdef1{}", "0".repeat(33));
    let two = format!("abcdef1{}", "1".repeat(33));
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&one)
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))),
        )
        .pipeline(
            PipelineSpec::new(2).revision(&two).workflow(
                WorkflowSpec::new("build")
                    .status("failed")
                    .job(JobSpec::new("a").status("failed")),
            ),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    // The project derived from the repository URL this time.
    env.api.setup(&env.sim, ALICE, None).await;

    let unique = env.api.deploy("ABCDEF10", &start, "production").await;
    let snap = env.api.wait_snapshot(unique, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(
        snap["build_project"], PROJECT,
        "derived from https://github.com/acme/api"
    );
    assert_eq!(ids(&snap), [workflow_id(&env.sim, 1, 0)]);
    assert_eq!(snap["builds"][0]["sha"], one, "the full SHA");
    assert_eq!(snap["summary"], "success");

    let ambiguous = env.api.deploy("abcdef1", &start, "staging").await;
    let snap = env.api.wait_snapshot(ambiguous, WAIT).await;
    assert_eq!(snap["state"], "error", "{snap}");
    assert_eq!(snap["builds"], json!([]));
    let explain = snap["explain"].as_str().unwrap();
    assert!(
        explain.contains("ambiguous") && explain.contains(&one) && explain.contains(&two),
        "{explain}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sha_and_errored_pipeline_without_commit_data_are_explained() {
    let mut scenario = builder()
        .pipeline(PipelineSpec::new(1).workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))))
        .pipeline(
            PipelineSpec::new(2)
                .state("errored")
                .error("config", "Config does not conform to schema")
                .without_vcs(),
        )
        .pipeline(PipelineSpec::new(3).workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))))
        .build()
        .unwrap();
    // The errored pipeline carries no commit at all (no vcs, no trigger parameters).
    let p2 = scenario.projects[0]
        .pipelines
        .iter_mut()
        .find(|p| p.number == 2)
        .unwrap();
    p2.trigger_parameters = None;
    assert!(p2.vcs.is_none());
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    let unknown = stable_sha("capture:never-built");
    let id = env.api.deploy(&unknown, &start, "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(snap["builds"], json!([]));
    assert_eq!(snap["summary"], "none");
    let explain = snap["explain"].as_str().unwrap();
    for part in [
        "not found",
        PROJECT,
        unknown.as_str(),
        "3 most recent pipelines",
        "1 page",
        "whole pipeline history",
        "1 pipeline had no commit data",
    ] {
        assert!(explain.contains(part), "{part:?} missing from {explain}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_404_keeps_the_build_with_jobs_marked_incomplete() {
    let sha = stable_sha("capture:retention");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .workflow(
                    WorkflowSpec::new("build")
                        .status("failed")
                        .job(JobSpec::new("test").status("failed")),
                )
                .workflow(WorkflowSpec::new("lint").job(JobSpec::new("lint"))),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let expired = workflow_id(&env.sim, 1, 0);
    env.sim.expire_workflows([expired.clone()]);
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    let id = env.api.deploy(&sha, &plus(&start, 120), "production").await;
    let snap = env.api.wait_snapshot(id, WAIT).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    let gone = snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == expired.as_str())
        .unwrap();
    assert_eq!(
        gone["status"], "failed",
        "the workflow itself is still known"
    );
    assert_eq!(gone["jobs"], json!([]));
    assert_eq!(gone["jobs_complete"], false);
    let lint = snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "lint")
        .unwrap();
    assert!(lint.get("jobs_complete").is_none());
    assert_eq!(snap["summary"], "failed");
    // Asked again while half of the 8 attempts were left (a cut job list
    // may be a passing fault), then taken as incomplete.
    assert_eq!(env.sim.count_by_status().get(&404), Some(&4));
    env.stop().await;
}

// ------------------------------------------------------------ failures and retries

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
    assert_eq!(
        wait_metric(&env.api, "buildsnap_captures_total{outcome=\"retry\"}", 1).await,
        1
    );
    assert_eq!(
        wait_metric(
            &env.api,
            "buildsnap_captures_total{outcome=\"complete\"}",
            1
        )
        .await,
        1
    );
    assert_eq!(wait_metric(&env.api, "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"builds_for_commit\",outcome=\"provider_error\"}", 1).await, 1);
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
    assert_eq!(
        wait_metric(&env.api, "buildsnap_captures_total{outcome=\"retry\"}", 1).await,
        1
    );
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
    assert_eq!(wait_metric(&env.api, dropped, 1).await, 1);
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

// ------------------------------------------------------------ index

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_index_captures_without_any_provider_request() {
    let sha = stable_sha("capture:warm");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1).revision(&sha).workflow(
                WorkflowSpec::new("build")
                    .job(JobSpec::new("a"))
                    .job(JobSpec::new("b")),
            ),
        )
        .pipeline(
            PipelineSpec::new(2)
                .revision(&sha)
                .workflow(WorkflowSpec::new("e2e").job(JobSpec::new("c"))),
        )
        .build()
        .unwrap();
    let env = Env::start(scenario, SimOptions::default(), 0).await;
    let start = sim_start(&env.sim);
    env.api.setup(&env.sim, ALICE, Some(PROJECT)).await;
    let cold = env.api.deploy(&sha, &plus(&start, 120), "staging").await;
    let cold_snap = env.api.wait_snapshot(cold, WAIT).await;
    assert_eq!(cold_snap["state"], "complete");
    let cold_requests = env.sim.requests().len();
    assert_eq!(
        cold_requests,
        1 + 2 + 2,
        "one page, two workflow lists, two job lists"
    );
    env.sim.clear_requests();

    // The same commit promoted to production: answered from the index.
    let warm = env.api.deploy(&sha, &plus(&start, 180), "production").await;
    let warm_snap = env.api.wait_snapshot(warm, WAIT).await;
    assert_eq!(warm_snap["state"], "complete");
    assert_eq!(warm_snap["builds"], cold_snap["builds"]);
    assert_eq!(warm_snap["summary"], "success");
    assert!(env.sim.requests().is_empty(), "{:#?}", env.sim.requests());
    assert_eq!(wait_metric(&env.api, "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"builds_for_commit\",outcome=\"ok\"}", 1).await, 1);
    assert_eq!(
        wait_metric(
            &env.api,
            "buildsnap_captures_total{outcome=\"complete\"}",
            2
        )
        .await,
        2
    );
    assert_eq!(
        wait_metric(&env.api, "buildsnap_capture_queue_depth", 0).await,
        0
    );
    env.stop().await;
}

// ------------------------------------------------------------ webhooks and sync

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
    assert_eq!(wait_metric(&env.api, "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"parse_webhook\",outcome=\"bad_signature\"}", 2).await, 2);
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
    assert_eq!(
        wait_metric(
            &env.api,
            "buildsnap_captures_total{outcome=\"deferred\"}",
            1
        )
        .await,
        1
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.api.snapshot(future).await["state"], "pending");
    assert!(env.sim.requests().is_empty(), "{:#?}", env.sim.requests());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_of_one_commit_registered_together_share_one_search() {
    let sha = stable_sha("capture:together");
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
    // Slow enough that all four are claimed while the first search runs.
    env.sim
        .set_fault(FaultRule::always("/api/v2/*", Fault::Latency { ms: 300 }));
    let mut ids = Vec::new();
    for env_name in ["eu", "us", "ap", "sa"] {
        ids.push(env.api.deploy(&sha, &plus(&start, 120), env_name).await);
    }
    let mut snaps = Vec::new();
    for id in ids {
        snaps.push(env.api.wait_snapshot(id, WAIT).await);
    }
    assert!(
        snaps
            .iter()
            .all(|s| s["state"] == "complete" && s["builds"] == snaps[0]["builds"]),
        "{snaps:#?}"
    );
    assert_eq!(
        on(&env.sim, "/api/v2/project/{slug}/pipeline"),
        1,
        "one search for four deploys"
    );
    assert_eq!(
        wait_metric(
            &env.api,
            "buildsnap_captures_total{outcome=\"complete\"}",
            4
        )
        .await,
        4
    );
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
