//! The index's rows: builds and jobs written with the merge rules of
//! `index.rs` (final stays final, an incomplete job list erases nothing);
//! `index_read.rs` reads them back.

use buildsnap_domain::{IndexedBuild, IndexedJob, JobUpdate, Status};

use crate::sql::{Tx, args};
use crate::{Result, columns, index_thin};

/// Upserts `builds` (see the module notes for the merge rules).
pub(crate) fn upsert_builds(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    builds: &[IndexedBuild],
    now: i64,
) -> Result<()> {
    for b in builds {
        upsert_build(tx, org_id, provider, b, now)?;
    }
    Ok(())
}

/// One build's upsert, around a thinned row (`index_thin.rs`): a stale
/// observation that brings nothing to fill in only moves `last_seen`;
/// anything else puts the row back whole first, writes as usual, and thins
/// it again when it still equals its frozen copy.
fn upsert_build(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    b: &IndexedBuild,
    now: i64,
) -> Result<()> {
    let held: Option<(i64, Option<i64>)> = tx.query_opt(
        "SELECT final, frozen_in FROM provider_builds WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
        &args![org_id, provider, &b.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let Some((1, Some(_))) = held else {
        return upsert_whole(tx, org_id, provider, b, now);
    };
    let fills =
        b.url.is_some() || b.pipeline_number.is_some() || b.branch.is_some() || b.tag.is_some();
    if !b.status.is_final() && !fills {
        tx.execute(
            "UPDATE provider_builds SET last_seen = ?4 WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
            &args![org_id, provider, &b.id, now],
        )?;
        return Ok(());
    }
    let copy = index_thin::rehydrate(tx, org_id, provider, &b.id)?;
    upsert_whole(tx, org_id, provider, b, now)?;
    if let Some((deploy, copy)) = copy {
        index_thin::thin_one(tx, org_id, provider, deploy, &copy)?;
    }
    Ok(())
}

/// One build's upsert on a whole row.
fn upsert_whole(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    b: &IndexedBuild,
    now: i64,
) -> Result<()> {
    // Every field named (no `..`): a field added to the record does not
    // compile here until it is stored, or said not to be.
    let IndexedBuild {
        id,
        project,
        name,
        status,
        provider_status,
        url,
        pipeline_id,
        pipeline_number,
        attempt,
        parent_id,
        sha,
        branch,
        tag,
        created_at,
        stopped_at,
        jobs_complete,
        jobs,
        first_seen: _,
        last_seen: _,
    } = b;
    let created = columns::parse_nanos(created_at).unwrap_or(now);
    let stopped = stopped_at.as_deref().and_then(columns::parse_nanos);
    let fin = status.is_final();
    let existing: Option<i64> = tx.query_opt(
        "SELECT final FROM provider_builds WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
        &args![org_id, provider, id],
        |r| r.get(0),
    )?;
    // A final build stays final: only fill in what was missing.
    if existing == Some(1) && !fin {
        tx.execute(
            "UPDATE provider_builds SET last_seen = ?4,
                 url = COALESCE(url, ?5), pipeline_number = COALESCE(pipeline_number, ?6),
                 branch = COALESCE(branch, ?7), tag = COALESCE(tag, ?8)
             WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
            &args![org_id, provider, id, now, url, pipeline_number, branch, tag],
        )?;
        // Its jobs are final too: a stale list must not reopen them.
        return Ok(());
    }
    // New, or newer news: one upsert. What the observation lacks (a
    // link, a number, a stop time, a parent) keeps its known value, a job
    // list once complete stays known to be complete, and an attempt number
    // never goes down: one observation may not be able to count attempts
    // (a CircleCI webhook carries one workflow and none of its re-runs, so
    // it says 1) where the search that first saw the build could.
    tx.execute(
        "INSERT INTO provider_builds (org_id, provider, build_id, project, sha, name, status,
             provider_status, final, url, pipeline_id, pipeline_number, branch, tag, created_at,
             stopped_at, jobs_complete, first_seen, last_seen, attempt, parent_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, ?19, ?20)
         ON CONFLICT (org_id, provider, build_id) DO UPDATE SET
             project = excluded.project, sha = excluded.sha, name = excluded.name,
             status = excluded.status, provider_status = excluded.provider_status, final = excluded.final,
             url = COALESCE(excluded.url, provider_builds.url), pipeline_id = excluded.pipeline_id,
             pipeline_number = COALESCE(excluded.pipeline_number, provider_builds.pipeline_number),
             branch = COALESCE(excluded.branch, provider_builds.branch),
             tag = COALESCE(excluded.tag, provider_builds.tag),
             created_at = excluded.created_at,
             stopped_at = COALESCE(excluded.stopped_at, provider_builds.stopped_at),
             jobs_complete = CASE WHEN excluded.jobs_complete = 1 THEN 1
                                  ELSE provider_builds.jobs_complete END,
             last_seen = excluded.last_seen,
             attempt = CASE WHEN provider_builds.attempt > excluded.attempt
                            THEN provider_builds.attempt ELSE excluded.attempt END,
             parent_id = COALESCE(excluded.parent_id, provider_builds.parent_id)",
        &args![
            org_id,
            provider,
            id,
            project,
            &sha.to_ascii_lowercase(),
            name,
            status.as_str(),
            provider_status,
            fin,
            url,
            pipeline_id,
            pipeline_number,
            branch,
            tag,
            created,
            stopped,
            jobs_complete,
            now,
            (*attempt).max(1),
            parent_id
        ],
    )?;
    if fin && existing != Some(1) {
        // It just became final: snapshots that froze it unsettled hear of it.
        crate::alerts::build_became_final(tx, org_id, provider, b, created)?;
    }
    if *jobs_complete {
        // The whole list: it replaces what was known.
        tx.execute(
            "DELETE FROM provider_jobs WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
            &args![org_id, provider, id],
        )?;
    }
    for (pos, j) in jobs.iter().enumerate() {
        upsert_job(tx, org_id, provider, id, pos, j)?;
    }
    Ok(())
}

/// One job's news (a webhook's job update) applied to the build the index
/// holds: the job replaces the one with its id, or is appended. A build
/// not held yet is left to the next sync or search, which read it whole;
/// `false` then. The build's status changes in one case only: `running`
/// with a job now failed or in error becomes `failing`.
pub(crate) fn update_job(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    update: &JobUpdate,
    now: i64,
) -> Result<bool> {
    let held: Option<(String, i64)> = tx.query_opt(
        "SELECT status, final FROM provider_builds
         WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
        &args![org_id, provider, &update.build_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let Some((status, fin)) = held else {
        return Ok(false);
    };
    if fin == 1 {
        // A final build's jobs are final too.
        return Ok(true);
    }
    let position: i64 = tx.query_one(
        "SELECT COALESCE(
             (SELECT position FROM provider_jobs
              WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 AND job_id = ?4),
             (SELECT COALESCE(MAX(position) + 1, 0) FROM provider_jobs
              WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3))",
        &args![org_id, provider, &update.build_id, &update.job.id],
        |r| r.get(0),
    )?;
    upsert_job(
        tx,
        org_id,
        provider,
        &update.build_id,
        position as usize,
        &update.job,
    )?;
    let failing = status == Status::Running.as_str()
        && matches!(update.job.status, Status::Failed | Status::Error);
    tx.execute(
        "UPDATE provider_builds SET last_seen = ?4,
             status = CASE WHEN ?5 = 1 THEN 'failing' ELSE status END
         WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3",
        &args![org_id, provider, &update.build_id, now, failing],
    )?;
    Ok(true)
}

fn upsert_job(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    build_id: &str,
    pos: usize,
    j: &IndexedJob,
) -> Result<()> {
    // Every field named, as in `upsert_build`.
    let IndexedJob {
        id,
        name,
        number,
        kind,
        status,
        provider_status,
        started_at,
        stopped_at,
        url,
    } = j;
    let was_final: Option<bool> = tx
        .query_opt(
            "SELECT status FROM provider_jobs WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 AND job_id = ?4",
            &args![org_id, provider, build_id, id],
            |r| r.get::<String>(0),
        )?
        .map(|s| s.parse::<Status>().is_ok_and(Status::is_final));
    if was_final == Some(true) && !status.is_final() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO provider_jobs (org_id, provider, build_id, job_id, position, name, number, kind, status,
             provider_status, started_at, stopped_at, url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (org_id, provider, build_id, job_id) DO UPDATE SET
             name = excluded.name, number = COALESCE(excluded.number, provider_jobs.number),
             kind = excluded.kind, status = excluded.status, provider_status = excluded.provider_status,
             started_at = COALESCE(excluded.started_at, provider_jobs.started_at),
             stopped_at = COALESCE(excluded.stopped_at, provider_jobs.stopped_at),
             url = COALESCE(excluded.url, provider_jobs.url)",
        &args![
            org_id,
            provider,
            build_id,
            id,
            pos as i64,
            name,
            number,
            kind.as_str(),
            status.as_str(),
            provider_status,
            started_at.as_deref().and_then(columns::parse_nanos),
            stopped_at.as_deref().and_then(columns::parse_nanos),
            url
        ],
    )?;
    Ok(())
}
