//! GitHub runs and jobs onto the contract's builds and jobs.

use crate::model::{GhJob, Run};
use crate::status::{provider_word, run_status, status};
use crate::wit::{Build, Job, JobKind};

/// `<run_id>/<attempt>`: the build id of one attempt.
pub fn build_id(run_id: u64, attempt: u32) -> String {
    let mut id = run_id.to_string();
    id.push('/');
    id.push_str(&attempt.to_string());
    id
}

/// Parse a build id back into run id and attempt.
pub fn parse_build_id(id: &str) -> Option<(u64, u32)> {
    let (run, attempt) = id.split_once('/')?;
    let attempt: u32 = attempt.parse().ok()?;
    (attempt >= 1).then_some(())?;
    Some((run.parse().ok()?, attempt))
}

/// The attempt a run object describes (GitHub always sends it today; an
/// object without one is the first).
pub fn attempt_of(run: &Run) -> u32 {
    run.run_attempt.unwrap_or(1).max(1)
}

/// A job as the contract wants it. `attempt` is the run attempt the job ran
/// in: each attempt re-runs a job (or all of them), so that is the job's
/// try number, and within one build every job shares it.
pub fn job(j: GhJob) -> Job {
    let st = status(&j.status, j.conclusion.as_deref());
    let word = provider_word(&j.status, j.conclusion.as_deref());
    // GitHub fills `started_at` with the creation time while a job is
    // queued or waiting: only a job that has run has really started.
    let started = !matches!(
        j.status.as_str(),
        "queued" | "waiting" | "requested" | "pending"
    );
    Job {
        id: j.id.to_string(),
        name: j.name,
        number: None,
        kind: JobKind::Build,
        attempt: j.run_attempt.unwrap_or(1).max(1),
        status: st,
        provider_status: word,
        started_at: j.started_at.filter(|_| started),
        stopped_at: if j.status == "completed" {
            j.completed_at
        } else {
            None
        },
        url: j.html_url,
    }
}

/// One attempt of a run as a build, with that attempt's jobs (`None` when
/// they could not be read: the build says its job list is incomplete).
pub fn build(run: Run, jobs: Option<Vec<GhJob>>) -> Build {
    let attempt = attempt_of(&run);
    let raw_status = run.status.as_deref().unwrap_or("");
    let conclusion = run.conclusion.as_deref();
    let st = match &jobs {
        Some(js) => run_status(
            raw_status,
            conclusion,
            js.iter().map(|j| j.conclusion.as_deref()),
        ),
        None => run_status(raw_status, conclusion, std::iter::empty()),
    };
    let word = provider_word(raw_status, conclusion);
    let completed = raw_status == "completed";
    let jobs_complete = jobs.is_some();
    let mut sha = run.head_sha;
    sha.make_ascii_lowercase();
    Build {
        id: build_id(run.id, attempt),
        name: run.name.unwrap_or_default(),
        status: st,
        provider_status: word,
        url: Some(run.html_url),
        pipeline_id: run.id.to_string(),
        pipeline_number: Some(run.run_number),
        attempt,
        parent_id: None,
        sha,
        branch: run.head_branch,
        tag: None,
        // An attempt is created when it starts; the run's own `created_at`
        // is its first attempt's. Placing attempt 2 at the run's creation
        // would count a re-run made after a deploy as part of it.
        created_at: run.run_started_at.unwrap_or(run.created_at),
        // GitHub has no completion time on a run: its last change is it.
        stopped_at: completed.then_some(run.updated_at),
        jobs: jobs.unwrap_or_default().into_iter().map(job).collect(),
        jobs_complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::Status;

    fn run(status: &str, conclusion: Option<&str>, attempt: u32) -> Run {
        serde_json::from_value(serde_json::json!({
            "id": 30433642, "name": "Build", "head_branch": "main",
            "head_sha": "ACB5820CED9479C074F688CC328BF03F341A511D", "run_number": 562,
            "run_attempt": attempt, "status": status, "conclusion": conclusion,
            "html_url": "https://github.com/octo-org/octo-repo/actions/runs/30433642",
            "created_at": "2020-01-22T19:33:08Z", "updated_at": "2020-01-22T19:35:08Z",
            "run_started_at": "2020-01-22T19:34:00Z",
        }))
        .unwrap()
    }

    fn gh_job(id: u64, status: &str, conclusion: Option<&str>) -> GhJob {
        serde_json::from_value(serde_json::json!({
            "id": id, "run_id": 30433642, "run_attempt": 2, "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
            "status": status, "conclusion": conclusion, "name": format!("job {id}"),
            "started_at": "2020-01-20T17:42:40Z", "completed_at": "2020-01-20T17:44:39Z",
            "html_url": format!("https://github.com/octo-org/octo-repo/runs/{id}"),
        }))
        .unwrap()
    }

    #[test]
    fn an_attempt_is_a_build_of_its_run() {
        let b = build(run("completed", Some("success"), 2), Some(vec![]));
        assert_eq!(b.id, "30433642/2");
        assert_eq!(b.pipeline_id, "30433642");
        assert_eq!(b.pipeline_number, Some(562));
        assert_eq!(b.attempt, 2);
        assert_eq!(b.sha, "acb5820ced9479c074f688cc328bf03f341a511d");
        assert_eq!(b.created_at, "2020-01-22T19:34:00Z");
        assert_eq!(b.stopped_at.as_deref(), Some("2020-01-22T19:35:08Z"));
        assert_eq!(b.status, Status::Success);
        assert_eq!(b.provider_status, "success");
        assert!(b.jobs_complete);
        assert_eq!(parse_build_id(&b.id), Some((30433642, 2)));
        assert_eq!(parse_build_id("1/0"), None);
        assert_eq!(parse_build_id("x/1"), None);
    }

    #[test]
    fn in_progress_with_a_failed_job_is_failing() {
        let jobs = vec![
            gh_job(1, "completed", Some("failure")),
            gh_job(2, "in_progress", None),
        ];
        let b = build(run("in_progress", None, 1), Some(jobs));
        assert_eq!(b.status, Status::Failing);
        assert_eq!(b.provider_status, "in_progress");
        assert_eq!(b.stopped_at, None);
        assert_eq!(b.jobs[0].status, Status::Failed);
        assert_eq!(
            b.jobs[0].stopped_at.as_deref(),
            Some("2020-01-20T17:44:39Z")
        );
        assert_eq!(b.jobs[1].status, Status::Running);
        assert_eq!(b.jobs[1].stopped_at, None);
        assert_eq!(b.jobs[1].attempt, 2);
    }

    #[test]
    fn unread_jobs_are_incomplete_not_empty() {
        let b = build(run("waiting", None, 1), None);
        assert_eq!(b.status, Status::OnHold);
        assert!(!b.jobs_complete);
    }

    #[test]
    fn a_queued_job_has_not_started() {
        let j = job(gh_job(3, "queued", None));
        assert_eq!(j.status, Status::Queued);
        assert_eq!(j.started_at, None);
        assert_eq!(j.kind, JobKind::Build);
        let j = job(gh_job(4, "completed", Some("skipped")));
        assert_eq!(j.status, Status::NotRun);
        assert_eq!(j.provider_status, "skipped");
    }
}
