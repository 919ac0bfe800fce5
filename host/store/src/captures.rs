//! The durable capture queue and final snapshots, for the capture worker.
//!
//! Life of a job: `queued` (written with the deploy) → `running` (claimed by
//! [`Store::next_capture_job`], `attempts` + 1, leased to the claiming
//! replica) → `done` ([`Store::finish_capture`]) or back to `queued` with a
//! later `not_before` ([`Store::retry_capture`]).
//!
//! Leases: a claim writes the replica's id into `lease_owner` and
//! `lease_until` = now + the store's capture lease; the worker renews it
//! while it captures ([`Store::renew_capture_lease`]). A `running` job whose
//! lease ran out (its replica died, or stalled past the lease) is claimed
//! again by another replica, and from then on every write of the old owner
//! about the job (complete, defer, retry, renew) writes nothing and says so:
//! a job has one owner, and a deploy one final snapshot. The lease columns
//! are cleared when a job goes back to `queued` or is `done`.
//!
//! Jobs left `running` by a stopped process are re-queued by [`Store::open`]
//! (SQLite: one process per data directory); on PostgreSQL, where other
//! replicas may be running them, they wait for their lease to run out.

use time::OffsetDateTime;

use buildsnap_domain::FrozenBuild;

use crate::sql::{Tx, args};
use crate::{
    CaptureJob, FinalSnapshot, Result, SnapshotState, Store, StoreError, builds_codec, ts,
};

