//! Index rows without redundancy: a final build that a snapshot froze
//! exactly as the index holds it is stored once, in the snapshot.
//!
//! Most of a mature database's index is builds that finished long ago, and
//! every one of them is also in the frozen `builds` of the deploy of its
//! commit, field for field (`freeze::current` of the index row equals the
//! frozen build). Such a row is *thinned* (migration 11): it keeps the
//! columns that queries filter and join on (project, sha, name, status,
//! final, times seen, created_at, attempt), its other columns are emptied,
//! its `provider_jobs` rows go, and `frozen_in` names the deploy whose
//! snapshot holds the rest. Reads put the row back together from that
//! snapshot (`index_read.rs`), so every reader sees what it saw before.
//!
//! The rule is checked, never assumed: a row is thinned only when the
//! comparison holds at that moment, inside the writing transaction. A write
//! that would change a thinned row other than its `last_seen` first puts it
//! back whole ([`rehydrate`]), applies the index's merge rules as usual, and
//! thins it again if it still equals its frozen copy. Rows are thinned as
//! final snapshots are written (`captures::write_final`), and a database
//! from before migration 11 is thinned in the background in resumable
//! chunks ([`crate::Store::thin_index_chunk`]).

use buildsnap_domain::FrozenBuild;
use buildsnap_domain::freeze;

use crate::builds_codec::StoredBuilds;
use crate::index_read::read_builds;
use crate::sql::{Arg, Tx, args};
use crate::{Result, Store, StoreError, columns};

/// Where the background pass over old snapshots got to: the highest deploy
/// id whose snapshot it has read, kept in `meta` with each chunk's writes.
const PROGRESS_KEY: &str = "index_thin_through";

/// The last snapshot written before migration 11 (recorded by it): the pass
/// goes no further, for every later one was thinned as it was written.
const UNTIL_KEY: &str = "index_thin_until";

/// A deploy id kept in `meta` (a STRICT table of blobs: as its digits).
fn meta_id(tx: &Tx<'_>, key: &str) -> Result<i64> {
    tx.query_opt("SELECT value FROM meta WHERE key = ?1", &args![key], |r| {
        r.get::<Vec<u8>>(0)
    })?
    .map_or(Ok(0), |v| {
        std::str::from_utf8(&v)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::Invalid(format!("meta {key} is not a deploy id")))
    })
}

/// What one chunk of the background pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThinChunk {
    /// Final snapshots read.
    pub snapshots: usize,
    /// Index rows thinned.
    pub thinned: usize,
    /// Where the next chunk starts; `None` once the pass is through.
    pub next: Option<i64>,
}

/// Thins the index rows of `builds` (deploy `deploy_id`'s frozen builds)
/// that are final and equal to their frozen copy. Returns how many.
pub(crate) fn thin_frozen(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    deploy_id: i64,
    builds: &[FrozenBuild],
) -> Result<usize> {
    let mut n = 0;
    for b in builds.iter().filter(|b| b.status.is_final()) {
        n += usize::from(thin_one(tx, org_id, provider, deploy_id, b)?);
    }
    Ok(n)
}

/// Thins build `copy.id`'s row if it is final, not thinned yet, and reads
/// exactly as `copy` (deploy `deploy_id` froze it so).
pub(crate) fn thin_one(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    deploy_id: i64,
    copy: &FrozenBuild,
) -> Result<bool> {
    let held = read_builds(
        tx,
        org_id,
        provider,
        "build_id = ?3 AND final = 1 AND frozen_in IS NULL",
        &[Arg::from(&copy.id)],
    )?;
    let Some(b) = held.first() else {
        return Ok(false);
    };
    if freeze::current(b) != *copy {
        return Ok(false);
    }
    tx.execute(
        "DELETE FROM provider_jobs WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
        &args![org_id, provider, &copy.id],
    )?;
    // Written anew (REPLACE: the old row goes, the thin one gets the next
    // rowid) rather than updated in place: SQLite leaves a row shrunk in
    // place in its page with the freed bytes unused (pages of thinned rows
    // stayed half empty), while the pages of rows moved away empty out and
    // are reused.
    // sqlite-only: `INSERT OR REPLACE` on purpose, for the page layout
    // above (an `ON CONFLICT DO UPDATE` would update in place, as a plain
    // UPDATE does). Its delete cascades to nothing: the build's
    // `provider_jobs` rows were deleted just before. PostgreSQL writes a new
    // row version on every UPDATE anyway, so there it is a plain
    // `UPDATE` ([`THIN_PG`]).
    if tx.is_postgres() {
        tx.execute(THIN_PG, &args![org_id, provider, &copy.id, deploy_id])?;
        return Ok(true);
    }
    tx.execute(
        "INSERT OR REPLACE INTO provider_builds (org_id, provider, build_id, project, sha, name, status,
             provider_status, final, url, pipeline_id, pipeline_number, branch, tag, created_at,
             stopped_at, jobs_complete, first_seen, last_seen, attempt, parent_id, frozen_in)
         SELECT org_id, provider, build_id, project, sha, name, status, '', final, NULL, '', NULL,
                NULL, NULL, created_at, NULL, jobs_complete, first_seen, last_seen, attempt, NULL, ?4
         FROM provider_builds
         WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 AND frozen_in IS NULL",
        &args![org_id, provider, &copy.id, deploy_id],
    )?;
    Ok(true)
}

