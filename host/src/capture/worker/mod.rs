//! The capture worker: one task per process that claims due jobs from the
//! durable queue (claiming is atomic in the store, so no job runs twice at
//! once, across replicas too) and runs up to `concurrency` captures at a
//! time. A claim is a lease, renewed while the capture runs; a capture
//! whose lease was lost (another replica took the job over) is dropped
//! without writing anything.
//!
//! A capture: resolve the provider project; if the index alone determines
//! the snapshot (see [`super::index::index_suffices`]) freeze from it with
//! no provider request; else search the provider (`builds_for_commit`),
//! store the answer in the index, and freeze. Transient failures go back
//! to the queue with backoff (honouring the provider's retry-after) up to
//! `max_attempts`; a rejected token marks the integration
//! `needs_attention`. A disabled integration's capture is dropped at once,
//! in flight included, and its provider is not called again.
//!
//! | file | does |
//! | --- | --- |
//! | `mod.rs` | the claim loop and the shutdown hand-back |
//! | `attempt` | one attempt, in named steps over the capture's identifiers |
//! | `decide` | pure: findings → outcome (the snapshot, retry, error) |
//! | `settle` | pure outcome → queue decision, and writing it to the store |

mod attempt;
mod decide;
mod settle;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildsnap_store::ts;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use attempt::{Step, attempt};
pub use decide::{CaptureIds, Outcome, after_failure, decide, error_snapshot, not_due};
pub use settle::{Settle, capture, dropped_snapshot, settle};

use super::{Capture, db, leases};

/// The worker task: claims due jobs while a slot is free, sleeps until the
/// next is due (or a wake-up, or a capture ending), and on `stop` hands the
/// captures still running after the shutdown grace back to the queue.
pub(crate) async fn run(cap: Arc<Capture>, mut stop: watch::Receiver<bool>) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut tasks: JoinSet<()> = JoinSet::new();
    tracing::info!(
        concurrency = cap.config.concurrency,
        "capture worker started"
    );
    loop {
        if *stop.borrow() {
            break;
        }
        while tasks.len() < cap.config.concurrency.max(1) {
            match db(&cap.store, |s| s.next_capture_job()).await {
                Ok(Some(job)) => {
                    in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(job.deploy_id);
                    let (cap, in_flight) = (cap.clone(), in_flight.clone());
                    tasks.spawn(async move {
                        let id = job.deploy_id;
                        let lease = cap.store.capture_lease();
                        let renew = move |s: &buildsnap_store::Store| s.renew_capture_lease(id);
                        let what = format!("capture of deploy {id}");
                        leases::while_held(&cap.store, lease, &what, renew, capture(&cap, job))
                            .await;
                        // Removed only when the capture ran to its end (or
                        // lost its job to another replica); an aborted one
                        // stays listed and is re-queued below.
                        in_flight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&id);
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a capture job");
                    break;
                }
            }
        }
        if let Ok(depth) = db(&cap.store, |s| s.capture_queue_depth()).await {
            cap.metrics.set_capture_queue_depth(depth);
        }
        let full = tasks.len() >= cap.config.concurrency.max(1);
        let wait = match db(&cap.store, |s| s.next_capture_due()).await {
            // All slots busy: the next claim waits for a capture to end.
            _ if full => Duration::from_secs(30),
            Ok(Some(due)) => {
                let ms = (due - ts::now()).whole_milliseconds().clamp(10, 30_000);
                Duration::from_millis(ms as u64)
            }
            _ => Duration::from_secs(30),
        };
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            _ = cap.notify.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Shutdown: no new claims; in-flight captures get a grace period, then
    // are aborted and put back in the queue (without counting the attempt).
    let grace = tokio::time::sleep(cap.config.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            _ = &mut grace => break,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let left: Vec<i64> = in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .collect();
    for id in left {
        let r = db(&cap.store, move |s| {
            s.defer_capture(id, ts::now(), "interrupted by shutdown")
        })
        .await;
        tracing::info!(
            deploy = id,
            requeued = r.is_ok(),
            "capture interrupted by shutdown; queued for the next start"
        );
    }
    tracing::info!("capture worker stopped");
}
