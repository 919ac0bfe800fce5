//! The freeze rules, one test per rule. Results are looked at as the JSON
//! a snapshot serves, so each assertion reads like the contract.

use serde_json::Value;

use super::*;

/// A status word as the tests write it: a word outside the vocabulary (a
/// provider's own, such as CircleCI's `blocked`) is `unknown`, with the word
/// kept as the provider status.
fn status_of(word: &str) -> Status {
    word.parse().unwrap_or(Status::Unknown)
}

/// `freeze`, as the JSON values a snapshot stores.
fn frozen(builds: &[IndexedBuild], as_of: OffsetDateTime) -> Vec<Value> {
    freeze(builds, as_of)
        .iter()
        .map(|b| serde_json::to_value(b).unwrap())
        .collect()
}

fn t(s: &str) -> OffsetDateTime {
    ts::parse(s).unwrap()
}

fn job(name: &str, status: &str, started: Option<&str>, stopped: Option<&str>) -> IndexedJob {
    IndexedJob {
        id: format!("job-{name}"),
        name: name.into(),
        number: Some(1),
        kind: "build".into(),
        status: status_of(status),
        provider_status: status.into(),
        started_at: started.map(str::to_string),
        stopped_at: stopped.map(str::to_string),
        url: None,
    }
}

fn approval(name: &str, status: &str, stopped: Option<&str>) -> IndexedJob {
    IndexedJob {
        kind: "approval".into(),
        number: None,
        ..job(name, status, None, stopped)
    }
}

fn build(
    id: &str,
    status: &str,
    created: &str,
    stopped: Option<&str>,
    jobs: Vec<IndexedJob>,
) -> IndexedBuild {
    IndexedBuild {
        attempt: 1,
        parent_id: None,
        id: id.into(),
        project: "gh/acme/api".into(),
        name: "build".into(),
        status: status_of(status),
        provider_status: status.into(),
        url: None,
        pipeline_id: "p1".into(),
        pipeline_number: Some(1),
        sha: "a".repeat(40),
        branch: Some("main".into()),
        tag: None,
        created_at: created.into(),
        stopped_at: stopped.map(str::to_string),
        jobs_complete: true,
        jobs,
        first_seen: None,
        last_seen: None,
    }
}

const AS_OF: &str = "2025-06-01T12:00:00Z";

fn one(b: IndexedBuild) -> Value {
    let out = frozen(&[b], t(AS_OF));
    assert_eq!(out.len(), 1);
    out.into_iter().next().unwrap()
}

#[test]
fn created_after_as_of_is_left_out_and_exactly_at_is_kept() {
    let later = build(
        "later",
        "success",
        "2025-06-01T12:00:01Z",
        Some("2025-06-01T12:01:00Z"),
        vec![],
    );
    let exact = build("exact", "running", AS_OF, None, vec![]);
    let out = frozen(&[later.clone(), exact.clone()], t(AS_OF));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["id"], "exact");
    assert_eq!(created_after(&[later, exact], t(AS_OF)), 1);
}

#[test]
fn stopped_at_or_before_keeps_every_final_status() {
    for status in [
        "success", "failed", "error", "canceled", "not_run", "unknown",
    ] {
        for stop in ["2025-06-01T11:59:00Z", AS_OF] {
            let j = job("test", status, Some("2025-06-01T11:50:00Z"), Some(stop));
            let b = one(build(
                "b",
                status,
                "2025-06-01T11:40:00Z",
                Some(stop),
                vec![j],
            ));
            assert_eq!(b["status"], status, "{status} stopped {stop}");
            assert_eq!(b["stopped_at"], stop);
            assert_eq!(b["jobs"][0]["status"], status);
            assert_eq!(b["jobs"][0]["stopped_at"], stop);
        }
    }
}

