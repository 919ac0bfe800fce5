//! What the capture worker needs beyond the basic queue in `captures.rs`:
//! finishing only a job it still owns, deferring without counting an
//! attempt, and reading a deploy with its builds' current status beside
//! the frozen snapshot.

use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use crate::{Deploy, FinalSnapshot, Result, Store, index, orgs, ts};

impl Store {
    /// Like [`Store::finish_capture`], but only while the job is still
    /// `running` (claimed by this worker) and its snapshot still `pending`:
    /// a capture that lost its integration meanwhile (disable turns the
    /// snapshot into `error` and the job `done`) writes nothing. Returns
    /// whether the snapshot was written.
    pub fn complete_capture(&self, deploy_id: i64, snap: &FinalSnapshot) -> Result<bool> {
        self.write_final(deploy_id, snap, crate::captures::Replace::PendingOfRunningJob)
    }

    /// Puts a claimed job back in the queue until `not_before` without
    /// counting the claim as an attempt (not due yet, or interrupted by a
    /// shutdown). A no-op for a job that is no longer `running`.
    pub fn defer_capture(&self, deploy_id: i64, not_before: OffsetDateTime, reason: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "UPDATE capture_jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), not_before = ?2,
                     last_error = ?3, updated_at = ?4
                 WHERE deploy_id = ?1 AND state = 'running'",
                params![deploy_id, ts::to_nanos(not_before), reason, ts::to_nanos(ts::now())],
            )?;
            Ok(())
        })
    }

    /// The capture job's state (`queued`, `running`, `done`), attempts so far
    /// and last error, if the deploy has a job.
    pub fn capture_job_state(&self, deploy_id: i64) -> Result<Option<(String, u32, Option<String>)>> {
        self.db.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT state, attempts, last_error FROM capture_jobs WHERE deploy_id = ?1",
                    [deploy_id],
                    |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u32, r.get(2)?)),
                )
                .optional()?)
        })
    }

    /// Makes every queued capture job due now (webhooks call this when news
    /// arrives, so that waiting captures look again at once). Jobs waiting
    /// out a provider's rate limit are left alone.
    pub fn wake_captures(&self, org: &str, provider: &str) -> Result<usize> {
        let now = ts::to_nanos(ts::now());
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            Ok(tx.execute(
                "UPDATE capture_jobs SET not_before = ?3
                 WHERE state = 'queued' AND not_before > ?3
                   AND (last_error IS NULL OR last_error NOT LIKE 'rate limited%')
                   AND deploy_id IN (SELECT d.id FROM deploys d JOIN snapshots s ON s.deploy_id = d.id
                                     WHERE d.org_id = ?1 AND s.provider = ?2)",
                params![org_id, provider, now],
            )?)
        })
    }

    /// [`Store::get_deploy`], with `current_status` added to each build of the
    /// snapshot whose status in the index (its latest known state) differs
    /// from the frozen one. The snapshot's own fields never change.
    pub fn get_deploy_with_current(&self, org: &str, id: i64) -> Result<Deploy> {
        let mut d = self.get_deploy(org, id)?;
        let Some(provider) = d.builds.provider.clone() else { return Ok(d) };
        let ids: Vec<String> = d
            .builds
            .builds
            .as_array()
            .map(|a| a.iter().filter_map(|b| b.get("id").and_then(|v| v.as_str()).map(str::to_string)).collect())
            .unwrap_or_default();
        if ids.is_empty() {
            return Ok(d);
        }
        let current = self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            index::current_statuses(tx, org_id, &provider, &ids)
        })?;
        if let Some(builds) = d.builds.builds.as_array_mut() {
            for b in builds {
                let id = b.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
                let frozen = b.get("status").and_then(|v| v.as_str()).unwrap_or_default().to_string();
                if let (Some(now), Some(obj)) = (current.get(&id), b.as_object_mut())
                    && *now != frozen
                {
                    obj.insert("current_status".into(), serde_json::Value::String(now.clone()));
                }
            }
        }
        Ok(d)
    }
}
