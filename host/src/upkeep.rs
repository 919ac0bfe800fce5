//! Store upkeep in the background of `serve`:
//! - re-encoding the snapshots a database from before migration 4 still
//!   holds as JSON text into zstd frames (about a tenth of the size; the
//!   store's `reencode.rs` says why it is batched and how it survives a
//!   kill), once, at start;
//! - thinning the build-index rows of a database from before migration 11
//!   (a final build a snapshot froze is then stored once; the store's
//!   `index_thin.rs` says how), once, at start, resuming where the last
//!   run stopped;
//! - index retention when `--index-retention-days` is set: a pass at start
//!   and every [`PRUNE_EVERY`] drops the build-index rows no snapshot needs
//!   (the store's `retention.rs` says which).
//!
//! The database work runs on blocking threads in short batches with a
//! pause between them, so the capture worker's writes get the database in
//! between; on stop it ends after the batch in hand, and the next start
//! carries on.
//!
//! Replicas sharing a PostgreSQL database: each pass runs under a named
//! lease ([`REENCODE_LEASE`], [`THIN_LEASE`], [`PRUNE_LEASE`]), renewed at
//! every batch, so one replica at a time does it; the others skip it (the
//! work is the database's, not the replica's). A replica that loses the
//! lease mid-pass (stalled past [`UPKEEP_LEASE`]) stops after that batch.
//! Correctness does not hang on it (each batch is its own serializable
//! transaction); it spares doing the same work twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use buildsnap_store::{Store, ts};
use tokio::sync::Notify;

/// Rows per re-encoding batch: its write transaction holds the write lock
/// for a few milliseconds (the compression happens before it, outside).
const BATCH: u32 = 256;

/// Snapshots per thinning chunk: each is decoded and compared with its
/// index rows inside the chunk's write transaction (about 0.2 ms each in a
/// release build), so a chunk holds the write lock for about 15 ms.
const THIN_CHUNK: u32 = 64;

/// Build rows (by rowid) per retention chunk, one short transaction each.
const PRUNE_CHUNK: i64 = 5_000;

/// Pause between batches: lets waiting writers (captures, sync) in first.
const PAUSE: Duration = Duration::from_millis(10);

/// Named lease of the re-encoding pass.
pub const REENCODE_LEASE: &str = "upkeep:reencode";

/// Named lease of the index-thinning pass.
pub const THIN_LEASE: &str = "upkeep:thin";

/// Named lease of the retention passes; kept for most of [`PRUNE_EVERY`]
/// after a pass, so that the replicas prune about once per period between
/// them.
pub const PRUNE_LEASE: &str = "upkeep:prune";

/// How long an upkeep lease lasts without a renewal (one per batch, each a
/// few milliseconds): a replica that dies mid-pass holds it this long.
pub const UPKEEP_LEASE: Duration = Duration::from_secs(60);

/// Whether this replica holds (took or renewed) upkeep lease `name`. A
/// store error counts as not: the pass waits for a later start or period.
fn hold(store: &Store, name: &str) -> bool {
    match store.try_lease(name, UPKEEP_LEASE) {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(lease = name, error = %e, "cannot take the upkeep lease");
            false
        }
    }
}

/// Time between retention passes: rows age by days, so a few passes a day
/// keep the index within a fraction of a day of its horizon.
pub const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);

/// The running upkeep; [`Upkeep::stop`] ends it.
pub struct Upkeep {
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Upkeep {
    /// Starts the upkeep of `store`; `retention` is how long index rows no
    /// snapshot needs are kept (`None`: for ever, no passes).
    pub fn start(store: Store, retention: Option<Duration>) -> Upkeep {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        let (flag, woken) = (stop.clone(), wake.clone());
        let task = tokio::spawn(async move {
            let (s, f) = (store.clone(), flag.clone());
            let _ = tokio::task::spawn_blocking(move || reencode_all(&s, &f)).await;
            let (s, f) = (store.clone(), flag.clone());
            let _ = tokio::task::spawn_blocking(move || thin_all(&s, &f)).await;
            let Some(keep) = retention else { return };
            while !flag.load(Ordering::Relaxed) {
                let (s, f) = (store.clone(), flag.clone());
                let _ = tokio::task::spawn_blocking(move || prune_pass(&s, keep, &f)).await;
                tokio::select! {
                    () = woken.notified() => {}
                    () = tokio::time::sleep(PRUNE_EVERY) => {}
                }
            }
        });
        Upkeep { stop, wake, task }
    }

    /// Stops after the batch in hand and waits for it.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        // A stored permit: the task wakes even if it was not waiting yet.
        self.wake.notify_one();
        let _ = self.task.await;
    }
}

fn reencode_all(store: &Store, stop: &AtomicBool) {
    if !hold(store, REENCODE_LEASE) {
        return;
    }
    reencode_held(store, stop);
    let _ = store.release_lease(REENCODE_LEASE);
}

fn reencode_held(store: &Store, stop: &AtomicBool) {
    let remaining = match store.snapshots_stored_as_text() {
        Ok(0) => return,
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "could not count the snapshots stored as text; not re-encoding them this run");
            return;
        }
    };
    tracing::info!(
        snapshots = remaining,
        batch = BATCH,
        "re-encoding snapshots stored as text into zstd, in the background"
    );
    let started = Instant::now();
    let (mut rows, mut text, mut zstd) = (0u64, 0u64, 0u64);
    while !stop.load(Ordering::Relaxed) && hold(store, REENCODE_LEASE) {
        match store.reencode_snapshots(BATCH) {
            Ok(b) if b.reencoded == 0 => {
                tracing::info!(
                    snapshots = rows,
                    text_bytes = text,
                    zstd_bytes = zstd,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "every snapshot is stored as zstd now"
                );
                return;
            }
            Ok(b) => {
                rows += b.reencoded as u64;
                text += b.text_bytes;
                zstd += b.zstd_bytes;
            }
            Err(e) => {
                // A row that does not round-trip stays as it is (it still
                // reads); the rest wait for the next start.
                tracing::warn!(error = %e, snapshots = rows, "re-encoding snapshots stopped");
                return;
            }
        }
        std::thread::sleep(PAUSE);
    }
    tracing::info!(
        snapshots = rows,
        "re-encoding snapshots paused by shutdown; the next start carries on"
    );
}

