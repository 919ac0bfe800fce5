//! Work that runs only while this replica holds its lease: a capture (its
//! job's lease) or a build project's sync (a named lease). The lease is
//! renewed every third of its length while the work runs; when a renewal
//! says it is no longer ours (another replica took it over after it ran
//! out), the work is dropped where it stands, so that it writes nothing
//! more. A renewal that fails on a store error is tried again at the next
//! tick: the lease may well still be ours, and the writes that end the work
//! check ownership in their own transactions.

use std::future::Future;
use std::time::Duration;

use buildsnap_store::Store;

use super::db;

/// Runs `work` while renewing a lease of length `lease` with `renew`
/// (`Ok(true)`: still ours). `Some` with the work's output when it ran to
/// its end; `None` when the lease was lost and the work dropped. `what`
/// names the work in the log.
pub async fn while_held<F, R>(
    store: &Store,
    lease: Duration,
    what: &str,
    renew: R,
    work: F,
) -> Option<F::Output>
where
    F: Future,
    R: Fn(&Store) -> buildsnap_store::Result<bool> + Clone + Send + 'static,
{
    let every = (lease / 3).max(Duration::from_millis(10));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return Some(out),
            _ = tick.tick() => {
                let renew = renew.clone();
                match db(store, move |s| renew(s)).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(work = what, replica = store.replica_id(),
                            "lease lost to another replica; stopping this work without writing more");
                        return None;
                    }
                    Err(e) => tracing::warn!(work = what, error = %e,
                        "cannot renew the lease; trying again"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn work_runs_while_renewed_and_is_dropped_when_the_lease_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(
            dir.path(),
            buildsnap_store::SecretKey::load_or_create(dir.path(), None).unwrap(),
        )
        .unwrap();
        let lease = Duration::from_millis(90);
        let (lost, renewals) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let renew = {
            let (lost, renewals) = (lost.clone(), renewals.clone());
            move |_: &Store| {
                renewals.fetch_add(1, Ordering::SeqCst);
                Ok(!lost.load(Ordering::SeqCst))
            }
        };
        // Renewed for longer than one lease: the work ends on its own.
        let out = while_held(&s, lease, "test", renew.clone(), async {
            tokio::time::sleep(lease * 3).await;
            7
        })
        .await;
        assert_eq!(out, Some(7));
        assert!(renewals.load(Ordering::SeqCst) >= 3, "renewed every third");
        // Lost meanwhile: dropped at the next renewal, before its end.
        let ended = Arc::new(AtomicBool::new(false));
        let e = ended.clone();
        lost.store(true, Ordering::SeqCst);
        let out = while_held(&s, lease, "test", renew, async move {
            tokio::time::sleep(lease * 20).await;
            e.store(true, Ordering::SeqCst);
        })
        .await;
        assert_eq!(out, None);
        assert!(
            !ended.load(Ordering::SeqCst),
            "the work never reached its end"
        );
    }
}
