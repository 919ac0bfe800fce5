//! Re-encoding snapshots stored before migration 4 (JSON text) into zstd
//! frames, the form everything written since has.
//!
//! It runs in small batches rather than inside the migration, so a
//! database of millions of deploys opens at once and keeps serving while it
//! shrinks: each batch reads its rows, compresses them outside any
//! transaction, then writes them in one short write transaction. A row is
//! rewritten only while it is still JSON text (a capture that rewrote it
//! meanwhile wrote a zstd frame, and wins). The progress is the data
//! itself: a kill loses at most the batch being written, which the
//! transaction rolls back, and the next start carries on from the rows
//! still stored as text. Reads serve either form the same (`builds_codec`).

use crate::builds_codec::{decode, encode};
use crate::sql::args;
use crate::{Result, Store, StoreError};

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReencodeBatch {
    /// Rows rewritten as zstd frames by this batch.
    pub reencoded: usize,
    /// Bytes of JSON text those rows held.
    pub text_bytes: u64,
    /// Bytes of the frames that replaced them.
    pub zstd_bytes: u64,
}

impl Store {
    /// How many snapshots are still stored as JSON text (an index of only
    /// those rows makes this cheap, and empty once all are re-encoded).
    pub fn snapshots_stored_as_text(&self) -> Result<u64> {
        self.db.read(|tx| {
            Ok(tx.query_one(
                "SELECT count(*) FROM snapshots WHERE builds_encoding = 'json'",
                &[],
                |r| r.get::<i64>(0),
            )? as u64)
        })
    }

    /// Re-encodes up to `limit` snapshots still stored as JSON text into
    /// zstd frames; `reencoded` 0 means none is left. Each frame is decoded
    /// again and compared with the text before it replaces it.
    pub fn reencode_snapshots(&self, limit: u32) -> Result<ReencodeBatch> {
        let rows: Vec<(i64, String)> = self.db.read(|tx| {
            tx.query_all(
                "SELECT deploy_id, builds FROM snapshots WHERE builds_encoding = 'json'
                 ORDER BY deploy_id LIMIT ?1",
                &args![limit],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })?;
        let mut frames = Vec::with_capacity(rows.len());
        let mut text_bytes = 0u64;
        for (id, text) in rows {
            let frame = encode(&text)?;
            if decode(&frame)? != text {
                return Err(StoreError::Encoding(format!(
                    "re-encoding the snapshot of deploy {id} did not round-trip"
                )));
            }
            text_bytes += text.len() as u64;
            frames.push((id, frame));
        }
        if frames.is_empty() {
            return Ok(ReencodeBatch {
                reencoded: 0,
                text_bytes: 0,
                zstd_bytes: 0,
            });
        }
        self.db.write(|tx| {
            let (mut reencoded, mut zstd_bytes) = (0, 0u64);
            for (id, frame) in &frames {
                let n = tx.execute(
                    "UPDATE snapshots SET builds = '', builds_zstd = ?2, builds_encoding = 'zstd'
                     WHERE deploy_id = ?1 AND builds_encoding = 'json'",
                    &args![id, frame],
                )?;
                if n == 1 {
                    reencoded += 1;
                    zstd_bytes += frame.len() as u64;
                }
            }
            Ok(ReencodeBatch {
                reencoded,
                text_bytes,
                zstd_bytes,
            })
        })
    }
}
