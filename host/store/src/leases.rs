//! Replica identity and named leases: how several processes on one
//! database tell their work apart.
//!
//! Each [`Store`] is one replica, with an id made at open
//! ([`Store::replica_id`]). Claimed capture jobs carry it as their
//! `lease_owner` (`captures.rs`); named leases (table `leases`) hold work
//! that one replica at a time may do, such as the sync of one build
//! project. A lease that its owner stops renewing runs out, and then
//! another replica may take it: a replica that dies never holds work for
//! longer than one lease.

use std::time::Duration;

use crate::sql::args;
use crate::{Result, Store, StoreError, ts};

/// The capture-job lease when none is set ([`Store::with_capture_lease`]).
pub const DEFAULT_CAPTURE_LEASE: Duration = Duration::from_secs(60);

/// Longest hostname part of a replica id: ids are stored in every leased
/// row and shown in logs, so they stay short.
const MAX_HOST_CHARS: usize = 24;

/// A replica id: `hostname-pid-random` (8 hex digits of randomness, so two
/// stores of one process, or a pid reused after a restart, differ).
pub(crate) fn new_replica_id() -> Result<String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let host: String = host.chars().take(MAX_HOST_CHARS).collect();
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b)
        .map_err(|e| StoreError::Crypto(format!("no randomness for the replica id: {e}")))?;
    Ok(format!("{host}-{}-{}", std::process::id(), hex::encode(b)))
}

/// `d` in nanoseconds, capped at what an `i64` timestamp can add.
pub(crate) fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Store {
    /// This store's replica id (`hostname-pid-random`), made at open: the
    /// owner written into the capture jobs it claims and the named leases
    /// it takes.
    pub fn replica_id(&self) -> &str {
        &self.replica.id
    }

    /// How long a claimed capture job stays this replica's without a
    /// renewal ([`Store::renew_capture_lease`]).
    pub fn capture_lease(&self) -> Duration {
        self.replica.capture_lease
    }

    /// This store (the same database and replica id) with capture-job
    /// leases of `lease` (default [`DEFAULT_CAPTURE_LEASE`]). Shorter: a
    /// job whose replica died is taken over sooner, at the cost of more
    /// renewal writes (one per running capture every third of it) and of
    /// a job being taken from a replica that stalls for longer than it.
    /// A zero lease is refused.
    pub fn with_capture_lease(mut self, lease: Duration) -> Result<Store> {
        if lease.is_zero() {
            return Err(StoreError::Invalid(
                "the capture lease must be longer than zero".into(),
            ));
        }
        let mut replica = (*self.replica).clone();
        replica.capture_lease = lease;
        self.replica = std::sync::Arc::new(replica);
        Ok(self)
    }

    /// Takes the named lease `name` for `ttl`: when no one holds it, when
    /// its holder's time has run out, or when this replica holds it already
    /// (then it is renewed to `ttl` from now). Returns whether this replica
    /// holds it now.
    pub fn try_lease(&self, name: &str, ttl: Duration) -> Result<bool> {
        if name.is_empty() {
            return Err(StoreError::Invalid("a lease needs a name".into()));
        }
        let now = ts::to_nanos(ts::now());
        let until = now.saturating_add(nanos(ttl));
        let me = self.replica_id();
        self.db.write(|tx| {
            let n = tx.execute(
                "INSERT INTO leases (name, owner, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                 WHERE leases.until < ?4 OR leases.owner = excluded.owner",
                &args![name, me, until, now],
            )?;
            Ok(n == 1)
        })
    }

    /// Gives up the named lease `name` if this replica holds it (so another
    /// may take it at once); returns whether it did.
    pub fn release_lease(&self, name: &str) -> Result<bool> {
        let me = self.replica_id();
        self.db.write(|tx| {
            let n = tx.execute(
                "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
                &args![name, me],
            )?;
            Ok(n == 1)
        })
    }

    /// Who holds the named lease `name` now (its owner, while its time has
    /// not run out), if anyone: for tests and operators.
    pub fn lease_holder(&self, name: &str) -> Result<Option<String>> {
        let now = ts::to_nanos(ts::now());
        self.db.read(|tx| {
            tx.query_opt(
                "SELECT owner FROM leases WHERE name = ?1 AND until >= ?2",
                &args![name, now],
                |r| r.get(0),
            )
        })
    }
}

/// A store's replica: its id and the capture lease it claims jobs for.
#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pub(crate) id: String,
    pub(crate) capture_lease: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_ids_are_short_and_differ() {
        let a = new_replica_id().unwrap();
        let b = new_replica_id().unwrap();
        assert_ne!(a, b);
        assert!(a.len() <= MAX_HOST_CHARS + 1 + 10 + 1 + 8, "{a}");
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}
