//! The end of an attempt: what its [`Outcome`] means for the durable queue
//! ([`settle`], pure) and writing that to the store ([`capture`]).

use std::time::{Duration, Instant};

use buildsnap_domain::FinalSnapshot;
use buildsnap_store::CaptureJob;
use buildsnap_store::ts::{self, OffsetDateTime};

use super::attempt::attempt;
use super::decide::{Outcome, error_snapshot};
use crate::capture::{Capture, db, explain};

/// What the store is told about an attempt.
#[derive(Debug)]
pub enum Settle {
    /// Write this final snapshot (only while the job is still this
    /// worker's); a store error puts the job back for another try.
    Finish(FinalSnapshot),
    /// Transient failures used up every attempt: write this `error`
    /// snapshot, which says why (`reason`, the last failure).
    GiveUp {
        /// The `error` snapshot to write.
        snapshot: FinalSnapshot,
        /// The last failure.
        reason: String,
    },
    /// Back to the queue, due after `after`, counting the attempt.
    Retry {
        /// Why (stored as the job's last error).
        reason: String,
        /// How long to wait.
        after: Duration,
    },
    /// Back to the queue until `until`, not counting the attempt.
    Defer(OffsetDateTime),
    /// The integration was disabled during the attempt.
    Dropped,
}

/// What to tell the store about `outcome`, on attempt `attempts` of at most
/// `max_attempts`: a retry on the last attempt gives up instead.
pub fn settle(outcome: Outcome, attempts: u32, max_attempts: u32) -> Settle {
    match outcome {
        Outcome::Done(snapshot) => Settle::Finish(snapshot),
        Outcome::Retry { reason, .. } if attempts >= max_attempts => Settle::GiveUp {
            snapshot: error_snapshot(explain::gave_up(attempts, &reason), None),
            reason,
        },
        Outcome::Retry { reason, after } => Settle::Retry { reason, after },
        Outcome::Defer(until) => Settle::Defer(until),
        Outcome::Dropped => Settle::Dropped,
    }
}

/// The `error` snapshot of a capture whose integration was disabled before
/// it ended (the store normally wrote one at the disable already).
pub fn dropped_snapshot(provider: &str) -> FinalSnapshot {
    error_snapshot(
        format!(
            "the {provider} integration was disabled before the builds of this deploy were captured"
        ),
        None,
    )
}

/// Runs one claimed job to its next state in the store.
pub async fn capture(cap: &Capture, job: CaptureJob) {
    let started = Instant::now();
    // With "capture finished", brackets each attempt in the log: the fault
    // soak checks from them that no deploy is ever captured twice at once.
    tracing::info!(
        deploy = job.deploy_id,
        attempt = job.attempts,
        "capture started"
    );
    let outcome = attempt(cap, &job).await;
    let settled = settle(outcome, job.attempts, cap.config.max_attempts);
    let word = write(cap, &job, settled).await;
    cap.metrics.record_capture(word);
    tracing::info!(
        deploy = job.deploy_id,
        outcome = word,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "capture finished"
    );
}

/// Tells the store; returns the outcome word of the capture metric.
async fn write(cap: &Capture, job: &CaptureJob, settled: Settle) -> &'static str {
    let id = job.deploy_id;
    match settled {
        Settle::Finish(snap) => {
            let word = snap.state.as_str();
            match db(&cap.store, move |s| s.complete_capture(id, &snap)).await {
                Ok(true) => word,
                Ok(false) => "dropped",
                Err(e) => {
                    tracing::warn!(deploy = id, error = %e, "cannot store the snapshot; retrying later");
                    let _ = db(&cap.store, move |s| {
                        s.retry_capture(id, "store error", ts::now() + Duration::from_secs(5))
                    })
                    .await;
                    "retry"
                }
            }
        }
        Settle::GiveUp { snapshot, reason } => {
            tracing::warn!(deploy = id, attempts = job.attempts, reason = %reason, "capture gave up");
            match db(&cap.store, move |s| s.complete_capture(id, &snapshot)).await {
                Ok(true) => "error",
                _ => "dropped",
            }
        }
        Settle::Retry { reason, after } => {
            tracing::info!(deploy = id, attempt = job.attempts, retry_in_ms = after.as_millis() as u64, reason = %reason, "capture will retry");
            let not_before = ts::now() + after;
            let _ = db(&cap.store, move |s| {
                s.retry_capture(id, &reason, not_before)
            })
            .await;
            "retry"
        }
        Settle::Defer(until) => {
            let _ = db(&cap.store, move |s| {
                s.defer_capture(id, until, "deployed_at is in the future")
            })
            .await;
            "deferred"
        }
        Settle::Dropped if cap.enabled(&job.org, &job.provider).await => {
            // Enabled after all (disabled and enabled again meanwhile): try again.
            let _ = db(&cap.store, move |s| {
                s.retry_capture(id, "integration changed during the capture", ts::now())
            })
            .await;
            "retry"
        }
        Settle::Dropped => {
            // The store normally ended it at disable; make sure it is not left running.
            let snap = dropped_snapshot(&job.provider);
            let _ = db(&cap.store, move |s| s.complete_capture(id, &snap)).await;
            "dropped"
        }
    }
}

#[cfg(test)]
mod tests {
    use buildsnap_domain::SnapshotState;

    use super::*;

    fn retry(reason: &str) -> Outcome {
        Outcome::Retry {
            reason: reason.into(),
            after: Duration::from_secs(3),
        }
    }

    #[test]
    fn a_retry_on_the_last_attempt_gives_up_with_the_last_reason() {
        match settle(retry("503 from provider"), 7, 8) {
            Settle::Retry { reason, after } => {
                assert_eq!(
                    (reason.as_str(), after),
                    ("503 from provider", Duration::from_secs(3))
                );
            }
            other => panic!("{other:?}"),
        }
        for attempts in [8, 9] {
            let Settle::GiveUp { snapshot, reason } =
                settle(retry("503 from provider"), attempts, 8)
            else {
                panic!("attempt {attempts} of 8 gives up");
            };
            assert_eq!(reason, "503 from provider");
            assert_eq!(snapshot.state, SnapshotState::Error);
            assert!(snapshot.builds.is_empty());
            assert_eq!(
                snapshot.explain.as_deref(),
                Some(
                    format!("gave up after {attempts} attempts; last error: 503 from provider")
                        .as_str()
                )
            );
        }
    }

    #[test]
    fn other_outcomes_pass_through_whatever_the_attempt() {
        let done = error_snapshot("x".into(), Some("gh/acme/api".into()));
        assert!(matches!(
            settle(Outcome::Done(done.clone()), 8, 8),
            Settle::Finish(s) if s == done
        ));
        let until = ts::now() + Duration::from_secs(60);
        assert!(matches!(settle(Outcome::Defer(until), 8, 8), Settle::Defer(t) if t == until));
        assert!(matches!(settle(Outcome::Dropped, 8, 8), Settle::Dropped));
    }

    #[test]
    fn a_dropped_capture_says_which_integration_was_disabled() {
        let s = dropped_snapshot("circleci");
        assert_eq!(s.state, SnapshotState::Error);
        assert_eq!(s.summary.as_str(), "none");
        assert!(
            s.explain
                .unwrap()
                .contains("the circleci integration was disabled")
        );
    }
}
