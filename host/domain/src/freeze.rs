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
//!
//! An approval is a job of kind [`JobKind::Approval`]: the host decides
//! that once, when it maps the plugin's job kind.

use time::OffsetDateTime;

use crate::{FrozenBuild, FrozenJob, IndexedBuild, IndexedJob, JobKind, Status, ts};

fn at(s: Option<&str>) -> Option<OffsetDateTime> {
    s.and_then(|s| ts::parse(s).ok())
}

fn done_by(t: Option<&str>, as_of: OffsetDateTime) -> bool {
    at(t).is_some_and(|t| t <= as_of)
}

/// A job's state at `as_of` (before the approval adjustment).
#[derive(Debug, Clone, PartialEq)]
struct JobAt {
    status: Status,
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
            status: j.status,
            provider_status: j.provider_status.clone(),
            started_at: j.started_at.clone(),
            stopped_at: j.stopped_at.clone(),
            behind_approval: false,
            approval_pending: false,
        }
    }
}

/// The provider's word while the frozen status is the current one, else
/// the buildsnap word.
fn word(frozen: Status, current: Status, provider_status: &str) -> String {
    if frozen == current {
        provider_status.to_string()
    } else {
        frozen.as_str().to_string()
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
    if j.kind == JobKind::Approval {
        return JobAt {
            status: Status::OnHold,
            provider_status: word(Status::OnHold, j.status, &j.provider_status),
            started_at: None,
            stopped_at: None,
            behind_approval: false,
            approval_pending: true,
        };
    }
    let started = at(j.started_at.as_deref());
    if started.is_some_and(|s| s <= as_of) {
        return JobAt {
            status: Status::Running,
            provider_status: word(Status::Running, j.status, &j.provider_status),
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
        status: Status::Queued,
        provider_status: word(Status::Queued, j.status, &j.provider_status),
        started_at: None,
        stopped_at: None,
        behind_approval,
        approval_pending: false,
    }
}

fn frozen_job(j: &IndexedJob, a: JobAt) -> FrozenJob {
    FrozenJob {
        id: j.id.clone(),
        name: j.name.clone(),
        number: j.number,
        kind: j.kind.clone(),
        status: a.status,
        provider_status: a.provider_status,
        started_at: a.started_at,
        stopped_at: a.stopped_at,
        url: j.url.clone(),
    }
}

/// The status of an in-progress build at `as_of`, from its jobs then.
fn in_progress_status(jobs: &[JobAt], current: Status) -> Status {
    if jobs
        .iter()
        .any(|j| matches!(j.status, Status::Failed | Status::Error))
    {
        return Status::Failing;
    }
    let pending_approval = jobs.iter().any(|j| j.approval_pending);
    let unfinished: Vec<&JobAt> = jobs
        .iter()
        .filter(|j| matches!(j.status, Status::Running | Status::Queued))
        .collect();
    if pending_approval && unfinished.iter().all(|j| j.behind_approval) {
        return Status::OnHold;
    }
    if current == Status::OnHold && !jobs.iter().any(|j| j.status == Status::Running) {
        // The provider says it waits on an approval now, and no job ran at
        // `as_of` (none listed, or only finished and queued ones: a GitHub
        // environment review holds its job queued, not as an approval job),
        // so nothing says it did anything else then.
        return Status::OnHold;
    }
    Status::Running
}

/// One build as of `as_of` (the caller has checked it existed then).
pub fn freeze_build(b: &IndexedBuild, as_of: OffsetDateTime) -> FrozenBuild {
    let (status, provider_status, stopped_at, jobs) = if done_by(b.stopped_at.as_deref(), as_of) {
        let jobs = b
            .jobs
            .iter()
            .map(|j| frozen_job(j, JobAt::as_is(j)))
            .collect();
        (
            b.status,
            b.provider_status.clone(),
            b.stopped_at.clone(),
            jobs,
        )
    } else {
        let approval_stops: Vec<Option<OffsetDateTime>> = b
            .jobs
            .iter()
            .filter(|j| j.kind == JobKind::Approval && !done_by(j.stopped_at.as_deref(), as_of))
            .map(|j| at(j.stopped_at.as_deref()))
            .collect();
        let states: Vec<JobAt> = b
            .jobs
            .iter()
            .map(|j| job_at(j, as_of, &approval_stops))
            .collect();
        let status = in_progress_status(&states, b.status);
        let jobs = b
            .jobs
            .iter()
            .zip(states)
            .map(|(j, mut a)| {
                if a.approval_pending && status != Status::OnHold {
                    // Not reached yet: blocked behind the jobs still running.
                    a.status = Status::Queued;
                    a.provider_status = word(Status::Queued, j.status, &j.provider_status);
                }
                frozen_job(j, a)
            })
            .collect();
        (
            status,
            word(status, b.status, &b.provider_status),
            None,
            jobs,
        )
    };
    FrozenBuild {
        id: b.id.clone(),
        name: b.name.clone(),
        status,
        provider_status,
        url: b.url.clone(),
        pipeline_id: b.pipeline_id.clone(),
        pipeline_number: b.pipeline_number,
        attempt: b.attempt,
        parent_id: b.parent_id.clone(),
        sha: b.sha.clone(),
        branch: b.branch.clone(),
        tag: b.tag.clone(),
        created_at: b.created_at.clone(),
        stopped_at,
        jobs,
        jobs_complete: b.jobs_complete,
    }
}

/// One build as the index holds it now, in the shape of a frozen one: its
/// own status and jobs, no as-of rule (a snapshot's `later_builds`, a
/// commit's builds now). Unlike [`freeze_build`] at the present instant, a
/// final build the provider gave no stop time stays final.
pub fn current(b: &IndexedBuild) -> FrozenBuild {
    FrozenBuild {
        id: b.id.clone(),
        name: b.name.clone(),
        status: b.status,
        provider_status: b.provider_status.clone(),
        url: b.url.clone(),
        pipeline_id: b.pipeline_id.clone(),
        pipeline_number: b.pipeline_number,
        attempt: b.attempt,
        parent_id: b.parent_id.clone(),
        sha: b.sha.clone(),
        branch: b.branch.clone(),
        tag: b.tag.clone(),
        created_at: b.created_at.clone(),
        stopped_at: b.stopped_at.clone(),
        jobs: b
            .jobs
            .iter()
            .map(|j| frozen_job(j, JobAt::as_is(j)))
            .collect(),
        jobs_complete: b.jobs_complete,
    }
}

/// Every build as it is now ([`current`]), newest first by creation time.
pub fn current_all(builds: &[IndexedBuild]) -> Vec<FrozenBuild> {
    let mut all: Vec<(Option<OffsetDateTime>, FrozenBuild)> = builds
        .iter()
        .map(|b| (at(Some(&b.created_at)), current(b)))
        .collect();
    all.sort_by_key(|b| std::cmp::Reverse(b.0));
    all.into_iter().map(|(_, b)| b).collect()
}

/// The builds that existed at `as_of`, each as it was then, newest first
/// (by creation time; ties keep the provider's order).
pub fn freeze(builds: &[IndexedBuild], as_of: OffsetDateTime) -> Vec<FrozenBuild> {
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
mod tests;
