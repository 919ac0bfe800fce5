//! Pure: the state of a commit's builds **as of** the deploy time.
//!
//! The rules (HTTP API contract, "Snapshot"):
//! - a build created after `as_of` is left out;
//! - a build that stopped at or before `as_of` keeps its final status, and
//!   so do its jobs;
//! - a build that stopped after `as_of`, or has not stopped, was in
//!   progress then: `failing` when one of its jobs had already failed or
//!   errored by `as_of` (derived from the job timelines), else `on_hold` when
//!   all it still waited for at `as_of` sat behind a pending approval, else
//!   `running`;
//! - a job that stopped at or before `as_of` keeps its final status; one
//!   started by `as_of` (and stopped later, or not yet) was `running`; one
//!   not started by `as_of` was `queued`; a pending approval job is
//!   `on_hold` when its build was on hold, `queued` otherwise (not reached).
//!
//! Timestamps after `as_of` are not shown (`stopped_at`/`started_at` become
//! null): at deploy time they had not happened. `provider_status` keeps the
//! provider's word when the frozen status equals the current one, and is
//! the buildsnap word otherwise (CircleCI uses the same words for those
//! in-progress states).
//!
//! A build whose final status comes without a `stopped_at` (the provider
//! did not say when it stopped) cannot be placed in time: it counts as not
//! stopped by `as_of`, and its status is derived from the job timelines.
//!
//! A build whose job list could not be read in full carries the extra
//! field `jobs_complete: false`; its status still follows the rules above
//! from what is known.

use buildsnap_store::ts::{self, OffsetDateTime};
use buildsnap_store::{IndexedBuild, IndexedJob};
use serde_json::{Value, json};

fn at(s: Option<&str>) -> Option<OffsetDateTime> {
    s.and_then(|s| ts::parse(s).ok())
}

fn done_by(t: Option<&str>, as_of: OffsetDateTime) -> bool {
    at(t).is_some_and(|t| t <= as_of)
}

/// A job's state at `as_of` (before the approval adjustment).
#[derive(Debug, Clone, PartialEq)]
struct JobAt {
    status: String,
    provider_status: String,
    started_at: Option<String>,
    stopped_at: Option<String>,
    /// Not finished at `as_of` and waits behind a pending approval.
    behind_approval: bool,
    approval_pending: bool,
}

impl JobAt {
    /// The job as the index has it now: it, or its whole build, had
    /// finished by `as_of`.
    fn as_is(j: &IndexedJob) -> JobAt {
        JobAt {
            status: j.status.clone(),
            provider_status: j.provider_status.clone(),
            started_at: j.started_at.clone(),
            stopped_at: j.stopped_at.clone(),
            behind_approval: false,
            approval_pending: false,
        }
    }
}

fn word(frozen: &str, current: &str, provider_status: &str) -> String {
    if frozen == current {
        provider_status.to_string()
    } else {
        frozen.to_string()
    }
}

fn job_at(
    j: &IndexedJob,
    as_of: OffsetDateTime,
    approval_stops: &[Option<OffsetDateTime>],
) -> JobAt {
    if done_by(j.stopped_at.as_deref(), as_of) {
        return JobAt::as_is(j);
    }
    if j.kind == "approval" {
        return JobAt {
            status: "on_hold".into(),
            provider_status: word("on_hold", &j.status, &j.provider_status),
            started_at: None,
            stopped_at: None,
            behind_approval: false,
            approval_pending: true,
        };
    }
    let started = at(j.started_at.as_deref());
    if started.is_some_and(|s| s <= as_of) {
        return JobAt {
            status: "running".into(),
            provider_status: word("running", &j.status, &j.provider_status),
            started_at: j.started_at.clone(),
            stopped_at: None,
            behind_approval: false,
            approval_pending: false,
        };
    }
    // Not started by `as_of`. It waited behind an approval pending then if it
    // started only once an approval was given, or has not started at all
    // while an approval is still pending.
    let behind_approval = approval_stops.iter().any(|stop| match (started, stop) {
        (None, _) => true,
        (Some(s), Some(granted)) => s >= *granted,
        (Some(_), None) => false,
    });
    JobAt {
        status: "queued".into(),
        provider_status: word("queued", &j.status, &j.provider_status),
        started_at: None,
        stopped_at: None,
        behind_approval,
        approval_pending: false,
    }
}

fn job_json(j: &IndexedJob, a: &JobAt) -> Value {
    json!({
        "id": j.id,
        "name": j.name,
        "number": j.number,
        "type": j.kind,
        "status": a.status,
        "provider_status": a.provider_status,
        "started_at": a.started_at,
        "stopped_at": a.stopped_at,
        "url": j.url,
    })
}

