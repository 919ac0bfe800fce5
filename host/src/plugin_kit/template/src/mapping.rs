//! The provider's builds onto the contract's: its state words onto
//! buildsnap's statuses, its jobs onto jobs.

use crate::api::{ApiBuild, ApiJob};
use crate::wit::{Build, Job, JobKind, Status};

/// buildsnap's status for one of the provider's state words. A word the
/// plugin does not know is `unknown`, not an error: providers add states.
pub fn status(state: &str) -> Status {
    match state {
        "queued" => Status::Queued,
        "running" => Status::Running,
        "passed" => Status::Success,
        "failed" => Status::Failed,
        "errored" => Status::Error,
        "canceled" => Status::Canceled,
        "blocked" => Status::OnHold,
        "skipped" => Status::NotRun,
        _ => Status::Unknown,
    }
}

/// A job as buildsnap stores it.
pub fn job(j: &ApiJob) -> Job {
    Job {
        id: j.id.clone(),
        name: j.name.clone(),
        number: None,
        kind: match j.kind.as_deref() {
            None | Some("build") => JobKind::Build,
            Some("approval") => JobKind::Approval,
            Some(other) => JobKind::Other(other.to_string()),
        },
        attempt: 1,
        status: status(&j.state),
        provider_status: j.state.clone(),
        started_at: j.started_at.clone(),
        stopped_at: j.finished_at.clone(),
        url: None,
    }
}

/// A build as buildsnap stores it. A running build with a failed job is
/// `failing`: the deploy can be told before the build ends.
pub fn build(b: &ApiBuild) -> Build {
    let jobs: Vec<Job> = b.jobs.iter().map(job).collect();
    let mut status = status(&b.state);
    if status == Status::Running && jobs.iter().any(|j| j.status == Status::Failed) {
        status = Status::Failing;
    }
    Build {
        id: b.id.clone(),
        name: b.name.clone(),
        status,
        provider_status: b.state.clone(),
        url: b.web_url.clone(),
        pipeline_id: b.id.clone(),
        pipeline_number: b.number,
        attempt: b.attempt.unwrap_or(1).max(1),
        parent_id: None,
        sha: b.commit.to_ascii_lowercase(),
        branch: b.branch.clone(),
        tag: None,
        created_at: b.created_at.clone(),
        stopped_at: b.finished_at.clone(),
        jobs,
        // The API lists every job with its build.
        jobs_complete: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_states_are_unknown_and_a_failed_job_makes_a_running_build_failing() {
        assert_eq!(status("passed"), Status::Success);
        assert_eq!(status("some-new-state"), Status::Unknown);
        let b: ApiBuild = serde_json::from_str(
            r#"{"id":"b1","name":"ci","state":"running","commit":"ABC","created_at":"2026-01-01T00:00:00Z",
                "jobs":[{"id":"j1","name":"test","state":"failed"},{"id":"j2","name":"gate","state":"blocked","type":"approval"}]}"#,
        )
        .unwrap();
        let mapped = build(&b);
        assert_eq!(mapped.status, Status::Failing);
        assert_eq!(mapped.sha, "abc");
        assert_eq!(mapped.jobs[1].kind, JobKind::Approval);
        assert_eq!(mapped.jobs[1].status, Status::OnHold);
    }
}