/// Thins the index rows of the snapshots the store has not gone through
/// yet; nothing to do (the usual case) costs one empty chunk.
fn thin_all(store: &Store, stop: &AtomicBool) {
    if !hold(store, THIN_LEASE) {
        return;
    }
    thin_held(store, stop);
    let _ = store.release_lease(THIN_LEASE);
}

fn thin_held(store: &Store, stop: &AtomicBool) {
    let started = Instant::now();
    let (mut snapshots, mut thinned, mut logged) = (0u64, 0u64, false);
    while !stop.load(Ordering::Relaxed) && hold(store, THIN_LEASE) {
        match store.thin_index_chunk(THIN_CHUNK) {
            Ok(c) if c.next.is_none() => {
                if logged {
                    tracing::info!(
                        snapshots,
                        thinned,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "the build index holds each final build once now"
                    );
                }
                return;
            }
            Ok(c) => {
                if !logged {
                    tracing::info!(
                        chunk = THIN_CHUNK,
                        "thinning the build index of older snapshots, in the background"
                    );
                    logged = true;
                }
                snapshots += c.snapshots as u64;
                thinned += c.thinned as u64;
            }
            Err(e) => {
                tracing::warn!(error = %e, snapshots, "thinning the build index stopped; the next start tries again");
                return;
            }
        }
        std::thread::sleep(PAUSE);
    }
    tracing::info!(
        snapshots,
        thinned,
        "thinning the build index paused by shutdown; the next start carries on"
    );
}

/// One retention pass, unless another replica runs (or has just run) one.
fn prune_pass(store: &Store, keep: Duration, stop: &AtomicBool) {
    if !hold(store, PRUNE_LEASE) {
        return;
    }
    prune_held(store, keep, stop);
    let _ = store.try_lease(PRUNE_LEASE, PRUNE_EVERY.mul_f64(0.9));
}

/// One retention pass: everything older than `keep` that no snapshot needs.
fn prune_held(store: &Store, keep: Duration, stop: &AtomicBool) {
    let horizon =
        ts::to_nanos(ts::now()).saturating_sub(keep.as_nanos().min(i64::MAX as u128) as i64);
    let started = Instant::now();
    let (mut builds, mut searches, mut webhook_ids, mut after) = (0, 0, 0, 0);
    while !stop.load(Ordering::Relaxed) && hold(store, PRUNE_LEASE) {
        match store.prune_index_chunk(horizon, after, PRUNE_CHUNK) {
            Ok(c) => {
                builds += c.builds;
                searches += c.searches;
                webhook_ids += c.webhook_ids;
                match c.next {
                    Some(n) => after = n,
                    None => break,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "index retention pass stopped; the next one tries again");
                return;
            }
        }
        std::thread::sleep(PAUSE);
    }
    tracing::info!(
        builds,
        searches,
        webhook_ids,
        keep_days = keep.as_secs() / 86_400,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "index retention pass"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use buildsnap_store::{Account, NewCodeDeployment, ProviderToken, SecretKey};

    /// The pass runs at start with the configured horizon: with a horizon
    /// of zero every finished, unneeded build row goes; stop ends the loop.
    #[tokio::test]
    async fn retention_passes_run_from_start_and_stop_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            SecretKey::load_or_create(dir.path(), None).unwrap(),
        )
        .unwrap();
        store.create_org("acme", "Acme").unwrap();
        let account = Account {
            id: "1".into(),
            login: "a".into(),
            name: "A".into(),
        };
        store
            .enable_integration(
                "acme",
                "circleci",
                "https://circleci.com",
                &ProviderToken::new("t".into()),
                &account,
            )
            .unwrap();
        store.create_project("acme", "web", "Web").unwrap();
        let cd = NewCodeDeployment {
            slug: "main".into(),
            repo_url: "https://github.com/acme/web".into(),
            branch: "main".into(),
            build_project: None,
            branch_builds_only: false,
        };
        store.create_code_deployment("acme", "web", &cd).unwrap();
        let build: buildsnap_domain::IndexedBuild = serde_json::from_value(serde_json::json!({
            "id": "wf-1", "project": "gh/acme/web", "name": "build", "status": "success",
            "provider_status": "success", "url": null, "pipeline_id": "p1", "pipeline_number": 1,
            "sha": "a".repeat(40), "branch": "main", "tag": null, "created_at": "2025-06-01T11:00:00Z",
            "stopped_at": "2025-06-01T11:05:00Z", "jobs_complete": true, "jobs": [],
        }))
        .unwrap();
        assert!(
            store
                .index_builds("acme", "circleci", &[build], None)
                .unwrap()
        );
        let count = |s: &Store| {
            s.index_lookup("acme", "circleci", "gh/acme/web", &"a".repeat(40))
                .unwrap()
                .builds
                .len()
        };
        assert_eq!(count(&store), 1);

        let upkeep = Upkeep::start(store.clone(), Some(Duration::ZERO));
        let deadline = Instant::now() + Duration::from_secs(30);
        while count(&store) == 1 {
            assert!(Instant::now() < deadline, "the pass at start did not run");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::timeout(Duration::from_secs(30), upkeep.stop())
            .await
            .expect("stop ends the loop");
    }
}
