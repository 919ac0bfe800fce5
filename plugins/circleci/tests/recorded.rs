//! The mapping against real CircleCI answers recorded by Apache DevLake,
//! checked against DevLake's own expected tables (ids, SHAs, names,
//! numbers, timestamps) and against our status table.

mod common;

use std::collections::{BTreeMap, HashMap};

use buildsnap_circleci::search::builds_for_commit;
use buildsnap_circleci::status::{job_status, workflow_status};
use buildsnap_circleci::time::rfc3339_millis;
use buildsnap_circleci::wit::*;
use buildsnap_circleci::{api, mapping};
use common::*;
use serde_json::Value;

fn raw(table: &str) -> Vec<(Value, String)> {
    read_csv(&recorded(&format!(
        "raw_tables/_raw_circleci_api_{table}.csv"
    )))
    .into_iter()
    .map(|r| {
        (
            serde_json::from_str(&r["data"]).expect("data is JSON"),
            r["url"].clone(),
        )
    })
    .collect()
}

fn snapshot(table: &str) -> Vec<HashMap<String, String>> {
    read_csv(&recorded(&format!("snapshot_tables/{table}.csv")))
}

/// Same instant, whatever the precision or offset notation.
fn same_time(ours: Option<&str>, theirs: &str) -> bool {
    match (ours, theirs.is_empty()) {
        (None, true) => true,
        (Some(a), false) => {
            rfc3339_millis(a).is_some() && rfc3339_millis(a) == rfc3339_millis(theirs)
        }
        _ => false,
    }
}

/// The recorded project served by a fake CircleCI: one pipeline page (the
/// recording has 10 pipelines, one page), each pipeline's workflows and
/// each workflow's jobs at the URLs DevLake called.
fn recorded_circleci() -> Fake {
    let fake = Fake::new();
    let pipelines = raw("pipelines");
    assert_eq!(pipelines.len(), 10, "the recording has 10 pipelines");
    fake.json(
        &format!("{BASE}/api/v2/project/gh/coldgust/coldgust.github.io/pipeline"),
        &page(pipelines.iter().map(|(d, _)| d.clone()).collect(), None),
    );
    let mut workflows: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (p, _) in &pipelines {
        workflows
            .entry(format!(
                "{BASE}/api/v2/pipeline/{}/workflow",
                p["id"].as_str().unwrap()
            ))
            .or_default();
    }
    for (d, url) in raw("workflows") {
        workflows.entry(url).or_default().push(d);
    }
    let mut jobs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (d, url) in raw("jobs") {
        jobs.entry(url).or_default().push(d);
    }
    for (url, items) in workflows.iter().chain(&jobs) {
        fake.json(url, &page(items.clone(), None));
    }
    fake
}

#[test]
fn recorded_pipelines_parse_and_yield_devlake_commits() {
    let expected = snapshot("_tool_circleci_pipelines");
    let pipelines = raw("pipelines");
    assert_eq!(expected.len(), pipelines.len());
    for (data, _) in &pipelines {
        let p: api::Pipeline =
            serde_json::from_value(data.clone()).expect("recorded pipeline parses");
        let row = expected
            .iter()
            .find(|r| r["id"] == p.id)
            .expect("DevLake has the pipeline");
        assert_eq!(p.number.unwrap().to_string(), row["number"]);
        assert!(
            same_time(p.created_at.as_deref(), &row["created_date"]),
            "{}",
            p.id
        );
        let vcs: Value = serde_json::from_str(&row["vcs"]).unwrap();
        let devlake_sha = vcs["revision"].as_str().unwrap_or("");
        if devlake_sha.is_empty() {
            // DevLake drops the errored pipeline's commit; we read it from
            // trigger_parameters.git.checkout_sha.
            assert_eq!(
                p.sha().as_deref(),
                Some("6ba0cdaf7e7791c5bc5aa89a13b9cd184f8ad296")
            );
            assert_eq!(p.state.as_deref(), Some("errored"));
        } else {
            assert_eq!(p.sha().as_deref(), Some(devlake_sha));
            assert_eq!(
                p.branch().as_deref(),
                vcs["branch"].as_str().filter(|s| !s.is_empty())
            );
        }
    }
}

