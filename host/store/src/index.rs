//! The local index of provider builds, for the capture worker, the sync loop
//! and webhooks: builds (CircleCI workflows) with their jobs, keyed by (org,
//! provider, provider build id) and looked up by (project, commit). The
//! records are the domain's [`IndexedBuild`] / [`IndexedJob`]; the sync's own
//! reads and writes are in `sync_state.rs`.
//!
//! Writes never make a final build look unfinished again (a late or
//! re-ordered observation cannot un-finish a workflow), and an observation
//! without a trustworthy job list (`jobs_complete = false`, e.g. a webhook
//! that carries no jobs) does not erase the jobs already known.
//!
//! Every write checks, in its transaction, that the integration is still
//! enabled: disabling erases the index (see `disable_integration`), so a
//! provider answer that arrives after the disable is dropped, not stored.

use buildsnap_domain::{IndexedBuild, IndexedJob, JobKind, SearchReport, Status};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Result, Store, columns, orgs, ts};

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

pub(crate) fn parse_nanos(s: &str) -> Option<i64> {
    ts::parse(s).ok().map(ts::to_nanos)
}

pub(crate) fn enabled(tx: &Connection, org_id: i64, provider: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT enabled FROM integrations WHERE org_id = ?1 AND provider = ?2")?
        .query_row(params![org_id, provider], |r| r.get::<_, i64>(0))
        .optional()?
        == Some(1))
}

/// Upserts `builds` (see the module notes for the merge rules).
pub(crate) fn upsert_builds(
    tx: &Connection,
    org_id: i64,
    provider: &str,
    builds: &[IndexedBuild],
    now: i64,
) -> Result<()> {
    for b in builds {
        let created = parse_nanos(&b.created_at).unwrap_or(now);
        let stopped = b.stopped_at.as_deref().and_then(parse_nanos);
        let fin = b.status.is_final();
        let existing: Option<i64> = tx
            .prepare_cached(
                "SELECT final FROM provider_builds WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
            )?
            .query_row(params![org_id, provider, b.id], |r| r.get(0))
            .optional()?;
        // A final build stays final: only fill in what was missing.
        if existing == Some(1) && !fin {
            tx.prepare_cached(
                "UPDATE provider_builds SET last_seen = ?4,
                     url = COALESCE(url, ?5), pipeline_number = COALESCE(pipeline_number, ?6),
                     branch = COALESCE(branch, ?7), tag = COALESCE(tag, ?8)
                 WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
            )?
            .execute(params![
                org_id,
                provider,
                b.id,
                now,
                b.url,
                b.pipeline_number,
                b.branch,
                b.tag
            ])?;
            // Its jobs are final too: a stale list must not reopen them.
            continue;
        }
        // New, or newer news: one upsert. What the observation lacks (a
        // link, a number, a stop time) keeps its known value, and a job list
        // once complete stays known to be complete.
        tx.prepare_cached(
            "INSERT INTO provider_builds (org_id, provider, build_id, project, sha, name, status,
                 provider_status, final, url, pipeline_id, pipeline_number, branch, tag, created_at,
                 stopped_at, jobs_complete, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18)
             ON CONFLICT (org_id, provider, build_id) DO UPDATE SET
                 project = excluded.project, sha = excluded.sha, name = excluded.name,
                 status = excluded.status, provider_status = excluded.provider_status, final = excluded.final,
                 url = COALESCE(excluded.url, url), pipeline_id = excluded.pipeline_id,
                 pipeline_number = COALESCE(excluded.pipeline_number, pipeline_number),
                 branch = COALESCE(excluded.branch, branch), tag = COALESCE(excluded.tag, tag),
                 created_at = excluded.created_at, stopped_at = COALESCE(excluded.stopped_at, stopped_at),
                 jobs_complete = CASE WHEN excluded.jobs_complete = 1 THEN 1 ELSE jobs_complete END,
                 last_seen = excluded.last_seen",
        )?
        .execute(params![
            org_id,
            provider,
            b.id,
            b.project,
            b.sha.to_ascii_lowercase(),
            b.name,
            b.status.as_str(),
            b.provider_status,
            fin as i64,
            b.url,
            b.pipeline_id,
            b.pipeline_number,
            b.branch,
            b.tag,
            created,
            stopped,
            b.jobs_complete as i64,
            now
        ])?;
        if b.jobs_complete {
            // The whole list: it replaces what was known.
            tx.prepare_cached(
                "DELETE FROM provider_jobs WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
            )?
            .execute(params![org_id, provider, b.id])?;
        }
        for (pos, j) in b.jobs.iter().enumerate() {
            let was_final: Option<bool> = tx
                .prepare_cached(
                    "SELECT status FROM provider_jobs WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 AND job_id = ?4",
                )?
                .query_row(params![org_id, provider, b.id, j.id], |r| r.get::<_, String>(0))
                .optional()?
                .map(|s| s.parse::<Status>().is_ok_and(Status::is_final));
            if was_final == Some(true) && !j.status.is_final() {
                continue;
            }
            tx.prepare_cached(
                "INSERT INTO provider_jobs (org_id, provider, build_id, job_id, position, name, number, kind, status,
                     provider_status, started_at, stopped_at, url)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (org_id, provider, build_id, job_id) DO UPDATE SET
                     name = excluded.name, number = COALESCE(excluded.number, number), kind = excluded.kind,
                     status = excluded.status, provider_status = excluded.provider_status,
                     started_at = COALESCE(excluded.started_at, started_at),
                     stopped_at = COALESCE(excluded.stopped_at, stopped_at), url = COALESCE(excluded.url, url)",
            )?
            .execute(params![
                org_id,
                provider,
                b.id,
                j.id,
                pos as i64,
                j.name,
                j.number,
                j.kind.as_str(),
                j.status.as_str(),
                j.provider_status,
                j.started_at.as_deref().and_then(parse_nanos),
                j.stopped_at.as_deref().and_then(parse_nanos),
                j.url
            ])?;
        }
    }
    Ok(())
}

