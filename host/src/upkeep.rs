//! Store upkeep in the background of `serve`: today, re-encoding the
//! snapshots a database from before migration 4 still holds as JSON text
//! into zstd frames (about a tenth of the size; see `buildsnap-store`'s
//! `reencode.rs` for why it is batched and how it survives a kill).
//!
//! It runs on one blocking thread, batch after batch with a short pause
//! between them, so the capture worker's writes get the database in
//! between; it stops at the end of the batch in hand when the server stops,
//! and the next start carries on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use buildsnap_store::Store;

/// Rows per batch: a batch's write transaction holds the write lock for a
/// few milliseconds (the compression happens before it, outside).
const BATCH: u32 = 256;

/// Pause between batches: lets waiting writers (captures, sync) in first.
const PAUSE: Duration = Duration::from_millis(10);

/// The running upkeep; [`Upkeep::stop`] ends it.
pub struct Upkeep {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Upkeep {
    /// Starts the upkeep of `store` on a blocking thread (it returns at
    /// once; with nothing to do the thread ends after one count).
    pub fn start(store: Store) -> Upkeep {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::task::spawn_blocking(move || reencode_all(&store, &flag));
        Upkeep { stop, task }
    }

    /// Stops after the batch in hand and waits for it.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

fn reencode_all(store: &Store, stop: &AtomicBool) {
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
    while !stop.load(Ordering::Relaxed) {
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
