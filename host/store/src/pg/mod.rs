//! buildsnap's state on PostgreSQL, the second store backend. Any number
//! of stores (replicas of buildsnap) may share one database; the work they
//! must not do twice is claimed under leases (the store's `leases.rs`,
//! `captures.rs`).
//!
//! [`listen`] hears the store events every process on the database
//! emits (`LISTEN buildsnap`), on a connection of its own.
//! [`migrations`] creates its schema and keeps it up to date (reached from
//! outside through [`migrate_postgres`]); [`pool`] holds the connections
//! and runs the transactions; the queries are the modules' own, through
//! the seam's PostgreSQL side (`crate::sql::pg`). Opened with
//! [`Store::open_postgres`](crate::Store::open_postgres).

pub(crate) mod connect;
pub(crate) mod listen;
pub(crate) mod migrations;
pub(crate) mod pool;
mod tls;

use crate::Result;

/// The PostgreSQL schema version this build creates and upgrades to. Its
/// own numbering, not SQLite's `user_version`: 1 is the SQLite schema after
/// SQLite's migration 11.
pub const POSTGRES_SCHEMA_VERSION: i64 = migrations::LATEST;

/// Brings the PostgreSQL database `client` is connected to up to
/// [`POSTGRES_SCHEMA_VERSION`] and returns that version: the start of the
/// PostgreSQL store, which will run it each time it connects.
///
/// Creates the schema's tables in the connection's current schema
/// (`search_path`, normally `public`), in one transaction under an advisory
/// lock, so that replicas starting at the same time do not race: one
/// migrates, the others wait for it and then find nothing to do. A database
/// already up to date is left as it is. One migrated by a newer buildsnap is
/// refused with [`StoreError::PgSchemaTooNew`](crate::StoreError::PgSchemaTooNew)
/// and left unchanged.
pub fn migrate_postgres(client: &mut postgres::Client) -> Result<i64> {
    migrations::apply(client)
}
