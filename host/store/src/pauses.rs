//! Rate-limit pauses in the database (`rate_limit_pauses`): every process
//! on the database honours a pause any of them hit, and a restarted one
//! still does. The host's pause map (`host/src/runtime/pause.rs`) keeps
//! the live pauses in memory; this table is what outlives it and what the
//! other replicas read, told by [`StoreEvent::PauseChanged`].

use crate::events::StoreEvent;
use crate::sql::args;
use crate::{Result, Store, validate};

/// One integration's rate-limit pause: its requests are held until
/// `until_unix_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitPause {
    /// The org's slug.
    pub org: String,
    /// The plugin (provider) id.
    pub plugin: String,
    /// The provider server's origin (`https://circleci.com`).
    pub origin: String,
    /// When the pause ends, Unix milliseconds.
    pub until_unix_ms: i64,
}

/// The longest key text stored (org, plugin, origin). A pause's key comes
/// from the host, not from a request, but a bound keeps a row (and the
/// event sent for it) small.
const MAX_KEY_LEN: usize = 1_000;

fn now_unix_ms() -> i64 {
    crate::ts::to_nanos(crate::ts::now()) / 1_000_000
}

impl Store {
    /// Records that `pause`'s integration is paused until its end, unless
    /// a longer pause is already recorded (a pause only grows), and drops
    /// the pauses that have ended. Returns whether the row changed; when it
    /// did, [`StoreEvent::PauseChanged`] goes to every process on the
    /// database with the commit.
    pub fn record_pause(&self, pause: &RateLimitPause) -> Result<bool> {
        for (what, v) in [
            ("org", &pause.org),
            ("plugin", &pause.plugin),
            ("origin", &pause.origin),
        ] {
            validate::text(what, v, MAX_KEY_LEN)?;
        }
        let now = now_unix_ms();
        self.db.write(|tx| {
            tx.execute(
                "DELETE FROM rate_limit_pauses WHERE until_unix_ms <= ?1",
                &args![now],
            )?;
            if pause.until_unix_ms <= now {
                return Ok(false);
            }
            let changed = tx.execute(
                "INSERT INTO rate_limit_pauses (org, plugin, origin, until_unix_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (org, plugin, origin) DO UPDATE SET until_unix_ms = excluded.until_unix_ms
                 WHERE excluded.until_unix_ms > rate_limit_pauses.until_unix_ms",
                &args![&pause.org, &pause.plugin, &pause.origin, pause.until_unix_ms],
            )? > 0;
            if changed {
                tx.emit(&StoreEvent::PauseChanged {
                    org: pause.org.clone(),
                    plugin: pause.plugin.clone(),
                    origin: pause.origin.clone(),
                    until_unix_ms: pause.until_unix_ms,
                })?;
            }
            Ok(changed)
        })
    }

    /// The pauses that have not ended, of every integration.
    pub fn rate_limit_pauses(&self) -> Result<Vec<RateLimitPause>> {
        let now = now_unix_ms();
        self.db.read(|tx| {
            tx.query_all(
                "SELECT org, plugin, origin, until_unix_ms FROM rate_limit_pauses
                 WHERE until_unix_ms > ?1 ORDER BY org, plugin, origin",
                &args![now],
                |r| {
                    Ok(RateLimitPause {
                        org: r.get(0)?,
                        plugin: r.get(1)?,
                        origin: r.get(2)?,
                        until_unix_ms: r.get(3)?,
                    })
                },
            )
        })
    }

    /// Drops the pauses that have ended; how many.
    pub fn prune_rate_limit_pauses(&self) -> Result<usize> {
        let now = now_unix_ms();
        self.db.write(|tx| {
            tx.execute(
                "DELETE FROM rate_limit_pauses WHERE until_unix_ms <= ?1",
                &args![now],
            )
        })
    }
}