impl Store {
    /// SQLite's open: every `running` job back to `queued`, and every named
    /// lease dropped (one process at a time uses a data directory, so
    /// whoever held them has stopped; a restart after a kill must not wait
    /// for its own dead leases to run out).
    pub(crate) fn requeue_interrupted_captures(&self) -> Result<usize> {
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE capture_jobs SET state = 'queued', updated_at = ?1,
                     lease_owner = NULL, lease_until = NULL
                 WHERE state = 'running'",
                &args![ts::to_nanos(ts::now())],
            )?;
            tx.execute("DELETE FROM leases", &[])?;
            if n > 0 {
                tracing::info!(
                    jobs = n,
                    "re-queued capture jobs interrupted by the previous stop"
                );
            }
            Ok(n)
        })
    }

    /// Claims a job for this replica: first a `running` job of another
    /// replica whose lease has run out (a takeover: that replica died or
    /// stalled), else the oldest due `queued` job. Marks it `running`,
    /// counts the attempt and leases it to this replica for the store's
    /// capture lease ([`Store::capture_lease`]).
    ///
    /// On PostgreSQL the candidate row is locked with `FOR UPDATE SKIP
    /// LOCKED`: replicas claiming at the same time each take a different
    /// job instead of queueing on (and failing to serialize over) the
    /// queue's head. A replica never takes over its own expired jobs: while
    /// it lives, its worker is still at them, and renews.
    pub fn next_capture_job(&self) -> Result<Option<CaptureJob>> {
        let now = ts::to_nanos(ts::now());
        let until = now.saturating_add(crate::leases::nanos(self.capture_lease()));
        let me = self.replica_id();
        self.db.write(|tx| {
            // sqlite-only: SQLite has no row locks (its one writer already
            // claims alone); PostgreSQL skips rows other claimers hold.
            let lock = if tx.is_postgres() {
                " FOR UPDATE SKIP LOCKED"
            } else {
                ""
            };
            let expired: Option<i64> = tx.query_opt(
                &format!("{CLAIM_EXPIRED}{lock}"),
                &args![now, me],
                |r| r.get(0),
            )?;
            let id = match expired {
                Some(id) => {
                    tracing::info!(
                        deploy = id,
                        replica = me,
                        "taking over a capture job whose lease ran out"
                    );
                    Some(id)
                }
                None => tx.query_opt(&format!("{CLAIM_QUEUED}{lock}"), &args![now], |r| {
                    r.get(0)
                })?,
            };
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE capture_jobs SET state = 'running', attempts = attempts + 1, updated_at = ?2,
                     lease_owner = ?3, lease_until = ?4
                 WHERE deploy_id = ?1",
                &args![id, now, me, until],
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

    /// Extends this replica's lease on the `running` job of `deploy_id` to
    /// the capture lease from now. `false` when the job is no longer this
    /// replica's (taken over after the lease ran out, ended by a disable,
    /// settled): then its capture must stop and write nothing.
    pub fn renew_capture_lease(&self, deploy_id: i64) -> Result<bool> {
        let now = ts::to_nanos(ts::now());
        let until = now.saturating_add(crate::leases::nanos(self.capture_lease()));
        let me = self.replica_id();
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE capture_jobs SET lease_until = ?3
                 WHERE deploy_id = ?1 AND state = 'running' AND lease_owner = ?2",
                &args![deploy_id, me, until],
            )?;
            Ok(n == 1)
        })
    }

    /// When the next job may become claimable (for the worker's sleep), if
    /// any: the soonest `not_before` of a queued job, or lease end of a
    /// running job of another replica (which a takeover would claim).
    pub fn next_capture_due(&self) -> Result<Option<OffsetDateTime>> {
        let me = self.replica_id();
        self.db.read(|tx| {
            let queued: Option<i64> = tx.query_one(
                "SELECT MIN(not_before) FROM capture_jobs WHERE state = 'queued'",
                &[],
                |r| r.get(0),
            )?;
            let lease_end: Option<i64> = tx.query_one(
                "SELECT MIN(lease_until) FROM capture_jobs
                 WHERE state = 'running' AND lease_owner IS DISTINCT FROM ?1",
                &args![me],
                |r| r.get(0),
            )?;
            let soonest = match (queued, lease_end) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            Ok(soonest.map(ts::from_nanos))
        })
    }

    /// Writes the final snapshot and marks the job done, atomically. A snapshot
    /// that is already `complete` never changes: then nothing is written and
    /// `false` is returned.
    pub fn finish_capture(&self, deploy_id: i64, snap: &FinalSnapshot) -> Result<bool> {
        self.write_final(deploy_id, snap, Replace::AnyButComplete)
    }

    /// The one place a final snapshot is written; `replace` says which
    /// snapshots it may overwrite (and, for a worker's capture, that the
    /// job must still be this replica's).
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
        let me = self.replica_id();
        self.db.write(|tx| {
            let condition = match replace {
                Replace::AnyButComplete => "state != 'complete'",
                Replace::PendingOfRunningJob => {
                    let ours: Option<i64> = tx.query_opt(
                        "SELECT deploy_id FROM capture_jobs
                         WHERE deploy_id = ?1 AND state = 'running' AND lease_owner = ?2",
                        &args![deploy_id, me],
                        |r| r.get(0),
                    )?;
                    if ours.is_none() {
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
                        crate::moved::note_frozen_apart(tx, org_id, &provider, &snap.builds)?;
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
                "UPDATE capture_jobs SET state = 'done', updated_at = ?2,
                     lease_owner = NULL, lease_until = NULL
                 WHERE deploy_id = ?1",
                &args![deploy_id, now],
            )?;
            Ok(n == 1)
        })
    }

    /// Puts a job this replica claimed back in the queue after a transient
    /// failure, due at `not_before`. Writes nothing and returns `false` when
    /// the job is no longer this replica's `running` job (taken over, or
    /// ended meanwhile).
    pub fn retry_capture(
        &self,
        deploy_id: i64,
        error: &str,
        not_before: OffsetDateTime,
    ) -> Result<bool> {
        let me = self.replica_id();
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE capture_jobs SET state = 'queued', last_error = ?2, not_before = ?3, updated_at = ?4,
                     lease_owner = NULL, lease_until = NULL
                 WHERE deploy_id = ?1 AND state = 'running' AND lease_owner = ?5",
                &args![
                    deploy_id,
                    error,
                    ts::to_nanos(not_before),
                    ts::to_nanos(ts::now()),
                    me
                ],
            )?;
            Ok(n == 1)
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

/// A `running` job of another replica whose lease has run out (or that has
/// none: claimed by a version before leases), oldest claim first. `?1` is
/// now, `?2` this replica.
const CLAIM_EXPIRED: &str = "SELECT deploy_id FROM capture_jobs
     WHERE state = 'running' AND (lease_until IS NULL OR lease_until < ?1)
       AND lease_owner IS DISTINCT FROM ?2
     ORDER BY lease_until, deploy_id LIMIT 1";

/// The oldest due `queued` job. `?1` is now.
const CLAIM_QUEUED: &str = "SELECT deploy_id FROM capture_jobs
     WHERE state = 'queued' AND not_before <= ?1
     ORDER BY not_before, deploy_id LIMIT 1";

/// Which snapshots a final write may replace.
pub(crate) enum Replace {
    /// Anything not yet `complete` (a complete snapshot never changes).
    AnyButComplete,
    /// Only a `pending` snapshot whose job is still `running` under this
    /// replica's lease: a capture that lost its integration meanwhile, or
    /// whose job another replica took over, writes nothing.
    PendingOfRunningJob,
}
