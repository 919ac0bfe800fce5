//! What an attempt or a job looks like at a given simulated instant.
//!
//! Each object has a state at creation plus an optional timeline of transitions; the
//! served state is the last transition whose time has come. Start and completion times
//! are derived from the transition times, so a run that finishes while a test watches
//! gets realistic `updated_at` / `completed_at` values.

use chrono::{DateTime, Utc};

use crate::model::{Attempt, Job, Run, Transition};

fn applied(timeline: &[Transition], now: DateTime<Utc>) -> &[Transition] {
    // Timelines are sorted at load time (`Scenario::normalise`).
    &timeline[..timeline.partition_point(|t| t.at <= now)]
}

/// When the run was created: its first attempt's creation.
pub fn run_created_at(run: &Run) -> DateTime<Utc> {
    run.attempts[0].created_at
}

/// Number of attempts visible at `now` (0 = the run does not exist yet).
pub fn visible_attempts(run: &Run, now: DateTime<Utc>) -> usize {
    run.attempts.partition_point(|a| a.created_at <= now)
}

/// Served state of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptNow<'a> {
    /// `status`.
    pub status: &'a str,
    /// `conclusion` (`None` = JSON null).
    pub conclusion: Option<&'a str>,
    /// Time of the last applied change (`updated_at`).
    pub updated_at: DateTime<Utc>,
}

/// Attempt state at `now`.
pub fn attempt_now(a: &Attempt, now: DateTime<Utc>) -> AttemptNow<'_> {
    match applied(&a.timeline, now).last() {
        Some(t) => AttemptNow {
            status: &t.status,
            conclusion: t.conclusion.as_deref(),
            updated_at: t.at,
        },
        None => AttemptNow {
            status: &a.status,
            conclusion: a.conclusion.as_deref(),
            updated_at: a.created_at,
        },
    }
}

/// Served state of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobNow<'a> {
    /// `status`.
    pub status: &'a str,
    /// `conclusion`.
    pub conclusion: Option<&'a str>,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `started_at`: the creation time while queued (GitHub fills it at queue time), then
    /// the time the job went `in_progress`.
    pub started_at: DateTime<Utc>,
    /// `completed_at` once completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Whether a runner picked the job up (runner fields are null otherwise).
    pub ran: bool,
    /// Time of the last applied change.
    pub updated_at: DateTime<Utc>,
}

fn running_or_done(status: &str) -> bool {
    matches!(status, "in_progress" | "completed")
}

/// Job creation time (the attempt's when the job has none).
pub fn job_created_at(j: &Job, attempt_created: DateTime<Utc>) -> DateTime<Utc> {
    j.created_at.unwrap_or(attempt_created)
}

/// Job state at `now`.
pub fn job_now(j: &Job, attempt_created: DateTime<Utc>, now: DateTime<Utc>) -> JobNow<'_> {
    let created_at = job_created_at(j, attempt_created);
    let done = applied(&j.timeline, now);
    let (status, conclusion, updated_at) = match done.last() {
        Some(t) => (t.status.as_str(), t.conclusion.as_deref(), t.at),
        None => (j.status.as_str(), j.conclusion.as_deref(), created_at),
    };
    let started_at = if running_or_done(&j.status) {
        j.started_at.unwrap_or(created_at)
    } else {
        j.started_at.unwrap_or_else(|| {
            done.iter()
                .find(|t| running_or_done(&t.status))
                .map_or(created_at, |t| t.at)
        })
    };
    let completed_at = (status == "completed").then(|| match done.last() {
        Some(t) => t.at,
        None => j.completed_at.unwrap_or(started_at),
    });
    let went_in_progress =
        j.status == "in_progress" || done.iter().any(|t| t.status == "in_progress");
    let ran = status == "in_progress"
        || went_in_progress
        || (status == "completed" && !matches!(conclusion, Some("skipped" | "cancelled")));
    JobNow {
        status,
        conclusion,
        created_at,
        started_at,
        completed_at,
        ran,
        updated_at,
    }
}

/// Served state of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepNow<'a> {
    /// Step name.
    pub name: &'a str,
    /// 1-based number.
    pub number: usize,
    /// `queued`, `in_progress` or `completed`.
    pub status: &'static str,
    /// Conclusion once completed.
    pub conclusion: Option<&'a str>,
    /// Start time.
    pub started_at: Option<DateTime<Utc>>,
    /// Completion time.
    pub completed_at: Option<DateTime<Utc>>,
}

/// Steps as served: none before the job ran (like GitHub's `steps: []` for queued and
/// skipped jobs); while running, every step but the last done; once completed, all done
/// with their own conclusion, or success except the last, which takes the job's.
pub fn steps_now<'a>(j: &'a Job, state: &JobNow<'a>) -> Vec<StepNow<'a>> {
    if !state.ran {
        return Vec::new();
    }
    let last = j.steps.len().saturating_sub(1);
    j.steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let finished = state.status == "completed" || i < last;
            let default = if i == last {
                state.conclusion
            } else {
                Some("success")
            };
            StepNow {
                name: &s.name,
                number: i + 1,
                status: if finished { "completed" } else { "in_progress" },
                conclusion: finished
                    .then(|| s.conclusion.as_deref().or(default))
                    .flatten(),
                started_at: Some(state.started_at),
                completed_at: if finished {
                    Some(state.completed_at.unwrap_or(state.started_at))
                } else {
                    None
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn job() -> Job {
        serde_json::from_value(serde_json::json!({
            "id": 1, "name": "test", "status": "queued",
            "created_at": "2025-01-01T00:00:00Z",
            "steps": [{"name": "checkout"}, {"name": "test"}],
            "timeline": [
                {"at": "2025-01-01T00:01:00Z", "status": "in_progress"},
                {"at": "2025-01-01T00:05:00Z", "status": "completed", "conclusion": "failure"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn a_queued_job_starts_and_completes_with_the_clock() {
        let j = job();
        let created = ts("2025-01-01T00:00:00Z");
        let q = job_now(&j, created, ts("2025-01-01T00:00:30Z"));
        assert_eq!(
            (q.status, q.started_at, q.completed_at, q.ran),
            ("queued", created, None, false)
        );
        assert!(steps_now(&j, &q).is_empty());
        let r = job_now(&j, created, ts("2025-01-01T00:02:00Z"));
        assert_eq!(
            (r.status, r.started_at),
            ("in_progress", ts("2025-01-01T00:01:00Z"))
        );
        let steps = steps_now(&j, &r);
        assert_eq!(
            (steps[0].status, steps[1].status),
            ("completed", "in_progress")
        );
        let f = job_now(&j, created, ts("2025-01-01T00:09:00Z"));
        assert_eq!(
            (f.status, f.conclusion, f.completed_at),
            (
                "completed",
                Some("failure"),
                Some(ts("2025-01-01T00:05:00Z"))
            )
        );
        let steps = steps_now(&j, &f);
        assert_eq!(
            (steps[0].conclusion, steps[1].conclusion),
            (Some("success"), Some("failure"))
        );
    }

    #[test]
    fn skipped_jobs_never_ran() {
        let mut j = job();
        j.status = "completed".into();
        j.conclusion = Some("skipped".into());
        j.timeline.clear();
        let s = job_now(&j, ts("2025-01-01T00:00:00Z"), ts("2025-01-01T00:09:00Z"));
        assert!(!s.ran);
        assert!(steps_now(&j, &s).is_empty());
    }
}
