//! The durable queue of alert deliveries: what is due, attempts and their
//! outcome, and the events queued inside the transactions that cause them.

use zeroize::Zeroizing;

use super::{AlertDelivery, DueDelivery, aad};
use crate::sql::{Tx, args};
use crate::{Result, Store, StoreError, orgs, ts};

impl Store {
    /// The newest `limit` deliveries of hook `id` of `org`, newest first;
    /// `None` if there is no such hook.
    pub fn alert_deliveries(
        &self,
        org: &str,
        id: i64,
        limit: u32,
    ) -> Result<Option<Vec<AlertDelivery>>> {
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let exists: Option<i64> = tx.query_opt(
                "SELECT id FROM alert_hooks WHERE id = ?1 AND org_id = ?2",
                &args![id, org_id],
                |r| r.get(0),
            )?;
            if exists.is_none() {
                return Ok(None);
            }
            let rows = tx.query_all(
                "SELECT delivery, event, deploy_id, state, attempts, last_status, last_error, created_at, finished_at
                 FROM alert_deliveries WHERE hook_id = ?1 ORDER BY id DESC LIMIT ?2",
                &args![id, limit.clamp(1, 1000)],
                |r| {
                    Ok(AlertDelivery {
                        delivery: r.get(0)?,
                        event: r.get(1)?,
                        deploy_id: r.get(2)?,
                        state: r.get(3)?,
                        attempts: r.get(4)?,
                        last_status: r.get(5)?,
                        last_error: r.get(6)?,
                        created_at: ts::nanos_to_string(r.get(7)?),
                        finished_at: r.get::<Option<i64>>(8)?.map(ts::nanos_to_string),
                    })
                },
            )?;
            Ok(Some(rows))
        })
    }

    /// The queued delivery due soonest, if one is due at `now` (Unix
    /// nanoseconds), with its hook's secret opened. Only looks: see
    /// [`Store::claim_alert_delivery`] for the sender's claim.
    pub fn next_alert_delivery(&self, now: i64) -> Result<Option<DueDelivery>> {
        self.db.read(|tx| {
            let id: Option<i64> = tx.query_opt(DUE, &args![now], |r| r.get(0))?;
            match id {
                Some(id) => self.due_delivery(tx, id).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Claims the queued delivery due soonest at `now` (Unix nanoseconds)
    /// for one attempt: moves its `next_at` to `now + hold`, so no other
    /// replica's sender takes it meanwhile, and returns it with its hook's
    /// secret opened. The attempt's record ([`Store::record_alert_attempt`])
    /// sets the real next time; a sender that dies before recording leaves
    /// the delivery to be claimed again after `hold` (delivery is at least
    /// once). `hold` should outlast one attempt, else a slow attempt may be
    /// sent twice.
    ///
    /// On PostgreSQL the row is locked with `FOR UPDATE SKIP LOCKED`, so
    /// senders claiming together take different deliveries.
    pub fn claim_alert_delivery(
        &self,
        now: i64,
        hold: std::time::Duration,
    ) -> Result<Option<DueDelivery>> {
        let until = now.saturating_add(crate::leases::nanos(hold));
        self.db.write(|tx| {
            // sqlite-only: no row locks on SQLite (one writer claims alone).
            let sql = if tx.is_postgres() {
                format!("{DUE} FOR UPDATE OF d SKIP LOCKED")
            } else {
                DUE.to_string()
            };
            let id: Option<i64> = tx.query_opt(&sql, &args![now], |r| r.get(0))?;
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE alert_deliveries SET next_at = ?2 WHERE id = ?1",
                &args![id, until],
            )?;
            self.due_delivery(tx, id).map(Some)
        })
    }

    /// Delivery `id` as the sender needs it, its hook's secret and URL opened.
    fn due_delivery(&self, tx: &Tx<'_>, id: i64) -> Result<DueDelivery> {
        let (mut due, sealed, org_id, hook, sealed_url) = tx.query_one(
            "SELECT d.id, d.delivery, d.event, o.slug, d.deploy_id, d.changed, d.body, d.attempts,
                    d.created_at, h.url_sealed, h.format, h.secret_sealed, h.org_id, h.id
             FROM alert_deliveries d
             JOIN alert_hooks h ON h.id = d.hook_id
             JOIN orgs o ON o.id = h.org_id
             WHERE d.id = ?1",
            &args![id],
            |r| {
                Ok((
                    DueDelivery {
                        id: r.get(0)?,
                        delivery: r.get(1)?,
                        event: r.get(2)?,
                        org: r.get(3)?,
                        deploy_id: r.get(4)?,
                        changed: r.get(5)?,
                        body: r.get(6)?,
                        attempts: r.get(7)?,
                        created_at: r.get(8)?,
                        url: String::new(),
                        format: r.get(10)?,
                        secret: Zeroizing::new(Vec::new()),
                    },
                    r.get::<Vec<u8>>(11)?,
                    r.get::<i64>(12)?,
                    r.get::<i64>(13)?,
                    r.get::<Vec<u8>>(9)?,
                ))
            },
        )?;
        due.secret = self.db.key.open(&sealed, &aad(org_id, hook, "secret"))?;
        let url = self.db.key.open(&sealed_url, &aad(org_id, hook, "url"))?;
        due.url = String::from_utf8(url.to_vec()).map_err(|_| {
            StoreError::Invalid(format!("alert hook {hook}: sealed URL is not text"))
        })?;
        Ok(due)
    }

    /// Fixes the body of delivery `id` (its first attempt), so retries send
    /// the same bytes.
    pub fn set_alert_body(&self, id: i64, body: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "UPDATE alert_deliveries SET body = ?2 WHERE id = ?1 AND body IS NULL",
                &args![id, body],
            )?;
            Ok(())
        })
    }

    /// Records an attempt of delivery `id`: delivered; or failed with
    /// `status`/`error` and tried again at `retry_at` (Unix nanoseconds), or
    /// given up when `retry_at` is `None`.
    pub fn record_alert_attempt(
        &self,
        id: i64,
        delivered: bool,
        status: Option<u16>,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let now = ts::to_nanos(ts::now());
        let (state, next_at, finished) = match (delivered, retry_at) {
            (true, _) => ("delivered", now, Some(now)),
            (false, Some(at)) => ("queued", at, None),
            (false, None) => ("failed", now, Some(now)),
        };
        self.db.write(|tx| {
            tx.execute(
                "UPDATE alert_deliveries SET state = ?2, attempts = attempts + 1, next_at = ?3,
                     last_status = ?4, last_error = ?5, finished_at = ?6
                 WHERE id = ?1 AND state = 'queued'",
                &args![id, state, next_at, status, error, finished],
            )?;
            Ok(())
        })
    }
}

