//! The PostgreSQL store's connections: a small pool of sync
//! `postgres::Client`s, each with its own statement cache (std only: a
//! `Mutex<Vec<_>>` and a `Condvar`, as the SQLite reader pool).
//!
//! Writes run at `SERIALIZABLE`: the SQLite store has a single writer, so
//! a read-then-write inside one `write` is atomic there, and the modules
//! rely on it; on PostgreSQL that takes serializable transactions, retried
//! when they fail to serialize. Reads run in `REPEATABLE READ READ ONLY`
//! transactions (one snapshot, never a write).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, IsolationLevel};

use super::connect::Target;

use crate::sql::Tx;
use crate::sql::pg::StatementCache;
use crate::{Result, StoreError};

/// Most connections open at once (readers and writers alike). Each is a
/// server process on PostgreSQL's side; several replicas share its
/// `max_connections` (100 by default).
pub(crate) const MAX_CONNECTIONS: usize = 8;

/// How many times a write is tried in all when its transaction fails to
/// serialize (SQLSTATE 40001) or is chosen as a deadlock's victim (40P01).
/// Writers contending for one row (claimers of the capture queue's head)
/// lose in turn: with eight at once and the backoff below, a test saw ten
/// attempts run out.
pub(crate) const WRITE_ATTEMPTS: u32 = 30;

/// The longest pause before running a write again, and the first: each
/// pause is random up to a bound that doubles from `RETRY_FIRST` to
/// `RETRY_MAX`, so that writers that collided do not collide again in
/// step. At most about 2.5 s in all.
const RETRY_FIRST: Duration = Duration::from_micros(500);
const RETRY_MAX: Duration = Duration::from_millis(100);

/// A random pause before attempt `attempt + 1`.
fn backoff(attempt: u32) -> Duration {
    let bound = RETRY_FIRST
        .saturating_mul(1 << attempt.min(16))
        .min(RETRY_MAX);
    let mut b = [0u8; 4];
    // Without randomness, the bound itself (still a growing pause).
    let frac = match getrandom::getrandom(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    bound.mul_f64(frac)
}

/// One connection and the statements prepared on it.
struct PgConn {
    client: Client,
    cache: StatementCache,
}

#[derive(Default)]
struct Idle {
    conns: Vec<PgConn>,
    open: usize,
}

pub(crate) struct Pool {
    config: Target,
    idle: Mutex<Idle>,
    free: Condvar,
}

impl Drop for Pool {
    /// Closes the connections on a thread of its own: closing a sync
    /// `postgres::Client` runs its private runtime, which panics on a
    /// thread already in an async runtime (a store's last handle may well
    /// be dropped on an async worker).
    fn drop(&mut self) {
        let idle =
            std::mem::take(&mut self.idle.get_mut().unwrap_or_else(|e| e.into_inner()).conns);
        let _ = std::thread::spawn(move || drop(idle)).join();
    }
}

/// A lent-out connection; back to the pool when dropped (closed instead
/// after a panic or when it is broken).
struct Lease<'a> {
    pool: &'a Pool,
    conn: Option<PgConn>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        match self.conn.take() {
            Some(c) if !std::thread::panicking() && !c.client.is_closed() => idle.conns.push(c),
            _ => idle.open -= 1,
        }
        drop(idle);
        self.pool.free.notify_one();
    }
}

/// Whether `e` is a transaction that may succeed when run again.
fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(p)
        if p.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
            || p.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED))
}

impl Pool {
    /// Connects to `url` (a `postgres://` URL or a `key=value` string) and
    /// brings the database's schema up to date. Other pools (replicas) may
    /// be connected to the same database: what they share is claimed
    /// under leases (the store's `leases.rs`).
    /// TLS as the URL's `sslmode` says (`connect.rs`).
    pub(crate) fn connect(url: &str) -> Result<Pool> {
        let config = super::connect::config(url)?;
        let pool = Pool {
            config,
            idle: Mutex::default(),
            free: Condvar::new(),
        };
        let mut lease = pool.lease()?;
        crate::migrate_postgres(&mut lease.conn.as_mut().expect("leased").client)?;
        drop(lease);
        Ok(pool)
    }

    fn lease(&self) -> Result<Lease<'_>> {
        let mut lease = Lease {
            pool: self,
            conn: None,
        };
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(c) = idle.conns.pop() {
                lease.conn = Some(c);
                return Ok(lease);
            }
            if idle.open < MAX_CONNECTIONS {
                // Counted before connecting, so the lease's drop undoes it
                // on failure.
                idle.open += 1;
                drop(idle);
                let client = super::connect::client(&self.config)?;
                lease.conn = Some(PgConn {
                    client,
                    cache: StatementCache::new(),
                });
                return Ok(lease);
            }
            idle = self.free.wait(idle).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// `f` in a `SERIALIZABLE` transaction, committed when it returns `Ok`;
    /// run again (up to [`WRITE_ATTEMPTS`] in all) when the transaction
    /// fails to serialize, at `f` or at the commit.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        let mut lease = self.lease()?;
        let conn = lease.conn.as_mut().expect("leased");
        let mut attempt = 1;
        loop {
            let tx = conn
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::Serializable)
                .start()?;
            let tx = Tx::pg(tx, &mut conn.cache);
            let out = f(&tx);
            let tx = tx.into_pg();
            let res = match out {
                Ok(v) => tx.commit().map(|()| v).map_err(StoreError::from),
                Err(e) => {
                    // Dropping the transaction rolls it back.
                    drop(tx);
                    Err(e)
                }
            };
            match res {
                Err(e) if retryable(&e) && attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        "PostgreSQL write did not serialize: running it again"
                    );
                    // A moment for the transaction it collided with to end.
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                r => return r,
            }
        }
    }

    /// `f` in a `REPEATABLE READ READ ONLY` transaction: one snapshot.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let mut lease = self.lease()?;
        let conn = lease.conn.as_mut().expect("leased");
        let tx = conn
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let tx = Tx::pg(tx, &mut conn.cache);
        let out = f(&tx);
        // A reader never writes: rolling back loses nothing.
        tx.into_pg().rollback()?;
        out
    }
}