#[test]
fn stopped_after_or_not_stopped_was_running_with_jobs_running_or_queued() {
    for (status, stopped) in [
        ("success", Some("2025-06-01T12:10:00Z")),
        ("running", None),
        ("failed", Some("2025-06-01T12:00:01Z")),
    ] {
        let jobs = vec![
            job(
                "lint",
                "success",
                Some("2025-06-01T11:41:00Z"),
                Some("2025-06-01T11:45:00Z"),
            ),
            job("test", status, Some("2025-06-01T11:45:00Z"), stopped),
            job(
                "deploy",
                if stopped.is_some() { status } else { "queued" },
                Some("2025-06-01T12:05:00Z"),
                stopped,
            ),
        ];
        let b = one(build("b", status, "2025-06-01T11:40:00Z", stopped, jobs));
        assert_eq!(b["status"], "running", "{status}");
        assert_eq!(b["stopped_at"], Value::Null);
        assert_eq!(b["provider_status"], "running");
        assert_eq!(b["jobs"][0]["status"], "success");
        assert_eq!(b["jobs"][1]["status"], "running");
        assert_eq!(b["jobs"][1]["stopped_at"], Value::Null);
        assert_eq!(b["jobs"][1]["started_at"], "2025-06-01T11:45:00Z");
        assert_eq!(b["jobs"][2]["status"], "queued", "not started by as_of");
        assert_eq!(b["jobs"][2]["started_at"], Value::Null);
    }
}

#[test]
fn a_job_failed_by_as_of_makes_the_build_failing() {
    let jobs = vec![
        job(
            "unit",
            "failed",
            Some("2025-06-01T11:41:00Z"),
            Some("2025-06-01T11:50:00Z"),
        ),
        job(
            "e2e",
            "success",
            Some("2025-06-01T11:41:00Z"),
            Some("2025-06-01T12:20:00Z"),
        ),
    ];
    let b = one(build(
        "b",
        "failed",
        "2025-06-01T11:40:00Z",
        Some("2025-06-01T12:20:00Z"),
        jobs,
    ));
    assert_eq!(b["status"], "failing");
    assert_eq!(b["provider_status"], "failing");
    assert_eq!(b["jobs"][0]["status"], "failed");
    assert_eq!(b["jobs"][1]["status"], "running");
    // An errored job counts too; a failure after as_of does not.
    let jobs = vec![job(
        "infra",
        "error",
        Some("2025-06-01T11:41:00Z"),
        Some("2025-06-01T11:42:00Z"),
    )];
    assert_eq!(
        one(build("b", "running", "2025-06-01T11:40:00Z", None, jobs))["status"],
        "failing"
    );
    let jobs = vec![job(
        "unit",
        "failed",
        Some("2025-06-01T11:41:00Z"),
        Some("2025-06-01T12:00:30Z"),
    )];
    assert_eq!(
        one(build(
            "b",
            "failed",
            "2025-06-01T11:40:00Z",
            Some("2025-06-01T12:01:00Z"),
            jobs
        ))["status"],
        "running"
    );
}

#[test]
fn waiting_on_an_approval_at_as_of_is_on_hold() {
    // Built and tested before as_of; held; approved at 12:30; deployed after.
    let jobs = vec![
        job(
            "build",
            "success",
            Some("2025-06-01T11:41:00Z"),
            Some("2025-06-01T11:45:00Z"),
        ),
        approval("hold", "success", Some("2025-06-01T12:30:00Z")),
        job(
            "deploy",
            "success",
            Some("2025-06-01T12:30:05Z"),
            Some("2025-06-01T12:35:00Z"),
        ),
    ];
    let b = one(build(
        "b",
        "success",
        "2025-06-01T11:40:00Z",
        Some("2025-06-01T12:35:00Z"),
        jobs,
    ));
    assert_eq!(b["status"], "on_hold");
    assert_eq!(b["jobs"][1]["status"], "on_hold");
    assert_eq!(b["jobs"][1]["stopped_at"], Value::Null);
    assert_eq!(b["jobs"][2]["status"], "queued");
    // Still held now.
    let jobs = vec![
        job(
            "build",
            "success",
            Some("2025-06-01T11:41:00Z"),
            Some("2025-06-01T11:45:00Z"),
        ),
        approval("hold", "on_hold", None),
        job("deploy", "blocked", None, None),
    ];
    let b = one(build("b", "on_hold", "2025-06-01T11:40:00Z", None, jobs));
    assert_eq!(b["status"], "on_hold");
    assert_eq!(b["provider_status"], "on_hold");
    assert_eq!(b["jobs"][2]["provider_status"], "queued");
    // The approval was not reached yet at as_of: the build job still ran.
    let jobs = vec![
        job(
            "build",
            "success",
            Some("2025-06-01T11:41:00Z"),
            Some("2025-06-01T12:05:00Z"),
        ),
        approval("hold", "on_hold", None),
    ];
    let b = one(build("b", "on_hold", "2025-06-01T11:40:00Z", None, jobs));
    assert_eq!(b["status"], "running");
    assert_eq!(b["jobs"][1]["status"], "queued");
    // Without a job list, a build on hold now is shown on hold.
    let b = one(IndexedBuild {
        jobs_complete: false,
        ..build("b", "on_hold", "2025-06-01T11:40:00Z", None, vec![])
    });
    assert_eq!(b["status"], "on_hold");
}

