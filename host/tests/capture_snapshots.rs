//! Deploy build snapshots end to end: the snapshot rules (as of the deploy,
//! re-runs, prefixes, explanations, retention, the warm index, one search per
//! commit).
//!
//! The real HTTP API started with `serve::start` on a temp data dir, the
//! built-in CircleCI plugin, and the CircleCI simulator on 127.0.0.1 (granted
//! with --allow-hosts). Deploys are registered and their snapshots read back
//! through the API; what crossed the wire is checked in the simulator's log.

#[path = "capture_support/mod.rs"]
mod support;

use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, SimOptions};
use serde_json::{Value, json};
use support::*;

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
    expect_metric(
        &env.api,
        "buildsnap_captures_total{outcome=\"complete\"}",
        3,
    )
    .await;
    expect_metric(&env.api, "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"builds_for_commit\",outcome=\"ok\"}", 1).await;
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
    expect_metric(&env.api, "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"builds_for_commit\",outcome=\"ok\"}", 1).await;
    expect_metric(
        &env.api,
        "buildsnap_captures_total{outcome=\"complete\"}",
        2,
    )
    .await;
    expect_metric(&env.api, "buildsnap_capture_queue_depth", 0).await;
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
    expect_metric(
        &env.api,
        "buildsnap_captures_total{outcome=\"complete\"}",
        4,
    )
    .await;
    env.stop().await;
}
