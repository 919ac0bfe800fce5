//! Reading the index's rows back as the domain's records, thinned rows
//! (`index_thin.rs`) filled in from the snapshot that holds the rest.

use std::collections::HashMap;

use crate::builds_codec::StoredBuilds;
use crate::sql::{Arg, Tx, args};
use crate::{Result, StoreError, ts};
use buildsnap_domain::{FrozenBuild, FrozenJob, IndexedBuild, IndexedJob, JobKind};

/// The builds of `project` whose SHA starts with `sha` (lower-case hex),
/// created after `created_after` when given, newest first.
pub(crate) fn builds_of_commit(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    project: &str,
    sha: &str,
    created_after: Option<i64>,
) -> Result<Vec<IndexedBuild>> {
    // A range rather than `LIKE 'abc%'`: hex digits all sort below '~'.
    let high = format!("{sha}~");
    let after = created_after.unwrap_or(i64::MIN);
    let args = args![project, sha, &high, after];
    match sha.get(..7) {
        Some(seven) => {
            let where_sql = "substr(sha, 1, 7) = ?7 AND project = ?3 AND sha >= ?4 AND sha < ?5 AND created_at > ?6";
            let args = [args[0], args[1], args[2], args[3], Arg::from(seven)];
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
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    where_sql: &str,
    args: &[Arg<'_>],
) -> Result<Vec<IndexedBuild>> {
    read_builds_by(tx, org_id, provider, None, where_sql, args)
}

/// [`read_builds`] through index `indexed_by` (SQLite, without statistics,
/// may prefer the primary key's `(org_id, provider)` prefix to a better
/// index of the same width: a walk of every build of the provider).
fn read_builds_by(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    indexed_by: Option<&str>,
    where_sql: &str,
    args: &[Arg<'_>],
) -> Result<Vec<IndexedBuild>> {
    // sqlite-only: `INDEXED BY` is SQLite's; PostgreSQL has no index hints
    // (it plans from its statistics, which SQLite here lacks), so its
    // statement leaves the hint out.
    let hint = match indexed_by {
        Some(i) if !tx.is_postgres() => format!(" INDEXED BY {i}"),
        _ => String::new(),
    };
    let sql = format!(
        "SELECT build_id, project, name, status, provider_status, url, pipeline_id, pipeline_number, sha, branch,
                tag, created_at, stopped_at, jobs_complete, first_seen, last_seen, attempt, parent_id,
                frozen_in
         FROM provider_builds{hint} WHERE org_id = ?1 AND provider = ?2 AND {where_sql}
         ORDER BY created_at DESC, build_id DESC"
    );
    let mut all = Vec::with_capacity(2 + args.len());
    all.extend_from_slice(&args![org_id, provider]);
    all.extend_from_slice(args);
    let rows: Vec<(IndexedBuild, Option<i64>)> = tx.query_all(&sql, &all, |r| {
        let b = IndexedBuild {
            id: r.get(0)?,
            project: r.get(1)?,
            name: r.get(2)?,
            status: r.word(3)?,
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
            stopped_at: r.get::<Option<i64>>(12)?.map(ts::nanos_to_string),
            jobs_complete: r.get(13)?,
            jobs: Vec::new(),
            first_seen: Some(ts::nanos_to_string(r.get(14)?)),
            last_seen: Some(ts::nanos_to_string(r.get(15)?)),
        };
        Ok((b, r.get(18)?))
    })?;
    let mut copies = FrozenCopies::default();
    let mut builds = Vec::with_capacity(rows.len());
    for (mut b, frozen_in) in rows {
        if let Some(deploy) = frozen_in {
            // Thinned (`index_thin.rs`): the rest is in that snapshot.
            copies.fill(tx, deploy, &mut b)?;
            builds.push(b);
            continue;
        }
        b.jobs = tx.query_all(
            "SELECT job_id, name, number, kind, status, provider_status, started_at, stopped_at, url
             FROM provider_jobs WHERE org_id = ?1 AND provider = ?2 AND build_id = ?3 ORDER BY position, job_id",
            &args![org_id, provider, &b.id],
            |r| {
                Ok(IndexedJob {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    number: r.get(2)?,
                    kind: JobKind::from(r.get::<String>(3)?),
                    status: r.word(4)?,
                    provider_status: r.get(5)?,
                    started_at: r.get::<Option<i64>>(6)?.map(ts::nanos_to_string),
                    stopped_at: r.get::<Option<i64>>(7)?.map(ts::nanos_to_string),
                    url: r.get(8)?,
                })
            },
        )?;
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
    pub(crate) fn fill(&mut self, tx: &Tx<'_>, deploy: i64, b: &mut IndexedBuild) -> Result<()> {
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
fn snapshot_builds(tx: &Tx<'_>, deploy: i64) -> Result<Vec<FrozenBuild>> {
    let stored = tx
        .query_opt(
            "SELECT builds_encoding, builds, builds_zstd FROM snapshots WHERE deploy_id = ?1",
            &args![deploy],
            |r| Ok((r.get::<String>(0)?, r.get(1)?, r.get(2)?)),
        )?
        .ok_or_else(|| {
            StoreError::Encoding(format!(
                "an index row refers to the snapshot of deploy {deploy}, which is not stored"
            ))
        })?;
    let json = StoredBuilds::from_columns(&stored.0, stored.1, stored.2)?.into_json()?;
    Ok(serde_json::from_str(&json)?)
}
