//! Reading the index's rows back as the domain's records, thinned rows
//! (`index_thin.rs`) filled in from the snapshot that holds the rest.

use std::collections::HashMap;

use buildsnap_domain::{FrozenBuild, FrozenJob, IndexedBuild, IndexedJob, JobKind};
use rusqlite::{Connection, OptionalExtension, params};

use crate::builds_codec::StoredBuilds;
use crate::{Result, StoreError, columns, ts};

/// The builds of `project` whose SHA starts with `sha` (lower-case hex),
/// created after `created_after` when given, newest first.
pub(crate) fn builds_of_commit(
    tx: &Connection,
    org_id: i64,
    provider: &str,
    project: &str,
    sha: &str,
    created_after: Option<i64>,
) -> Result<Vec<IndexedBuild>> {
    // A range rather than `LIKE 'abc%'`: hex digits all sort below '~'.
    let (low, high) = (sha.to_string(), format!("{sha}~"));
    let after = created_after.unwrap_or(i64::MIN);
    let args: [&dyn rusqlite::ToSql; 4] = [&project, &low, &high, &after];
    match sha.get(..7) {
        Some(seven) => {
            let where_sql = "substr(sha, 1, 7) = ?7 AND project = ?3 AND sha >= ?4 AND sha < ?5 AND created_at > ?6";
            let args = [args[0], args[1], args[2], args[3], &seven];
            read_builds_by(
                tx,
                org_id,
                provider,
                Some("provider_builds_by_sha7"),
                where_sql,
                &args,
            )
        }
        // Shorter than any deploy's SHA: correct, but a walk of the org.
        None => read_builds(
            tx,
            org_id,
            provider,
            "project = ?3 AND sha >= ?4 AND sha < ?5 AND created_at > ?6",
            &args,
        ),
    }
}