/// The status of an in-progress build at `as_of`, from its jobs then.
fn in_progress_status(jobs: &[JobAt], current: &str) -> &'static str {
    if jobs
        .iter()
        .any(|j| matches!(j.status.as_str(), "failed" | "error"))
    {
        return "failing";
    }
    let pending_approval = jobs.iter().any(|j| j.approval_pending);
    let unfinished: Vec<&JobAt> = jobs
        .iter()
        .filter(|j| matches!(j.status.as_str(), "running" | "queued"))
        .collect();
    if pending_approval && unfinished.iter().all(|j| j.behind_approval) {
        return "on_hold";
    }
    if jobs.is_empty() && current == "on_hold" {
        // No job list to tell otherwise: it waits on an approval now, and
        // nothing says it did anything else at `as_of`.
        return "on_hold";
    }
    "running"
}

/// One build as of `as_of` (the caller has checked it existed then).
pub fn freeze_build(b: &IndexedBuild, as_of: OffsetDateTime) -> Value {
    let (status, provider_status, stopped_at, jobs): (String, String, Option<String>, Vec<Value>) =
        if done_by(b.stopped_at.as_deref(), as_of) {
            let jobs = b
                .jobs
                .iter()
                .map(|j| job_json(j, &JobAt::as_is(j)))
                .collect();
            (
                b.status.clone(),
                b.provider_status.clone(),
                b.stopped_at.clone(),
                jobs,
            )
        } else {
            let approval_stops: Vec<Option<OffsetDateTime>> = b
                .jobs
                .iter()
                .filter(|j| j.kind == "approval" && !done_by(j.stopped_at.as_deref(), as_of))
                .map(|j| at(j.stopped_at.as_deref()))
                .collect();
            let states: Vec<JobAt> = b
                .jobs
                .iter()
                .map(|j| job_at(j, as_of, &approval_stops))
                .collect();
            let status = in_progress_status(&states, &b.status);
            let jobs = b
                .jobs
                .iter()
                .zip(&states)
                .map(|(j, a)| {
                    let mut a = a.clone();
                    if a.approval_pending && status != "on_hold" {
                        // Not reached yet: blocked behind the jobs still running.
                        a.status = "queued".into();
                        a.provider_status = word("queued", &j.status, &j.provider_status);
                    }
                    job_json(j, &a)
                })
                .collect();
            (
                status.to_string(),
                word(status, &b.status, &b.provider_status),
                None,
                jobs,
            )
        };
    let mut out = json!({
        "id": b.id,
        "name": b.name,
        "status": status,
        "provider_status": provider_status,
        "url": b.url,
        "pipeline_id": b.pipeline_id,
        "pipeline_number": b.pipeline_number,
        "sha": b.sha,
        "branch": b.branch,
        "tag": b.tag,
        "created_at": b.created_at,
        "stopped_at": stopped_at,
        "jobs": jobs,
    });
    if !b.jobs_complete {
        // Extra field: the job list could not be read in full (for example
        // the provider deleted it under its retention policy).
        out["jobs_complete"] = Value::Bool(false);
    }
    out
}

/// The builds that existed at `as_of`, each as it was then, newest first
/// (by creation time; ties keep the provider's order).
pub fn freeze(builds: &[IndexedBuild], as_of: OffsetDateTime) -> Vec<Value> {
    let mut kept: Vec<(OffsetDateTime, &IndexedBuild)> = builds
        .iter()
        .filter_map(|b| at(Some(&b.created_at)).map(|c| (c, b)))
        .filter(|(created, _)| *created <= as_of)
        .collect();
    kept.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
    kept.into_iter()
        .map(|(_, b)| freeze_build(b, as_of))
        .collect()
}

/// How many of `builds` were created after `as_of` (for explanations).
pub fn created_after(builds: &[IndexedBuild], as_of: OffsetDateTime) -> usize {
    builds
        .iter()
        .filter(|b| at(Some(&b.created_at)).is_none_or(|c| c > as_of))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> OffsetDateTime {
        ts::parse(s).unwrap()
    }

    pub(crate) fn job(
        name: &str,
        status: &str,
        started: Option<&str>,
        stopped: Option<&str>,
    ) -> IndexedJob {
        IndexedJob {
            id: format!("job-{name}"),
            name: name.into(),
            number: Some(1),
            kind: "build".into(),
            status: status.into(),
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

    pub(crate) fn build(
        id: &str,
        status: &str,
        created: &str,
        stopped: Option<&str>,
        jobs: Vec<IndexedJob>,
    ) -> IndexedBuild {
        IndexedBuild {
            id: id.into(),
            project: "gh/acme/api".into(),
            name: "build".into(),
            status: status.into(),
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
        let out = freeze(&[b], t(AS_OF));
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
        let out = freeze(&[later.clone(), exact.clone()], t(AS_OF));
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
        let out = freeze(&[a, b], t(AS_OF));
        assert_eq!(
            out.iter()
                .map(|b| b["id"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["new", "old"]
        );
    }
}