/// The queued delivery due soonest at `?1`: its id. Its hook and org exist
/// (deleting a hook deletes its deliveries).
const DUE: &str = "SELECT d.id FROM alert_deliveries d
     WHERE d.state = 'queued' AND d.next_at <= ?1
     ORDER BY d.next_at, d.id LIMIT 1";

/// Queues `event` for every hook of `org_id` that asked for it (inside the
/// transaction that made the change).
pub(crate) fn enqueue(
    tx: &Tx<'_>,
    org_id: i64,
    event: &str,
    deploy_id: i64,
    changed: Option<&str>,
) -> Result<()> {
    let now = ts::to_nanos(ts::now());
    // LIKE semantics differ (SQLite's ignores ASCII case, PostgreSQL's does
    // not), but the words compared are the lower-case ones of
    // `ALERT_EVENTS`, so both match the same hooks with the same text. The
    // cast: PostgreSQL cannot infer the type of a placeholder in `||`.
    let hooks: Vec<i64> = tx.query_all(
        "SELECT id FROM alert_hooks WHERE org_id = ?1 AND (' ' || events || ' ') LIKE ('% ' || CAST(?2 AS TEXT) || ' %')",
        &args![org_id, event],
        |r| r.get(0),
    )?;
    for hook in hooks {
        tx.execute(
            "INSERT INTO alert_deliveries (hook_id, delivery, event, deploy_id, changed, state, next_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?6)",
            &args![hook, &delivery_id()?, event, deploy_id, changed, now],
        )?;
    }
    Ok(())
}