pub(crate) fn read_builds(
    tx: &Connection,
    org_id: i64,
    provider: &str,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<IndexedBuild>> {
    read_builds_by(tx, org_id, provider, None, where_sql, args)
}

/// [`read_builds`] through index `indexed_by` (SQLite, without statistics,
/// may prefer the primary key's `(org_id, provider)` prefix to a better
/// index of the same width: a walk of every build of the provider).
fn read_builds_by(
    tx: &Connection,
    org_id: i64,
    provider: &str,
    indexed_by: Option<&str>,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<IndexedBuild>> {
    let hint = indexed_by.map_or(String::new(), |i| format!(" INDEXED BY {i}"));
    let sql = format!(
        "SELECT build_id, project, name, status, provider_status, url, pipeline_id, pipeline_number, sha, branch,
                tag, created_at, stopped_at, jobs_complete, first_seen, last_seen, attempt, parent_id,
                frozen_in
         FROM provider_builds{hint} WHERE org_id = ?1 AND provider = ?2 AND {where_sql}
         ORDER BY created_at DESC, build_id DESC"
    );
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&org_id, &provider];
    all.extend_from_slice(args);
    let mut st = tx.prepare_cached(&sql)?;
    let rows: Vec<(IndexedBuild, Option<i64>)> = st
        .query_map(all.as_slice(), |r| {
            let b = IndexedBuild {
                id: r.get(0)?,
                project: r.get(1)?,
                name: r.get(2)?,
                status: columns::word(r, 3)?,
                provider_status: r.get(4)?,
                url: r.get(5)?,
                pipeline_id: r.get(6)?,
                pipeline_number: r.get(7)?,
                attempt: r.get(16)?,
                parent_id: r.get(17)?,
                sha: r.get(8)?,
                branch: r.get(9)?,
                tag: r.get(10)?,
                created_at: ts::nanos_to_string(r.get(11)?),
                stopped_at: r.get::<_, Option<i64>>(12)?.map(ts::nanos_to_string),
                jobs_complete: r.get::<_, i64>(13)? == 1,
                jobs: Vec::new(),
                first_seen: Some(ts::nanos_to_string(r.get(14)?)),
                last_seen: Some(ts::nanos_to_string(r.get(15)?)),
            };
            Ok((b, r.get(18)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut jobs_st = tx.prepare_cached(
        "SELECT job_id, name, number, kind, status, provider_status, started_at, stopped_at, url
         FROM provider_jobs WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 ORDER BY position, job_id",
    )?;
    let mut copies = FrozenCopies::default();
    let mut builds = Vec::with_capacity(rows.len());
    for (mut b, frozen_in) in rows {
        if let Some(deploy) = frozen_in {
            // Thinned (`index_thin.rs`): the rest is in that snapshot.
            copies.fill(tx, deploy, &mut b)?;
            builds.push(b);
            continue;
        }
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
        builds.push(b);
    }
    Ok(builds)
}

/// The frozen builds of the snapshots thinned rows point to, each decoded
/// once per read however many of its builds the read returns.
#[derive(Default)]
pub(crate) struct FrozenCopies {
    by_deploy: HashMap<i64, Vec<FrozenBuild>>,
}

impl FrozenCopies {
    /// Fills thinned `b` in from the snapshot of deploy `deploy`.
    pub(crate) fn fill(
        &mut self,
        tx: &Connection,
        deploy: i64,
        b: &mut IndexedBuild,
    ) -> Result<()> {
        let builds = match self.by_deploy.entry(deploy) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(snapshot_builds(tx, deploy)?),
        };
        let copy = builds
            .iter()
            .find(|f| f.id == b.id)
            .ok_or_else(|| {
                StoreError::Encoding(format!(
                    "the index row of build {:?} refers to the snapshot of deploy {deploy}, which lacks it",
                    b.id
                ))
            })?;
        let FrozenBuild {
            attempt,
            branch,
            created_at: _,
            id: _,
            jobs,
            jobs_complete: _,
            name: _,
            parent_id,
            pipeline_id,
            pipeline_number,
            provider_status,
            sha: _,
            status: _,
            stopped_at,
            tag,
            url,
        } = copy;
        b.attempt = *attempt;
        b.branch.clone_from(branch);
        b.parent_id.clone_from(parent_id);
        b.pipeline_id.clone_from(pipeline_id);
        b.pipeline_number = *pipeline_number;
        b.provider_status.clone_from(provider_status);
        b.stopped_at.clone_from(stopped_at);
        b.tag.clone_from(tag);
        b.url.clone_from(url);
        b.jobs = jobs.iter().map(indexed_job).collect();
        Ok(())
    }
}

/// A frozen job of a final build is the index's job as it was (`freeze`
/// copies every field of a build done by its deploy).
fn indexed_job(j: &FrozenJob) -> IndexedJob {
    let FrozenJob {
        id,
        name,
        number,
        provider_status,
        started_at,
        status,
        stopped_at,
        kind,
        url,
    } = j;
    IndexedJob {
        id: id.clone(),
        name: name.clone(),
        number: *number,
        kind: kind.clone(),
        status: *status,
        provider_status: provider_status.clone(),
        started_at: started_at.clone(),
        stopped_at: stopped_at.clone(),
        url: url.clone(),
    }
}

/// Deploy `deploy`'s frozen builds, decoded.
fn snapshot_builds(tx: &Connection, deploy: i64) -> Result<Vec<FrozenBuild>> {
    let stored = tx
        .prepare_cached(
            "SELECT builds_encoding, builds, builds_zstd FROM snapshots WHERE deploy_id = ?1",
        )?
        .query_row([deploy], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?
        .ok_or_else(|| {
            StoreError::Encoding(format!(
                "an index row refers to the snapshot of deploy {deploy}, which is not stored"
            ))
        })?;
    let json = StoredBuilds::from_columns(&stored.0, stored.1, stored.2)?.into_json()?;
    Ok(serde_json::from_str(&json)?)
}