/// Puts thinned row `build_id` back whole from its frozen copy (columns and
/// job rows) and returns the deploy and the copy, so that the caller can
/// thin it again after its write. `None`: the row is not thinned.
pub(crate) fn rehydrate(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    build_id: &str,
) -> Result<Option<(i64, FrozenBuild)>> {
    let deploy: Option<Option<i64>> = tx.query_opt(
        "SELECT frozen_in FROM provider_builds WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
        &args![org_id, provider, build_id],
        |r| r.get(0),
    )?;
    let Some(Some(deploy)) = deploy else {
        return Ok(None);
    };
    let mut rows = read_builds(tx, org_id, provider, "build_id = ?3", &args![build_id])?;
    let b = rows.pop().expect("the row was just read");
    tx.execute(
        "UPDATE provider_builds SET provider_status = ?4, url = ?5, pipeline_id = ?6,
             pipeline_number = ?7, branch = ?8, tag = ?9, stopped_at = ?10, parent_id = ?11,
             frozen_in = NULL
         WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
        &args![
            org_id,
            provider,
            build_id,
            &b.provider_status,
            &b.url,
            &b.pipeline_id,
            b.pipeline_number,
            &b.branch,
            &b.tag,
            b.stopped_at.as_deref().and_then(columns::parse_nanos),
            &b.parent_id
        ],
    )?;
    for (pos, j) in b.jobs.iter().enumerate() {
        tx.execute(
            "INSERT INTO provider_jobs (org_id, provider, build_id, job_id, position, name, number, kind,
                 status, provider_status, started_at, stopped_at, url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            &args![
                org_id,
                provider,
                build_id,
                &j.id,
                pos as i64,
                &j.name,
                j.number,
                j.kind.as_str(),
                j.status.as_str(),
                &j.provider_status,
                j.started_at.as_deref().and_then(columns::parse_nanos),
                j.stopped_at.as_deref().and_then(columns::parse_nanos),
                &j.url
            ],
        )?;
    }
    Ok(Some((deploy, freeze::current(&b))))
}

impl Store {
    /// One chunk of the background pass that thins the index rows of a
    /// database from before migration 11: the final snapshots written
    /// before that migration and after the stored progress, up to `chunk`
    /// of them, each read and compared inside one write transaction that
    /// also records the progress. A kill loses at most the chunk in hand,
    /// and the next call carries on from the progress; a pass that is
    /// through (and a database created since) returns `next: None` at once.
    pub fn thin_index_chunk(&self, chunk: u32) -> Result<ThinChunk> {
        self.db.write(|tx| {
            let after = meta_id(tx, PROGRESS_KEY)?;
            let until = meta_id(tx, UNTIL_KEY)?;
            let rows: Vec<(i64, i64, String, StoredBuilds)> = tx.query_all(
                "SELECT s.deploy_id, d.org_id, s.provider, s.builds_encoding, s.builds, s.builds_zstd
                 FROM snapshots s JOIN deploys d ON d.id = s.deploy_id
                 WHERE s.deploy_id > ?1 AND s.deploy_id <= ?3
                   AND s.state IN ('complete', 'error') AND s.provider IS NOT NULL
                 ORDER BY s.deploy_id LIMIT ?2",
                &args![after, chunk, until],
                |r| {
                    let encoding: String = r.get(3)?;
                    let stored = StoredBuilds::from_columns(&encoding, r.get(4)?, r.get(5)?)?;
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, stored))
                },
            )?;
            let mut out = ThinChunk {
                snapshots: rows.len(),
                ..ThinChunk::default()
            };
            let Some(last) = rows.last().map(|r| r.0) else {
                return Ok(out);
            };
            for (deploy, org_id, provider, stored) in rows {
                let json = stored.into_json()?;
                let builds: Vec<FrozenBuild> = serde_json::from_str(&json)?;
                out.thinned += thin_frozen(tx, org_id, &provider, deploy, &builds)?;
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &args![PROGRESS_KEY, last.to_string().as_bytes()],
            )?;
            out.next = Some(last);
            Ok(out)
        })
    }

    /// Index rows thinned, and rows of final builds not thinned (a figure
    /// for the logs and the tests).
    pub fn index_thin_counts(&self) -> Result<(u64, u64)> {
        self.db.read(|tx| {
            tx.query_one(
                "SELECT count(frozen_in), count(*) - count(frozen_in) FROM provider_builds WHERE final = 1",
                &[],
                |r| Ok((r.get::<i64>(0)? as u64, r.get::<i64>(1)? as u64)),
            )
        })
    }
}

/// The thinning of one row on PostgreSQL (see `thin_one`'s `INSERT OR
/// REPLACE`): the same columns cleared, in place.
const THIN_PG: &str =
    "UPDATE provider_builds SET provider_status = '', url = NULL, pipeline_id = '',
         pipeline_number = NULL, branch = NULL, tag = NULL, stopped_at = NULL, parent_id = NULL,
         frozen_in = ?4
     WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 AND frozen_in IS NULL";