/// A random delivery id (128 bits, hex in UUID form).
fn delivery_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b)
        .map_err(|e| StoreError::Invalid(format!("no randomness for a delivery id: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// After build `b` of `org_id`/`provider` (created at `created`, Unix
/// nanoseconds) became final: every complete snapshot that froze it
/// unsettled, and every complete snapshot of its commit deployed before it
/// was created (it is one of their `later_builds`), gets a
/// `deploy.builds_changed` event (`frozen_status` null for a later build).
/// The deploys of one SHA (or prefix) registered before a build began.
/// The `+` keeps SQLite from walking `deploys_by_org` over every earlier
/// deploy of the org for the `deployed_at` range (it chose that without
/// statistics, a scan per build turning final that grew with the
/// database): the commit's `deploys_by_sha` seek is the one wanted.
/// (PostgreSQL takes the unary plus as a no-op and plans from its
/// statistics.)
const LATER_DEPLOYS: &str = "SELECT d.id FROM deploys d JOIN snapshots s ON s.deploy_id = d.id
     WHERE d.org_id = ?1 AND d.sha = ?2 AND +d.deployed_at < ?3
       AND s.state = 'complete' AND s.provider = ?4 AND s.build_project = ?5";

pub(crate) fn build_became_final(
    tx: &Tx<'_>,
    org_id: i64,
    provider: &str,
    b: &buildsnap_domain::IndexedBuild,
    created: i64,
) -> Result<()> {
    let status = b.status.as_str();
    let sql = format!(
        "SELECT sb.deploy_id, sb.status FROM snapshot_builds sb
         JOIN snapshots s ON s.deploy_id = sb.deploy_id
         JOIN deploys d ON d.id = sb.deploy_id
         WHERE sb.build_id = ?1 AND {} AND s.state = 'complete' AND s.provider = ?2 AND d.org_id = ?3",
        crate::retention::UNSETTLED
    );
    let mut deploys: Vec<(i64, Option<String>)> =
        tx.query_all(&sql, &args![&b.id, provider, org_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    // Later builds: deploys of this commit (registered by any prefix of its
    // SHA, 7 characters on: one index seek each) before the build began.
    let sha = b.sha.to_ascii_lowercase();
    for n in 7..=sha.len() {
        let Some(prefix) = sha.get(..n) else { break };
        let later = tx.query_all(
            LATER_DEPLOYS,
            &args![org_id, prefix, created, provider, &b.project],
            |r| r.get::<i64>(0),
        )?;
        for id in later {
            if !deploys.iter().any(|(d, _)| *d == id) {
                deploys.push((id, None));
            }
        }
    }
    for (deploy_id, frozen) in deploys {
        let changed = serde_json::json!([{
            "build_id": b.id, "name": b.name,
            "frozen_status": frozen, "current_status": status,
        }]);
        enqueue(
            tx,
            org_id,
            "deploy.builds_changed",
            deploy_id,
            Some(&changed.to_string()),
        )?;
    }
    Ok(())
}

/// At capture: builds the snapshot froze unsettled that the index already
/// knows final (they finished between the deploy and the capture) get their
/// `deploy.builds_changed` now; no later transition would report them.
pub(crate) fn settled_at_capture(tx: &Tx<'_>, deploy_id: i64) -> Result<()> {
    let sql = format!(
        "SELECT d.org_id, sb.build_id, pb.name, sb.status, pb.status FROM snapshot_builds sb
         JOIN snapshots s ON s.deploy_id = sb.deploy_id
         JOIN deploys d ON d.id = sb.deploy_id
         JOIN provider_builds pb ON pb.org_id = d.org_id AND pb.provider = s.provider AND pb.build_id = sb.build_id
         WHERE sb.deploy_id = ?1 AND {} AND pb.final = 1 AND s.state = 'complete'
         ORDER BY sb.position",
        crate::retention::UNSETTLED
    );
    let rows: Vec<(i64, String, String, Option<String>, String)> =
        tx.query_all(&sql, &args![deploy_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
    let Some(org_id) = rows.first().map(|r| r.0) else {
        return Ok(());
    };
    let changed: Vec<_> = rows
        .iter()
        .map(|(_, id, name, frozen, now)| {
            serde_json::json!({"build_id": id, "name": name, "frozen_status": frozen, "current_status": now})
        })
        .collect();
    enqueue(
        tx,
        org_id,
        "deploy.builds_changed",
        deploy_id,
        Some(&serde_json::Value::Array(changed).to_string()),
    )
}

#[cfg(test)]
mod tests {
    /// The later-deploys lookup is one seek on the commit, not a walk over
    /// the org's deploys (it was, and seeding 20,000 deploys took minutes).
    #[test]
    fn later_deploys_are_found_by_commit() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        crate::migrations::apply(&mut c).unwrap();
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::LATER_DEPLOYS))
            .unwrap()
            .query_map(rusqlite::params![1, "abc", 0, "circleci", "p"], |r| {
                r.get(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter().any(|p| p.contains("deploys_by_sha")),
            "plan: {plan:?}"
        );
    }
}
