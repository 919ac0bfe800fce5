//! Index retention: dropping build-index rows no snapshot needs once they
//! are older than a horizon (`BUILDSNAP_INDEX_RETENTION_DAYS`).
//!
//! Snapshots are kept for ever and carry their own frozen copy of every
//! build, so the index (`provider_builds`, their `provider_jobs`) is a cache
//! of what providers said. A row is needed still when:
//! - its build is not final (sync keeps asking after it);
//! - it was seen since the horizon (a recent search, sync or webhook);
//! - a snapshot froze that build before it was final, so the row is where
//!   the snapshot's `current_status` comes from. Frozen-final builds never
//!   change, so their rows add nothing to a snapshot.
//!
//! Commit searches older than the horizon go too, so that a capture never
//! takes an index that lost builds for complete: it searches the provider
//! again. A search newer than the horizon keeps its builds (they were seen
//! at the search), so a kept search is always whole. Webhook delivery ids
//! older than the horizon go as well: a redelivery that old is applied
//! again, which an upsert makes harmless.
//!
//! The build rows are walked by rowid (on PostgreSQL: by heap page) in chunks, each chunk one short
//! write transaction, so a pass over millions of rows never holds the
//! write lock for long and needs no index of its own.

use crate::sql::args;
use crate::{Result, Store};

/// What a chunk of a retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneChunk {
    /// Build rows dropped (their job rows go with them).
    pub builds: usize,
    /// Commit searches dropped (only in the first chunk of a pass).
    pub searches: usize,
    /// Webhook delivery ids dropped (only in the first chunk of a pass).
    pub webhook_ids: usize,
    /// Where the next chunk starts; `None` once the pass is through.
    pub next: Option<i64>,
}

/// About how many `provider_builds` rows fill a PostgreSQL heap page (8 KiB):
/// converts a chunk's rows into pages.
const PG_ROWS_PER_PAGE: i64 = 40;

/// The highest heap page number a `tid` holds (a block number is 32 bits).
const PG_MAX_PAGE: i64 = u32::MAX as i64;

/// The frozen statuses that may still change: the predicate of the partial
/// index `snapshot_builds_unsettled` (migration 6), written the same way so
/// that SQLite uses it.
pub(crate) const UNSETTLED: &str = unsettled!();

/// [`UNSETTLED`] as a literal, for `concat!` in statements built at
/// compile time (`capture_state.rs`).
macro_rules! unsettled {
    () => {
        "(sb.status IS NULL OR sb.status NOT IN ('success', 'failed', 'error', 'canceled', 'not_run'))"
    };
}
pub(crate) use unsettled;

impl Store {
    /// One chunk of a retention pass with horizon `before` (Unix
    /// nanoseconds): build rows with rowid in `(after, after + chunk]` that
    /// no snapshot needs (module docs) are dropped. A pass starts with
    /// `after` 0, which also drops the old searches and webhook ids, and
    /// continues with `next` until it is `None`.
    ///
    /// On PostgreSQL, which has no rowid, the positions are heap pages of
    /// the table: a chunk covers pages `[after, after + chunk / 40)` (at
    /// least one; about 40 rows fill a page), and rows moved by an update
    /// during the pass may be passed over until the next pass (a row just
    /// updated was just seen, so it is kept anyway).
    pub fn prune_index_chunk(&self, before: i64, after: i64, chunk: i64) -> Result<PruneChunk> {
        self.db.write(|tx| {
            let mut out = PruneChunk::default();
            if after == 0 {
                out.searches = tx.execute(
                    "DELETE FROM commit_searches WHERE searched_at < ?1",
                    &args![before],
                )?;
                out.webhook_ids = tx.execute(
                    "DELETE FROM webhook_events WHERE received_at < ?1",
                    &args![before],
                )?;
            }
            // sqlite-only: the walk is by `rowid`, which `provider_builds`
            // (a composite primary key) has only in SQLite, and the chunk
            // positions (`after`, `next`) are rowids. On PostgreSQL the walk
            // is by heap page (`ctid`, a TID range scan): the positions are
            // page numbers, a chunk covers the pages about `chunk` rows fill.
            if tx.is_postgres() {
                let pages = (chunk / PG_ROWS_PER_PAGE).max(1);
                let end = after.saturating_add(pages).min(PG_MAX_PAGE);
                let sql = format!(
                    "DELETE FROM provider_builds pb
                     WHERE pb.ctid >= CAST(format('(%s,0)', CAST(?1 AS BIGINT)) AS tid)
                       AND pb.ctid < CAST(format('(%s,0)', CAST(?2 AS BIGINT)) AS tid)
                       AND pb.final = 1 AND pb.last_seen < ?3
                       AND NOT EXISTS (SELECT 1 FROM snapshot_builds sb
                                       WHERE sb.build_id = pb.build_id AND {UNSETTLED})"
                );
                out.builds = tx.execute(&sql, &args![after.min(PG_MAX_PAGE), end, before])?;
                let more: bool = tx.query_one(
                    "SELECT EXISTS (SELECT 1 FROM provider_builds
                                    WHERE ctid >= CAST(format('(%s,0)', CAST(?1 AS BIGINT)) AS tid))",
                    &args![end],
                    |r| r.get(0),
                )?;
                out.next = (more && end < PG_MAX_PAGE).then_some(end);
                return Ok(out);
            }
            let sql = format!(
                "DELETE FROM provider_builds WHERE rowid IN (
                     SELECT pb.rowid FROM provider_builds pb
                     WHERE pb.rowid > ?1 AND pb.rowid <= ?2 AND pb.final = 1 AND pb.last_seen < ?3
                       AND NOT EXISTS (SELECT 1 FROM snapshot_builds sb
                                       WHERE sb.build_id = pb.build_id AND {UNSETTLED}))"
            );
            out.builds = tx.execute(&sql, &args![after, after.saturating_add(chunk), before])?;
            let more: bool = tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM provider_builds WHERE rowid > ?1)",
                &args![after.saturating_add(chunk)],
                |r| r.get(0),
            )?;
            out.next = more.then(|| after.saturating_add(chunk));
            Ok(out)
        })
    }
}
