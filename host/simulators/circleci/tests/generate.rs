//! Generated benchmark scenarios: deterministic, large, realistic, and served quickly.

mod common;

use std::time::{Duration, Instant};

use circleci_sim::generate::{self, BENCH_TOKEN};
use common::*;

#[test]
fn same_seed_same_scenario_and_different_seed_differs() {
    let a = generate::large(300, 42).to_json_pretty();
    assert_eq!(a, generate::large(300, 42).to_json_pretty());
    assert_ne!(a, generate::large(300, 43).to_json_pretty());
}

#[test]
fn the_mix_contains_the_real_world_shapes() {
    let s = generate::large(3000, 5);
    let p = &s.projects[0].pipelines;
    assert_eq!(p.len(), 3000);
    assert!(
        p.iter()
            .any(|x| x.vcs.is_none() && x.trigger_parameters.is_some()),
        "errored without vcs"
    );
    assert!(
        p.iter().any(|x| x.trigger.kind == "schedule"),
        "trigger type outside the spec"
    );
    assert!(
        p.iter().any(|x| {
            let names: Vec<_> = x.workflows.iter().map(|w| &w.name).collect();
            (1..names.len()).any(|i| names[..i].contains(&names[i]))
        }),
        "re-run with the same workflow name"
    );
    let jobs = p
        .iter()
        .flat_map(|x| x.workflows.iter().flat_map(|w| &w.jobs));
    assert!(
        jobs.clone()
            .any(|j| j.kind == "approval" && j.job_number.is_none()),
        "approval without number"
    );
    assert!(p.iter().rev().take(3).all(|x| {
        x.workflows
            .iter()
            .all(|w| w.status == "running" && !w.timeline.is_empty())
    }));
}

#[tokio::test]
async fn five_thousand_pipelines_page_quickly_and_running_ones_finish() {
    let s = generate::large(5000, 1);
    let sim = start(s).await;
    let t = Instant::now();
    let page = get(
        &sim,
        "/api/v2/project/gh/bench/app/pipeline?branch=main",
        BENCH_TOKEN,
    )
    .await
    .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "first page took {:?}",
        t.elapsed()
    );
    // Pipeline 5000 is among the newest, which are still running.
    let pid = sim.scenario().projects[0].pipelines[4999].id.clone();
    let wfs = get(
        &sim,
        &format!("/api/v2/pipeline/{pid}/workflow"),
        BENCH_TOKEN,
    )
    .await
    .json();
    let first = wfs["items"][0].clone();
    assert_eq!(
        (first["status"].as_str(), first["stopped_at"].is_null()),
        (Some("running"), true)
    );
    sim.clock().advance(Duration::from_secs(3600));
    let wid = first["id"].as_str().unwrap();
    let w = get(&sim, &format!("/api/v2/workflow/{wid}"), BENCH_TOKEN)
        .await
        .json();
    assert_ne!(w["status"], "running");
    assert!(!w["stopped_at"].is_null());
}