#[test]
fn recorded_builds_agree_with_devlake() {
    let fake = recorded_circleci();
    let commits = snapshot("cicd_pipeline_commits__from_commit_470669d60_parent");
    let workflows = snapshot("_tool_circleci_workflows");
    let jobs = snapshot("_tool_circleci_jobs");
    let cicd = snapshot("cicd_pipelines");
    assert_eq!(commits.len(), 9);

    let mut checked_jobs = 0;
    for commit in &commits {
        let workflow_id = commit["pipeline_id"].rsplit(':').next().unwrap();
        let sha = &commit["commit_sha"];
        let found = builds_for_commit(
            &fake,
            &ctx(BASE),
            &query("github/coldgust/coldgust.github.io", sha, 100),
        )
        .expect("search succeeds");
        let build = found
            .builds
            .iter()
            .find(|b| b.id == workflow_id)
            .expect("DevLake's workflow is found for its commit");
        assert!(found.builds.iter().all(|b| &b.sha == sha));
        assert_eq!(build.branch.as_deref(), Some(commit["branch"].as_str()));

        let wf = workflows.iter().find(|w| w["id"] == workflow_id).unwrap();
        assert_eq!(build.name, wf["name"]);
        assert_eq!(build.pipeline_id, wf["pipeline_id"]);
        assert_eq!(
            build.pipeline_number.unwrap().to_string(),
            wf["pipeline_number"]
        );
        assert_eq!(build.provider_status, wf["status"]);
        assert_eq!(build.status, workflow_status(&wf["status"]));
        assert!(same_time(Some(&build.created_at), &wf["created_date"]));
        assert!(same_time(build.stopped_at.as_deref(), &wf["stopped_date"]));
        let title = cicd
            .iter()
            .find(|c| c["id"].ends_with(workflow_id))
            .unwrap();
        assert_eq!(
            format!("{}#{}", build.name, build.pipeline_number.unwrap()),
            title["display_title"]
        );
        assert_eq!(
            build.url.as_deref(),
            Some(format!(
                "https://app.circleci.com/pipelines/github/coldgust/coldgust.github.io/{}/workflows/{workflow_id}",
                wf["pipeline_number"]
            ).as_str())
        );
        assert!(build.jobs_complete);

        for job in &build.jobs {
            let Some(row) = jobs.iter().find(|j| j["id"] == job.id) else {
                continue;
            };
            checked_jobs += 1;
            assert_eq!(row["workflow_id"], workflow_id);
            assert_eq!(job.name, row["name"]);
            assert_eq!(job.number.unwrap().to_string(), row["job_number"]);
            assert_eq!(job.kind, mapping::job_kind(Some(&row["type"])));
            assert_eq!(job.provider_status, row["status"]);
            assert_eq!(job.status, job_status(&row["status"]));
            assert!(same_time(job.started_at.as_deref(), &row["started_at"]));
            assert!(same_time(job.stopped_at.as_deref(), &row["stopped_at"]));
            assert!(job.url.as_deref().unwrap().ends_with(&format!(
                "/workflows/{workflow_id}/jobs/{}",
                row["job_number"]
            )));
        }
    }
    assert_eq!(
        checked_jobs,
        jobs.len(),
        "every job DevLake expects was produced"
    );
    fake.assert_clean();
}

#[test]
fn recorded_statuses_follow_our_table() {
    let fake = recorded_circleci();
    // d65e36c3: pipeline 5, workflow and job failed.
    let failed = builds_for_commit(
        &fake,
        &ctx(BASE),
        &query("gh/coldgust/coldgust.github.io", "d65e36c", 100),
    )
    .unwrap();
    assert_eq!(failed.builds.len(), 1);
    assert_eq!(
        (
            failed.builds[0].status,
            failed.builds[0].provider_status.as_str()
        ),
        (Status::Failed, "failed")
    );
    assert_eq!(failed.builds[0].jobs[0].status, Status::Failed);
    // 49874a6a: pipeline 9, success.
    let ok = builds_for_commit(
        &fake,
        &ctx(BASE),
        &query("gh/coldgust/coldgust.github.io", "49874a6a", 100),
    )
    .unwrap();
    assert_eq!(ok.builds[0].status, Status::Success);
    assert_eq!(ok.builds[0].jobs[0].status, Status::Success);
}

#[test]
fn recorded_commit_with_two_pipelines() {
    // Pipelines 1 and 2 both built 9fcceda0 (a real double trigger).
    let fake = recorded_circleci();
    let found = builds_for_commit(
        &fake,
        &ctx(BASE),
        &query(
            "gh/coldgust/coldgust.github.io",
            "9fcceda0e9749bc63e6397b23531fb6bf83634df",
            100,
        ),
    )
    .unwrap();
    let numbers: Vec<_> = found.builds.iter().map(|b| b.pipeline_number).collect();
    assert_eq!(numbers, vec![Some(2), Some(1)], "newest pipeline first");
    assert_eq!(found.report.pipelines_searched, 10);
    assert_eq!(found.report.stopped_because, StopReason::EndOfHistory);
    assert_eq!(found.report.without_commit, 0);
    assert_eq!(
        found.report.oldest_searched.as_deref(),
        Some("2023-03-25T17:12:18.398Z")
    );
    assert_eq!(
        fake.count("/workflow"),
        2 + 2,
        "two workflow lists and two job lists"
    );
}

#[test]
fn recorded_errored_pipeline_matches_through_trigger_parameters() {
    let fake = recorded_circleci();
    let found = builds_for_commit(
        &fake,
        &ctx(BASE),
        &query("gh/coldgust/coldgust.github.io", "6ba0cdaf", 100),
    )
    .unwrap();
    // It matched (its workflow list was asked for) but has no workflows.
    assert_eq!(
        fake.count("/api/v2/pipeline/d323f088-02fa-4ed5-9696-fc2f89a27150/workflow"),
        1
    );
    assert!(found.builds.is_empty());
}
