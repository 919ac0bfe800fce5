//! The local index of provider builds, for the capture worker, the sync loop
//! and webhooks: builds (CircleCI workflows) with their jobs, keyed by (org,
//! provider, provider build id) and looked up by (project, commit). The
//! records are the domain's [`IndexedBuild`] /
//! [`IndexedJob`](buildsnap_domain::IndexedJob), written and read row by row
//! in `index_rows.rs`; the sync's own reads and writes are in
//! `sync_state.rs`.
//!
//! Writes never make a final build look unfinished again (a late or
//! re-ordered observation cannot un-finish a workflow), and an observation
//! without a trustworthy job list (`jobs_complete = false`, e.g. a webhook
//! that carries no jobs) does not erase the jobs already known.
//!
//! Every write checks, in its transaction, that the integration is still
//! enabled: disabling erases the index (see `disable_integration`), so a
//! provider answer that arrives after the disable is dropped, not stored.

use buildsnap_domain::{IndexedBuild, JobUpdate, SearchReport};

use crate::index_read::builds_of_commit;
use crate::index_rows::upsert_builds;
use crate::sql::{Tx, args};
use crate::{Result, Store, orgs, ts};

/// The record of a stored commit search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSearch {
    /// When the search's answer was stored (RFC 3339).
    pub searched_at: String,
    /// Unix nanoseconds of `searched_at`, for comparisons.
    pub searched_at_nanos: i64,
    /// What the search looked at; `None` when the stored report cannot be
    /// read (the capture then explains an empty snapshot without it).
    pub report: Option<SearchReport>,
}

/// What the index holds for one (project, commit) lookup.
#[derive(Debug, Clone, Default)]
pub struct IndexLookup {
    /// The newest stored search for exactly this SHA (or prefix), if any.
    pub search: Option<CommitSearch>,
    /// Builds whose full SHA starts with the asked SHA, newest first.
    pub builds: Vec<IndexedBuild>,
}

pub(crate) fn enabled(tx: &Tx<'_>, org_id: i64, provider: &str) -> Result<bool> {
    Ok(tx.query_opt(
        "SELECT enabled FROM integrations WHERE org_id = ?1 AND provider = ?2",
        &args![org_id, provider],
        |r| r.get::<i64>(0),
    )? == Some(1))
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit())
}

impl Store {
    /// Stores builds the provider showed (sync, webhooks, searches). With
    /// `search = Some((project, sha_query, report))` it also records
    /// that these builds are the whole answer of a commit search made now.
    /// Returns `false` (and writes nothing) when the integration is no
    /// longer enabled.
    pub fn index_builds(
        &self,
        org: &str,
        provider: &str,
        builds: &[IndexedBuild],
        search: Option<(&str, &str, &SearchReport)>,
    ) -> Result<bool> {
        let now = ts::to_nanos(ts::now());
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            if !enabled(tx, org_id, provider)? {
                return Ok(false);
            }
            upsert_builds(tx, org_id, provider, builds, now)?;
            if let Some((project, sha_query, report)) = search {
                tx.execute(
                    "INSERT INTO commit_searches (org_id, provider, project, sha_query, searched_at, report)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (org_id, provider, project, sha_query) DO UPDATE SET
                         searched_at = excluded.searched_at, report = excluded.report",
                    &args![
                        org_id,
                        provider,
                        project,
                        &sha_query.to_ascii_lowercase(),
                        now,
                        &report.to_json()
                    ],
                )?;
            }
            Ok(true)
        })
    }

    /// What the index holds for `sha` (full or prefix) in `project`.
    pub fn index_lookup(
        &self,
        org: &str,
        provider: &str,
        project: &str,
        sha: &str,
    ) -> Result<IndexLookup> {
        let sha = sha.to_ascii_lowercase();
        if !is_hex(&sha) {
            return Ok(IndexLookup::default());
        }
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let search = tx.query_opt(
                "SELECT searched_at, report FROM commit_searches
                 WHERE org_id = ?1 AND provider = ?2 AND project = ?3 AND sha_query = ?4",
                &args![org_id, provider, project, &sha],
                |r| {
                    let n: i64 = r.get(0)?;
                    Ok(CommitSearch {
                        searched_at: ts::nanos_to_string(n),
                        searched_at_nanos: n,
                        report: SearchReport::from_json(&r.get::<String>(1)?),
                    })
                },
            )?;
            let builds = builds_of_commit(tx, org_id, provider, project, &sha, None)?;
            Ok(IndexLookup { search, builds })
        })
    }

    /// Records a verified webhook event and stores its builds, atomically.
    /// `None`: the integration is not enabled (nothing written);
    /// `Some(false)`: the event id was seen before (nothing written);
    /// `Some(true)`: new, stored.
    pub fn apply_webhook_event(
        &self,
        org: &str,
        provider: &str,
        event_id: &str,
        kind: &str,
        builds: &[IndexedBuild],
        jobs: &[JobUpdate],
    ) -> Result<Option<bool>> {
        let now = ts::to_nanos(ts::now());
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            if !enabled(tx, org_id, provider)? {
                return Ok(None);
            }
            let n = tx.execute(
                "INSERT INTO webhook_events (org_id, provider, event_id, kind, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                &args![org_id, provider, event_id, kind, now],
            )?;
            if n == 0 {
                return Ok(Some(false));
            }
            upsert_builds(tx, org_id, provider, builds, now)?;
            for update in jobs {
                crate::index_rows::update_job(tx, org_id, provider, update, now)?;
            }
            Ok(Some(true))
        })
    }

    /// Erases everything fetched with an integration's credentials (index,
    /// searches, cursors, webhook ids). Called inside `disable_integration`.
    pub(crate) fn erase_index(tx: &Tx<'_>, org_id: i64, provider: &str) -> Result<()> {
        for table in [
            "provider_jobs",
            "provider_builds",
            "commit_searches",
            "sync_cursors",
            "webhook_events",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE org_id = ?1 AND provider = ?2"),
                &args![org_id, provider],
            )?;
        }
        Ok(())
    }
}