fn read_builds(
    tx: &Connection,
    org_id: i64,
    provider: &str,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<IndexedBuild>> {
    let sql = format!(
        "SELECT build_id, project, name, status, provider_status, url, pipeline_id, pipeline_number, sha, branch,
                tag, created_at, stopped_at, jobs_complete, first_seen, last_seen
         FROM provider_builds WHERE org_id = ?1 AND provider = ?2 AND {where_sql}
         ORDER BY created_at DESC, build_id DESC"
    );
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&org_id, &provider];
    all.extend_from_slice(args);
    let mut st = tx.prepare_cached(&sql)?;
    let mut builds: Vec<IndexedBuild> = st
        .query_map(all.as_slice(), |r| {
            Ok(IndexedBuild {
                id: r.get(0)?,
                project: r.get(1)?,
                name: r.get(2)?,
                status: columns::word(r, 3)?,
                provider_status: r.get(4)?,
                url: r.get(5)?,
                pipeline_id: r.get(6)?,
                pipeline_number: r.get(7)?,
                sha: r.get(8)?,
                branch: r.get(9)?,
                tag: r.get(10)?,
                created_at: ts::nanos_to_string(r.get(11)?),
                stopped_at: r.get::<_, Option<i64>>(12)?.map(ts::nanos_to_string),
                jobs_complete: r.get::<_, i64>(13)? == 1,
                jobs: Vec::new(),
                first_seen: Some(ts::nanos_to_string(r.get(14)?)),
                last_seen: Some(ts::nanos_to_string(r.get(15)?)),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut jobs_st = tx.prepare_cached(
        "SELECT job_id, name, number, kind, status, provider_status, started_at, stopped_at, url
         FROM provider_jobs WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 ORDER BY position, job_id",
    )?;
    for b in &mut builds {
        b.jobs = jobs_st
            .query_map(params![org_id, provider, b.id], |r| {
                Ok(IndexedJob {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    number: r.get(2)?,
                    kind: JobKind::from(r.get::<_, String>(3)?),
                    status: columns::word(r, 4)?,
                    provider_status: r.get(5)?,
                    started_at: r.get::<_, Option<i64>>(6)?.map(ts::nanos_to_string),
                    stopped_at: r.get::<_, Option<i64>>(7)?.map(ts::nanos_to_string),
                    url: r.get(8)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(builds)
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
                tx.prepare_cached(
                    "INSERT INTO commit_searches (org_id, provider, project, sha_query, searched_at, report)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (org_id, provider, project, sha_query) DO UPDATE SET
                         searched_at = excluded.searched_at, report = excluded.report",
                )?
                .execute(params![
                    org_id,
                    provider,
                    project,
                    sha_query.to_ascii_lowercase(),
                    now,
                    report.to_json()
                ])?;
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
            let search = tx
                .prepare_cached(
                    "SELECT searched_at, report FROM commit_searches
                     WHERE org_id = ?1 AND provider = ?2 AND project = ?3 AND sha_query = ?4",
                )?
                .query_row(params![org_id, provider, project, sha], |r| {
                    let n: i64 = r.get(0)?;
                    Ok(CommitSearch {
                        searched_at: ts::nanos_to_string(n),
                        searched_at_nanos: n,
                        report: SearchReport::from_json(&r.get::<_, String>(1)?),
                    })
                })
                .optional()?;
            let pattern = format!("{sha}%");
            let builds = read_builds(
                tx,
                org_id,
                provider,
                "project = ?3 AND sha LIKE ?4",
                &[&project, &pattern],
            )?;
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
    ) -> Result<Option<bool>> {
        let now = ts::to_nanos(ts::now());
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            if !enabled(tx, org_id, provider)? {
                return Ok(None);
            }
            let n = tx
                .prepare_cached(
                    "INSERT INTO webhook_events (org_id, provider, event_id, kind, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(params![org_id, provider, event_id, kind, now])?;
            if n == 0 {
                return Ok(Some(false));
            }
            upsert_builds(tx, org_id, provider, builds, now)?;
            Ok(Some(true))
        })
    }

    /// Erases everything fetched with an integration's credentials (index,
    /// searches, cursors, webhook ids). Called inside `disable_integration`.
    pub(crate) fn erase_index(tx: &Connection, org_id: i64, provider: &str) -> Result<()> {
        for table in [
            "provider_jobs",
            "provider_builds",
            "commit_searches",
            "sync_cursors",
            "webhook_events",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE org_id = ?1 AND provider = ?2"),
                params![org_id, provider],
            )?;
        }
        Ok(())
    }
}
