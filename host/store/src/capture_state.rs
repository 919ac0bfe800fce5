//! What the capture worker needs beyond the basic queue in `captures.rs`:
//! finishing only a job it still owns, deferring without counting an
//! attempt, and reading a deploy with its builds' current status beside
//! the frozen snapshot.

use time::OffsetDateTime;

use crate::builds_codec::{StoredBuilds, stored_builds};
use crate::sql::args;
use crate::{Deploy, FinalSnapshot, RawBuilds, Result, ServedBuilds, Store, deploys, orgs, ts};

impl Store {
    /// Like [`Store::finish_capture`], but only while the job is still
    /// `running` under this replica's lease (claimed by this worker, not
    /// taken over by another replica) and its snapshot still `pending`: a
    /// capture that lost its integration meanwhile (disable turns the
    /// snapshot into `error` and the job `done`), or its job, writes
    /// nothing. Returns whether the snapshot was written.
    pub fn complete_capture(&self, deploy_id: i64, snap: &FinalSnapshot) -> Result<bool> {
        self.write_final(
            deploy_id,
            snap,
            crate::captures::Replace::PendingOfRunningJob,
        )
    }

    /// Puts a job this replica claimed back in the queue until `not_before`
    /// without counting the claim as an attempt (not due yet, or
    /// interrupted by a shutdown). Writes nothing and returns `false` for a
    /// job that is no longer this replica's `running` job.
    pub fn defer_capture(
        &self,
        deploy_id: i64,
        not_before: OffsetDateTime,
        reason: &str,
    ) -> Result<bool> {
        let me = self.replica_id();
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE capture_jobs SET state = 'queued',
                     attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, not_before = ?2,
                     last_error = ?3, updated_at = ?4, lease_owner = NULL, lease_until = NULL
                 WHERE deploy_id = ?1 AND state = 'running' AND lease_owner = ?5",
                &args![
                    deploy_id,
                    ts::to_nanos(not_before),
                    reason,
                    ts::to_nanos(ts::now()),
                    me
                ],
            )?;
            Ok(n == 1)
        })
    }

    /// The capture job's state (`queued`, `running`, `done`), attempts so far
    /// and last error, if the deploy has a job.
    pub fn capture_job_state(
        &self,
        deploy_id: i64,
    ) -> Result<Option<(String, u32, Option<String>)>> {
        self.db.read(|tx| {
            tx.query_opt(
                "SELECT state, attempts, last_error FROM capture_jobs WHERE deploy_id = ?1",
                &args![deploy_id],
                |r| Ok((r.get(0)?, r.get::<i64>(1)? as u32, r.get(2)?)),
            )
        })
    }

    /// The replica holding the lease of deploy `deploy_id`'s capture job,
    /// while it is `running` (for operators and tests: which replica runs
    /// which capture). `None` for a job not running, or no such job.
    pub fn capture_job_owner(&self, deploy_id: i64) -> Result<Option<String>> {
        self.db.read(|tx| {
            let owner: Option<Option<String>> = tx.query_opt(
                "SELECT lease_owner FROM capture_jobs WHERE deploy_id = ?1 AND state = 'running'",
                &args![deploy_id],
                |r| r.get(0),
            )?;
            Ok(owner.flatten())
        })
    }

    /// Makes every queued capture job due now (webhooks call this when news
    /// arrives, so that waiting captures look again at once). Jobs waiting
    /// out a provider's rate limit are left alone.
    pub fn wake_captures(&self, org: &str, provider: &str) -> Result<usize> {
        let now = ts::to_nanos(ts::now());
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            // SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE matches the
            // same errors.
            let sql = if tx.is_postgres() {
                WAKE_PG
            } else {
                WAKE_SQLITE
            };
            let woken = tx.execute(sql, &args![org_id, provider, now])?;
            if woken > 0 {
                tx.emit(&crate::events::StoreEvent::CapturesQueued)?;
            }
            Ok(woken)
        })
    }

    /// [`Store::get_deploy`], with `current_status` added to each build of the
    /// snapshot whose status in the index (its latest known state) differs
    /// from the frozen one. The snapshot's own fields never change.
    ///
    /// For reads that pass the snapshot on as JSON: one read transaction,
    /// and the stored `builds` text is handed back as it is unless some
    /// build's status has moved on, when it is parsed and patched.
    pub fn get_deploy_with_current(&self, org: &str, id: i64) -> Result<Deploy<RawBuilds>> {
        let mut d = self.get_deploy_served(org, id)?;
        let served = std::mem::replace(&mut d.builds.builds, ServedBuilds::Zstd(Vec::new()));
        let raw = served.into_json()?;
        Ok(d.with_builds(raw))
    }

    /// Like [`Store::get_deploy_with_current`], but a snapshot stored
    /// compressed whose builds need no `current_status` comes back as its
    /// stored zstd frame ([`ServedBuilds::Zstd`]), not decoded, so that an
    /// HTTP answer can pass it through.
    pub fn get_deploy_served(&self, org: &str, id: i64) -> Result<Deploy<ServedBuilds>> {
        self.db.read(|tx| {
            let (org_id, (mut d, stored)) = deploys::deploy_row(tx, org, id)?;
            deploys::with_later_builds(tx, org_id, &mut d)?;
            let moved = match &d.builds.provider {
                Some(provider) => crate::moved::moved_statuses(tx, org_id, provider, id)?,
                None => Vec::new(),
            };
            let served = match (stored, moved.is_empty()) {
                (StoredBuilds::Zstd(z), true) => ServedBuilds::Zstd(z),
                (StoredBuilds::Json(json), true) => ServedBuilds::Json(stored_builds(json)?),
                (stored, false) => {
                    let mut builds: serde_json::Value = serde_json::from_str(&stored.into_json()?)?;
                    for (pos, now) in moved {
                        if let Some(obj) = builds.get_mut(pos).and_then(|b| b.as_object_mut()) {
                            obj.insert("current_status".into(), now.as_str().into());
                        }
                    }
                    ServedBuilds::Json(serde_json::value::to_raw_value(&builds)?)
                }
            };
            Ok(d.with_builds(served))
        })
    }
}

/// [`Store::wake_captures`]'s statement. `sqlite-only:` its `LIKE`, which
/// ignores ASCII case on SQLite only; [`WAKE_PG`] is the same with `ILIKE`.
const WAKE_SQLITE: &str = "UPDATE capture_jobs SET not_before = ?3
     WHERE state = 'queued' AND not_before > ?3
       AND (last_error IS NULL OR last_error NOT LIKE 'rate limited%')
       AND deploy_id IN (SELECT d.id FROM deploys d JOIN snapshots s ON s.deploy_id = d.id
                         WHERE d.org_id = ?1 AND s.provider = ?2)";

/// [`WAKE_SQLITE`] on PostgreSQL.
const WAKE_PG: &str = "UPDATE capture_jobs SET not_before = ?3
     WHERE state = 'queued' AND not_before > ?3
       AND (last_error IS NULL OR last_error NOT ILIKE 'rate limited%')
       AND deploy_id IN (SELECT d.id FROM deploys d JOIN snapshots s ON s.deploy_id = d.id
                         WHERE d.org_id = ?1 AND s.provider = ?2)";
