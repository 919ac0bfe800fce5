//! What a pipeline, workflow or job looks like at a given simulated instant.
//!
//! A scenario gives each object a base status plus an optional timeline of
//! transitions. The served status is the last transition whose time has come;
//! stop/start times are derived from the transition times so a workflow that
//! finishes while a test watches gets a realistic `stopped_at`.

use chrono::{DateTime, Utc};

use crate::model::{
    Job, Pipeline, Workflow, job_is_terminal, job_is_waiting, workflow_is_terminal,
};
use crate::timestamp::{Precision, Timestamp};

/// Index of the last transition applied at `now`, if any.
fn applied(timeline: &[crate::model::Transition], now: DateTime<Utc>) -> Option<usize> {
    // Timelines are sorted at load time (see `scenario::normalise`).
    timeline.iter().rposition(|t| t.at.instant() <= now)
}

/// Pipeline `state` at `now`.
pub fn pipeline_state(p: &Pipeline, now: DateTime<Utc>) -> &str {
    match applied(&p.timeline, now) {
        Some(i) => &p.timeline[i].status,
        None => &p.state,
    }
}

/// Served workflow fields at an instant.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowNow<'a> {
    /// Current status.
    pub status: &'a str,
    /// `stopped_at` (`None` = JSON null).
    pub stopped_at: Option<Timestamp>,
}

/// Workflow status and stop time at `now`.
pub fn workflow_now(w: &Workflow, now: DateTime<Utc>) -> WorkflowNow<'_> {
    match applied(&w.timeline, now) {
        None => WorkflowNow {
            status: &w.status,
            stopped_at: w.stopped_at.clone(),
        },
        Some(i) => {
            let t = &w.timeline[i];
            let stopped_at = workflow_is_terminal(&t.status)
                .then(|| w.stopped_at.clone().unwrap_or_else(|| seconds(&t.at)));
            WorkflowNow {
                status: &t.status,
                stopped_at,
            }
        }
    }
}

/// Served job fields at an instant.
#[derive(Debug, Clone, PartialEq)]
pub struct JobNow<'a> {
    /// Current status.
    pub status: &'a str,
    /// `started_at` (`None` = JSON null).
    pub started_at: Option<Timestamp>,
    /// `stopped_at` (`None` = key absent, as real CircleCI does for running jobs).
    pub stopped_at: Option<Timestamp>,
}

/// Job status and times at `now`.
pub fn job_now(j: &Job, now: DateTime<Utc>) -> JobNow<'_> {
    let Some(i) = applied(&j.timeline, now) else {
        return JobNow {
            status: &j.status,
            started_at: j.started_at.clone(),
            stopped_at: j.stopped_at.clone(),
        };
    };
    let t = &j.timeline[i];
    // A job that was queued in the base state starts at its first non-waiting transition.
    let started_at = j.started_at.clone().or_else(|| {
        j.timeline[..=i]
            .iter()
            .find(|t| !job_is_waiting(&t.status))
            .map(|t| seconds(&t.at))
    });
    let stopped_at =
        job_is_terminal(&t.status).then(|| j.stopped_at.clone().unwrap_or_else(|| seconds(&t.at)));
    JobNow {
        status: &t.status,
        started_at,
        stopped_at,
    }
}

fn seconds(t: &Timestamp) -> Timestamp {
    Timestamp::from_instant(t.instant(), Precision::Seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Transition;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn workflow() -> Workflow {
        serde_json::from_value(serde_json::json!({
            "id": "w", "name": "build", "status": "running", "created_at": "2025-01-01T00:00:00Z",
            "stopped_at": null, "started_by": "u",
            "timeline": [{"at": "2025-01-01T00:05:00.5Z", "status": "success"}]
        }))
        .unwrap()
    }

    #[test]
    fn workflow_moves_to_final_state() {
        let w = workflow();
        let before = workflow_now(&w, ts("2025-01-01T00:04:59Z").instant());
        assert_eq!(
            before,
            WorkflowNow {
                status: "running",
                stopped_at: None
            }
        );
        let after = workflow_now(&w, ts("2025-01-01T00:05:01Z").instant());
        assert_eq!(after.status, "success");
        assert_eq!(after.stopped_at.unwrap().as_str(), "2025-01-01T00:05:00Z");
    }

    #[test]
    fn queued_job_gets_started_at_when_it_runs() {
        let mut j: Job = serde_json::from_value(serde_json::json!({
            "id": "j", "name": "test", "status": "queued", "started_at": null
        }))
        .unwrap();
        j.timeline = vec![
            Transition {
                at: ts("2025-01-01T00:01:00Z"),
                status: "running".into(),
            },
            Transition {
                at: ts("2025-01-01T00:02:00Z"),
                status: "failed".into(),
            },
        ];
        let q = job_now(&j, ts("2025-01-01T00:00:30Z").instant());
        assert_eq!(
            (q.status, q.started_at.is_none(), q.stopped_at.is_none()),
            ("queued", true, true)
        );
        let r = job_now(&j, ts("2025-01-01T00:01:30Z").instant());
        assert_eq!(r.started_at.unwrap().as_str(), "2025-01-01T00:01:00Z");
        assert!(r.stopped_at.is_none());
        let f = job_now(&j, ts("2025-01-01T00:03:00Z").instant());
        assert_eq!(
            (f.status, f.stopped_at.unwrap().as_str().to_owned()),
            ("failed", "2025-01-01T00:02:00Z".to_owned())
        );
    }
}
