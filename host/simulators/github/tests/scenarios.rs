//! Scenario files, validation, the demo cases and the generator.

mod common;

use std::time::Duration;

use common::*;
use github_sim::{Scenario, ScenarioError, cases, generate};
use serde_json::{Value, json};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/example.json");

#[tokio::test]
async fn the_example_file_loads_and_is_served_with_its_timelines_and_faults() {
    let sim = start(Scenario::from_file(EXAMPLE).unwrap()).await;
    let t = "example-token-octocat";
    let runs = get(&sim, "/repos/acme/api/actions/runs", t).await.json();
    let first = &runs["workflow_runs"][1];
    assert_eq!(
        (first["run_attempt"].clone(), first["conclusion"].clone()),
        (json!(2), json!("success"))
    );
    assert_eq!(runs["workflow_runs"][0]["display_title"], "Deploy the fix");
    let jobs = "/repos/acme/api/actions/runs/12000000002/jobs";
    assert_eq!(get(&sim, jobs, t).await.status, 403, "the scenario's fault");
    assert_eq!(
        get(&sim, jobs, t).await.json()["total_count"],
        1,
        "the deploy job is not created yet"
    );
    sim.clock().advance(Duration::from_secs(120));
    let run = get(&sim, "/repos/acme/api/actions/runs/12000000002", t)
        .await
        .json();
    assert_eq!(run["status"], "waiting");
    let deploy = &get(&sim, jobs, t).await.json()["jobs"][1];
    assert_eq!(
        (deploy["status"].clone(), deploy["labels"].clone()),
        (json!("waiting"), json!(["self-hosted", "production"]))
    );
    sim.clock().advance(Duration::from_secs(200));
    let run = get(&sim, "/repos/acme/api/actions/runs/12000000002", t)
        .await
        .json();
    assert_eq!(
        (run["conclusion"].clone(), run["updated_at"].clone()),
        (json!("success"), json!("2025-06-01T12:05:00Z"))
    );
    let commit = get(&sim, "/repos/acme/api/commits/2222222", t).await.json();
    assert_eq!(
        commit["parents"][0]["sha"],
        "1111111111111111111111111111111111111111"
    );
}

#[test]
fn scenarios_round_trip_through_json() {
    let demo = cases::demo().unwrap();
    let text = demo.to_json_pretty();
    let back = Scenario::from_json(&text).unwrap();
    assert_eq!(back.to_json_pretty(), text);
}

/// One change that makes the example inconsistent.
type Edit = Box<dyn FnOnce(&mut Value)>;

fn invalid(edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(EXAMPLE).unwrap()).unwrap();
    edit(&mut v);
    match Scenario::from_json(&v.to_string()) {
        Err(ScenarioError::Invalid(m)) => m,
        other => panic!("expected an inconsistency, got {other:?}"),
    }
}

#[test]
fn inconsistent_scenarios_are_refused_with_a_reason() {
    const RUN: &str = "/repos/0/runs/0";
    let cases: [(&str, Edit); 9] = [
        (
            "is not a commit",
            Box::new(|v| {
                v.pointer_mut(&format!("{RUN}/head_sha"))
                    .unwrap()
                    .clone_from(&json!("3333333333333333333333333333333333333333"))
            }),
        ),
        (
            "not a state GitHub serves",
            Box::new(|v| {
                v.pointer_mut(&format!("{RUN}/attempts/0"))
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("conclusion")
                    .map(drop)
                    .unwrap()
            }),
        ),
        (
            "not a state GitHub serves",
            Box::new(|v| {
                v.pointer_mut(&format!("{RUN}/attempts/0/jobs/0/conclusion"))
                    .unwrap()
                    .clone_from(&json!("startup_failure"))
            }),
        ),
        (
            "not a state GitHub serves",
            Box::new(|v| {
                v.pointer_mut(&format!("{RUN}/attempts/0/status"))
                    .unwrap()
                    .clone_from(&json!("running"))
            }),
        ),
        (
            "duplicate job id",
            Box::new(|v| {
                v.pointer_mut(&format!("{RUN}/attempts/1/jobs/0/id"))
                    .unwrap()
                    .clone_from(&json!(33000000001u64))
            }),
        ),
        (
            "unknown owner",
            Box::new(|v| {
                v.pointer_mut("/repos/0/owner")
                    .unwrap()
                    .clone_from(&json!("nobody"))
            }),
        ),
        (
            "cannot hold tokens",
            Box::new(|v| v.pointer_mut("/accounts/1").unwrap()["tokens"] = json!(["t"])),
        ),
        (
            "at least one attempt",
            Box::new(|v| {
                v.pointer_mut(&format!("{RUN}/attempts"))
                    .unwrap()
                    .clone_from(&json!([]))
            }),
        ),
        (
            "unknown workflow",
            Box::new(|v| {
                v.pointer_mut(&format!("{RUN}/workflow_id"))
                    .unwrap()
                    .clone_from(&json!(1))
            }),
        ),
    ];
    for (expected, edit) in cases {
        let m = invalid(edit);
        assert!(m.contains(expected), "{m:?} should say {expected:?}");
    }
}

#[tokio::test]
async fn the_generator_is_deterministic_and_serves_a_thousand_runs() {
    let a = generate::large(1000, 7);
    assert_eq!(
        a.to_json_pretty(),
        generate::large(1000, 7).to_json_pretty()
    );
    assert_ne!(
        a.to_json_pretty(),
        generate::large(1000, 8).to_json_pretty()
    );
    let runs = &a.repos[0].runs;
    assert_eq!(runs.len(), 1000);
    assert!(runs.iter().any(|r| r.attempts.len() == 2), "some re-runs");
    assert!(
        runs.iter()
            .filter(|r| r.attempts[0].status == "in_progress")
            .count()
            == 3
    );
    let sim = start(a).await;
    let path = "/repos/bench/app/actions/runs?per_page=100";
    let mut page = get(&sim, path, generate::BENCH_TOKEN).await;
    assert_eq!(page.json()["total_count"], 1000);
    let mut pages = 1;
    while let Some(next) = page.link("next") {
        page = get_url(&next, generate::BENCH_TOKEN).await;
        pages += 1;
    }
    assert_eq!(pages, 10);
    let sha = sim.scenario().repos[0].runs[0].head_sha.clone();
    let per_commit = get(
        &sim,
        &format!("/repos/bench/app/actions/runs?head_sha={sha}"),
        generate::BENCH_TOKEN,
    )
    .await;
    assert!((2..=3).contains(&per_commit.json()["total_count"].as_u64().unwrap()));
    sim.clock().advance(Duration::from_secs(900));
    let busy = get(
        &sim,
        "/repos/bench/app/actions/runs?status=in_progress",
        generate::BENCH_TOKEN,
    )
    .await;
    assert_eq!(busy.json()["total_count"], 0, "the running ones finish");
}
