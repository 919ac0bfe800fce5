//! The DevLake recordings load as a scenario and are served back unchanged.

mod common;

use std::collections::HashMap;

use circleci_sim::Scenario;
use circleci_sim::devlake::{DEVLAKE_TOKEN, read_table};
use common::*;
use serde_json::Value;

/// The vendored recordings (`tests/fixtures/circleci/devlake/SOURCES.md`).
const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../tests/fixtures/circleci/devlake/raw_tables"
);

fn recorded(table: &str) -> Vec<Value> {
    let mut rows: Vec<Value> = read_table(DIR.as_ref(), table)
        .unwrap()
        .into_iter()
        .map(|r| r.data)
        .collect();
    // `_incremental` tables re-record some items (DevLake edited a few values to test its
    // incremental mode); the full collection wins and only new ids are added, as in the loader.
    for r in read_table(DIR.as_ref(), &format!("{table}_incremental")).unwrap() {
        if !rows.iter().any(|x| x["id"] == r.data["id"]) {
            rows.push(r.data);
        }
    }
    assert!(!rows.is_empty(), "{table} has rows");
    rows
}

fn by_id(items: &[Value]) -> HashMap<String, Value> {
    items
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

#[tokio::test]
async fn recordings_are_served_back_with_the_same_field_values() {
    let s = Scenario::from_devlake_raw(DIR).unwrap();
    assert_eq!(s.projects.len(), 1);
    assert_eq!(s.projects[0].pipelines.len(), 10);
    let sim = start(s).await;
    let t = DEVLAKE_TOKEN;

    // Project and collaborations: exact bodies. DevLake asked with `github/...`.
    let project = get(
        &sim,
        "/api/v2/project/github/coldgust/coldgust.github.io",
        t,
    )
    .await
    .json();
    assert_eq!(project, recorded("projects")[0]);
    let collabs = get(&sim, "/api/v2/me/collaborations", t).await.json();
    assert_eq!(collabs, Value::Array(recorded("users")));

    // Pipelines: the list, in the recorded (newest first) order, item for item.
    let list = get(
        &sim,
        "/api/v2/project/github/coldgust/coldgust.github.io/pipeline",
        t,
    )
    .await
    .json();
    let pipelines = recorded("pipelines");
    assert_eq!(list["items"], Value::Array(pipelines.clone()));
    assert!(list["next_page_token"].is_null());
    for p in &pipelines {
        let id = p["id"].as_str().unwrap();
        assert_eq!(
            &get(&sim, &format!("/api/v2/pipeline/{id}"), t).await.json(),
            p
        );
    }

    // Workflows: every recorded workflow, via the list and via GET /workflow/{id}.
    let mut wanted = by_id(&recorded("workflows"));
    // DevLake's own synthetic fixture row (no pipeline, empty timestamps); see devlake::load.
    wanted.remove("b3b77371-e27a-4e93-a554-c728f757cd24");
    let mut seen = 0;
    for p in &pipelines {
        let id = p["id"].as_str().unwrap();
        let wfs = get(&sim, &format!("/api/v2/pipeline/{id}/workflow"), t)
            .await
            .json();
        for w in wfs["items"].as_array().unwrap() {
            let wid = w["id"].as_str().unwrap();
            assert_eq!(Some(w), wanted.get(wid), "workflow {wid}");
            assert_eq!(
                &get(&sim, &format!("/api/v2/workflow/{wid}"), t)
                    .await
                    .json(),
                w
            );
            seen += 1;
        }
    }
    assert_eq!(seen, wanted.len());

    // Jobs: each recorded job, under the workflow its URL named.
    let jobs = read_table(DIR.as_ref(), "jobs").unwrap();
    assert!(!jobs.is_empty());
    for row in jobs {
        let wid = row.url.trim_end_matches("/job").rsplit('/').next().unwrap();
        let served = get(&sim, &format!("/api/v2/workflow/{wid}/job"), t)
            .await
            .json();
        let items = by_id(served["items"].as_array().unwrap());
        assert_eq!(items.get(row.data["id"].as_str().unwrap()), Some(&row.data));
    }
}

#[test]
fn only_devlakes_synthetic_row_is_skipped() {
    let import = circleci_sim::devlake::load(DIR).unwrap();
    assert_eq!(import.skipped.len(), 1, "{:?}", import.skipped);
    assert_eq!(import.skipped[0].table, "workflows");
    assert_eq!(import.skipped[0].id, "b3b77371-e27a-4e93-a554-c728f757cd24");
}

#[tokio::test]
async fn recorded_quirks_survive_the_round_trip() {
    let sim = start(Scenario::from_devlake_raw(DIR).unwrap()).await;
    let list = get(
        &sim,
        "/api/v2/project/gh/coldgust/coldgust.github.io/pipeline",
        DEVLAKE_TOKEN,
    )
    .await
    .json();
    let errored = &list["items"][0];
    assert_eq!(errored["number"], 10);
    assert!(errored.get("vcs").is_none());
    assert_eq!(errored["trigger"]["type"], "Decoupled Ingestion System");
    assert_eq!(
        errored["trigger_parameters"]["git"]["checkout_sha"],
        "6ba0cdaf7e7791c5bc5aa89a13b9cd184f8ad296"
    );
    // The branch filter only matches pipelines that have vcs.branch.
    let master = get(
        &sim,
        "/api/v2/project/gh/coldgust/coldgust.github.io/pipeline?branch=master",
        DEVLAKE_TOKEN,
    )
    .await
    .json();
    let n = master["items"].as_array().unwrap().len();
    assert!(n > 0 && n < 10);
}