#[test]
fn final_status_without_stop_time_counts_as_not_stopped() {
    let jobs = vec![job("test", "canceled", Some("2025-06-01T11:41:00Z"), None)];
    let b = one(build("b", "canceled", "2025-06-01T11:40:00Z", None, jobs));
    assert_eq!(b["status"], "running");
    assert_eq!(b["jobs"][0]["status"], "running");
}

#[test]
fn newest_first_by_creation() {
    let a = build(
        "old",
        "success",
        "2025-06-01T10:00:00Z",
        Some("2025-06-01T10:05:00Z"),
        vec![],
    );
    let b = build(
        "new",
        "success",
        "2025-06-01T11:00:00Z",
        Some("2025-06-01T11:05:00Z"),
        vec![],
    );
    let out = frozen(&[a, b], t(AS_OF));
    assert_eq!(
        out.iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["new", "old"]
    );
}

#[test]
fn only_the_approval_kind_holds_a_build_and_other_kinds_keep_their_word() {
    let jobs = vec![
        job(
            "build",
            "success",
            Some("2025-06-01T11:41:00Z"),
            Some("2025-06-01T11:45:00Z"),
        ),
        IndexedJob {
            kind: JobKind::from("Approval"),
            number: None,
            ..job("hold", "on_hold", None, None)
        },
    ];
    // A provider word that merely looks like an approval is an ordinary job
    // not started by as_of: queued. The build is on hold now and nothing ran
    // at as_of, so it waited on that hold then (the rule of
    // `on_hold_now_with_nothing_running_at_as_of_is_on_hold`).
    let b = one(build("b", "on_hold", "2025-06-01T11:40:00Z", None, jobs));
    assert_eq!(b["status"], "on_hold");
    assert_eq!(b["jobs"][1]["status"], "queued");
    assert_eq!(b["jobs"][1]["type"], "Approval");
    assert_eq!(b["jobs"][0]["type"], "build");
}

#[test]
fn jobs_complete_is_written_only_when_false() {
    let b = build(
        "b",
        "success",
        "2025-06-01T11:40:00Z",
        Some("2025-06-01T11:45:00Z"),
        vec![],
    );
    assert!(one(b.clone()).get("jobs_complete").is_none());
    let partial = one(IndexedBuild {
        jobs_complete: false,
        ..b
    });
    assert_eq!(partial["jobs_complete"], false);
}

/// GitHub's environment review: the build is `on_hold` now and its held
/// job is a queued build job, not an approval. With no job running at
/// `as_of`, it was on hold then; with one running, it was running.
#[test]
fn on_hold_now_with_nothing_running_at_as_of_is_on_hold() {
    let jobs = vec![
        job(
            "build",
            "success",
            Some("2025-06-01T11:41:00Z"),
            Some("2025-06-01T11:45:00Z"),
        ),
        job("deploy-production", "queued", None, None),
    ];
    let b = one(build(
        "b",
        "on_hold",
        "2025-06-01T11:40:00Z",
        None,
        jobs.clone(),
    ));
    assert_eq!(b["status"], "on_hold");
    assert_eq!(b["jobs"][1]["status"], "queued");
    // At 11:42 the build job was still running.
    let early = frozen(
        &[build("b", "on_hold", "2025-06-01T11:40:00Z", None, jobs)],
        t("2025-06-01T11:42:00Z"),
    );
    assert_eq!(early[0]["status"], "running");
}
