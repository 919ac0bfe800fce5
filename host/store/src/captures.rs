//! The durable capture queue and final snapshots, for the capture worker.
//!
//! Life of a job: `queued` (written with the deploy) → `running` (claimed by
//! [`Store::next_capture_job`], `attempts` + 1) → `done` ([`Store::finish_capture`])
//! or back to `queued` with a later `not_before` ([`Store::retry_capture`]).
//! Jobs left `running` by a stopped process are re-queued by [`Store::open`].

use time::OffsetDateTime;

use buildsnap_domain::FrozenBuild;

use crate::sql::{Tx, args};
use crate::{
    CaptureJob, FinalSnapshot, Result, SnapshotState, Store, StoreError, builds_codec, ts,
};

impl Store {
    pub(crate) fn requeue_interrupted_captures(&self) -> Result<usize> {
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE capture_jobs SET state = 'queued', updated_at = ?1 WHERE state = 'running'",
                &args![ts::to_nanos(ts::now())],
            )?;
            if n > 0 {
                tracing::info!(
                    jobs = n,
                    "re-queued capture jobs interrupted by the previous stop"
                );
            }
            Ok(n)
        })
    }

    /// Claims the oldest due queued job (marks it `running`, counts the attempt).
    pub fn next_capture_job(&self) -> Result<Option<CaptureJob>> {
        let now = ts::to_nanos(ts::now());
        self.db.write(|tx| {
            let id: Option<i64> = tx.query_opt(
                "SELECT deploy_id FROM capture_jobs WHERE state = 'queued' AND not_before <= ?1
                 ORDER BY not_before, deploy_id LIMIT 1",
                &args![now],
                |r| r.get(0),
            )?;
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE capture_jobs SET state = 'running', attempts = attempts + 1, updated_at = ?2 WHERE deploy_id = ?1",
                &args![id, now],
            )?;
            let job = tx.query_one(
                "SELECT d.id, o.slug, p.slug, c.slug, c.repo_url, c.branch, s.build_project, s.provider, d.sha,
                        d.deployed_at, j.attempts, c.branch_builds_only
                 FROM capture_jobs j
                 JOIN deploys d ON d.id = j.deploy_id
                 JOIN orgs o ON o.id = d.org_id
                 JOIN projects p ON p.id = d.project_id
                 JOIN code_deployments c ON c.id = d.code_deployment_id
                 JOIN snapshots s ON s.deploy_id = d.id
                 WHERE j.deploy_id = ?1",
                &args![id],
                |r| {
                    Ok(CaptureJob {
                        deploy_id: r.get(0)?,
                        org: r.get(1)?,
                        project: r.get(2)?,
                        code_deployment: r.get(3)?,
                        repo_url: r.get(4)?,
                        branch: r.get(5)?,
                        build_project: r.get(6)?,
                        provider: r.get::<Option<String>>(7)?.unwrap_or_default(),
                        sha: r.get(8)?,
                        deployed_at: ts::from_nanos(r.get(9)?),
                        attempts: r.get::<i64>(10)? as u32,
                        branch_builds_only: r.get(11)?,
                    })
                },
            )?;
            Ok(Some(job))
        })
    }

    /// When the next queued job becomes due (for the worker's sleep), if any.
    pub fn next_capture_due(&self) -> Result<Option<OffsetDateTime>> {
        self.db.read(|tx| {
            let n: Option<i64> = tx.query_one(
                "SELECT MIN(not_before) FROM capture_jobs WHERE state = 'queued'",
                &[],
                |r| r.get(0),
            )?;
            Ok(n.map(ts::from_nanos))
        })
    }

    /// Writes the final snapshot and marks the job done, atomically. A snapshot
    /// that is already `complete` never changes: then nothing is written and
    /// `false` is returned.
    pub fn finish_capture(&self, deploy_id: i64, snap: &FinalSnapshot) -> Result<bool> {
        self.write_final(deploy_id, snap, Replace::AnyButComplete)
    }

    /// The one place a final snapshot is written; `replace` says which
    /// snapshots it may overwrite.
    pub(crate) fn write_final(
        &self,
        deploy_id: i64,
        snap: &FinalSnapshot,
        replace: Replace,
    ) -> Result<bool> {
        if !matches!(snap.state, SnapshotState::Complete | SnapshotState::Error) {
            return Err(StoreError::Invalid(
                "a final snapshot is `complete` or `error`".into(),
            ));
        }
        let builds = builds_codec::encode(&serde_json::to_string(&snap.builds)?)?;
        let now = ts::to_nanos(ts::now());
        self.db.write(|tx| {
            let condition = match replace {
                Replace::AnyButComplete => "state != 'complete'",
                Replace::PendingOfRunningJob => {
                    let job: Option<String> = tx.query_opt(
                        "SELECT state FROM capture_jobs WHERE deploy_id = ?1",
                        &args![deploy_id],
                        |r| r.get(0),
                    )?;
                    if job.as_deref() != Some("running") {
                        return Ok(false);
                    }
                    "state = 'pending'"
                }
            };
            let n = tx.execute(
                &format!(
                    "UPDATE snapshots SET state = ?2, summary = ?3, builds = '', builds_zstd = ?4,
                         builds_encoding = 'zstd', explain = ?5,
                         build_project = COALESCE(?6, build_project), captured_at = ?7
                     WHERE deploy_id = ?1 AND {condition}"
                ),
                &args![
                    deploy_id,
                    snap.state.as_str(),
                    snap.summary.as_str(),
                    &builds,
                    &snap.explain,
                    &snap.build_project,
                    ts::to_nanos(snap.captured_at)
                ],
            )?;
            if n == 1 {
                write_snapshot_builds(tx, deploy_id, &snap.builds)?;
                // Queued with the change itself: never lost in between.
                if matches!(snap.state, SnapshotState::Complete | SnapshotState::Error) {
                    let (org_id, provider): (i64, Option<String>) = tx.query_one(
                        "SELECT d.org_id, s.provider FROM deploys d
                         JOIN snapshots s ON s.deploy_id = d.id WHERE d.id = ?1",
                        &args![deploy_id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )?;
                    crate::alerts::enqueue(tx, org_id, "snapshot.completed", deploy_id, None)?;
                    crate::alerts::settled_at_capture(tx, deploy_id)?;
                    // The builds it froze final are now stored twice: once.
                    if let Some(provider) = provider {
                        crate::index_thin::thin_frozen(
                            tx,
                            org_id,
                            &provider,
                            deploy_id,
                            &snap.builds,
                        )?;
                    }
                }
            }
            tx.execute(
                "UPDATE capture_jobs SET state = 'done', updated_at = ?2 WHERE deploy_id = ?1",
                &args![deploy_id, now],
            )?;
            Ok(n == 1)
        })
    }

    /// Puts a claimed job back in the queue after a transient failure.
    pub fn retry_capture(
        &self,
        deploy_id: i64,
        error: &str,
        not_before: OffsetDateTime,
    ) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "UPDATE capture_jobs SET state = 'queued', last_error = ?2, not_before = ?3, updated_at = ?4
                 WHERE deploy_id = ?1 AND state != 'done'",
                &args![deploy_id, error, ts::to_nanos(not_before), ts::to_nanos(ts::now())],
            )?;
            Ok(())
        })
    }

    /// Jobs not done yet (queued or running): the capture queue depth.
    pub fn capture_queue_depth(&self) -> Result<u64> {
        self.db.read(|tx| {
            let n: i64 = tx.query_one(
                "SELECT COUNT(*) FROM capture_jobs WHERE state != 'done'",
                &[],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
    }
}

/// Mirrors the frozen builds' ids and statuses into `snapshot_builds` (see
/// migration 3), which the reads join against the index.
fn write_snapshot_builds(tx: &Tx<'_>, deploy_id: i64, builds: &[FrozenBuild]) -> Result<()> {
    tx.execute(
        "DELETE FROM snapshot_builds WHERE deploy_id = ?1",
        &args![deploy_id],
    )?;
    for (pos, b) in builds.iter().enumerate() {
        tx.execute(
            "INSERT INTO snapshot_builds (deploy_id, position, build_id, status) VALUES (?1, ?2, ?3, ?4)",
            &args![deploy_id, pos as i64, &b.id, b.status.as_str()],
        )?;
    }
    Ok(())
}

/// Which snapshots a final write may replace.
pub(crate) enum Replace {
    /// Anything not yet `complete` (a complete snapshot never changes).
    AnyButComplete,
    /// Only a `pending` snapshot whose job is still `running`: a capture
    /// that lost its integration meanwhile writes nothing.
    PendingOfRunningJob,
}
