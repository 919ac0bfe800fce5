//! Copying a whole installation from the SQLite store of a data directory
//! into an empty PostgreSQL database: `buildsnap migrate-store`.
//!
//! The one module that speaks to both drivers at once: it moves rows of
//! every table by column name, with their values as they are, which the
//! query seam (`crate::sql`, typed reads of known columns) does not need
//! to offer. The source is opened as [`Store::open`] opens it (migrations
//! applied, key checked) but holding the data directory's lock alone; the
//! target's schema is made by [`migrate_postgres`](crate::migrate_postgres),
//! and the copy checks it is equal to SQLite's by column names as it goes.

mod rows;
mod schema;
mod secrets;

use std::path::Path;
use std::time::{Duration, Instant};

use postgres::Transaction;
use rusqlite::{Connection, OpenFlags};

use crate::{Result, SecretKey, Store, StoreError, data_dir};

/// What [`copy_to_postgres`] copied.
#[derive(Debug, Clone)]
pub struct CopyReport {
    /// Each table, in the order copied (referenced tables first).
    pub tables: Vec<TableCopy>,
    /// Sealed values (provider tokens, webhook secrets, alert hook URLs
    /// and secrets) checked to open with the key before the copy.
    pub sealed_checked: u64,
    /// The PostgreSQL schema version of the target.
    pub schema_version: i64,
    /// From the start of the copy to its commit and check.
    pub elapsed: Duration,
}

impl CopyReport {
    /// Rows copied, all tables together.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Payload bytes copied (8 per integer, the length of each text and
    /// blob), all tables together.
    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum()
    }
}

/// One table of a [`CopyReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table's name.
    pub table: String,
    /// Rows copied; equal in both databases after the copy (checked).
    pub rows: u64,
    /// Their payload bytes.
    pub bytes: u64,
}

/// Copies the SQLite store of `data_dir` into the empty PostgreSQL
/// database at `url`, every table in foreign-key order, and returns what
/// it copied.
///
/// - The data directory must not be in use: its lock is taken alone, so a
///   running `buildsnap serve` (or any other open store on it) makes this
///   [`StoreError::DataDirInUse`], and stores opened on it meanwhile are
///   refused with [`StoreError::DataDirMigrating`].
/// - `key` must open the source: its key check and every sealed value
///   (provider tokens, webhook secrets, alert hooks) are opened before
///   anything is written to PostgreSQL ([`StoreError::WrongSecretKey`]).
///   Serve the PostgreSQL store with the same key.
/// - The target's schema is brought up to date first; a target where any
///   table has a row (even only `meta`, which a `serve` started on it
///   fills, so one a buildsnap serves from is refused too) is refused with
///   [`StoreError::TargetNotEmpty`] and left as it is. The check runs
///   under the migrations' advisory lock, so of two copies started at once
///   into one database the second finds the first one's rows.
/// - Everything is copied in one PostgreSQL transaction: any failure
///   rolls it all back and leaves the target empty. After the rows, each
///   identity sequence is set past the highest id copied, so new rows get
///   fresh ids, and every table's row count is compared with SQLite's
///   ([`StoreError::CopyMismatch`]) before the commit.
/// - After the commit every copied table is `ANALYZE`d, so the planner
///   knows their sizes from the first query a replica runs.
/// - Last, the target is opened with [`Store::open_postgres`], which
///   checks `key` against the copied key check.
///
/// Blocking, like every store call.
pub fn copy_to_postgres(data_dir: &Path, key: SecretKey, url: &str) -> Result<CopyReport> {
    let started = Instant::now();
    if !data_dir.join(Store::DB_FILE).is_file() {
        return Err(StoreError::Invalid(format!(
            "{} has no {}: not a buildsnap data dir",
            data_dir.display(),
            Store::DB_FILE
        )));
    }
    let source = Store::open_locked(data_dir, key.clone(), data_dir::LockMode::Exclusive)?;
    let sealed_checked = secrets::check_sealed(&source)?;

    let config = crate::pg::connect::config(url)?;
    let mut client = crate::pg::connect::client(&config)?;
    let schema_version = crate::migrate_postgres(&mut client)?;

    // A read-only connection of our own, in one read transaction: one
    // snapshot of every table (nobody else writes: the lock is ours).
    let reader = Connection::open_with_flags(
        source.path(),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    reader.execute_batch("BEGIN")?;
    let tables = schema::tables(&reader)?;

    let mut tx = client.transaction()?;
    // Waits while another copy (or a starting server's migration) holds it.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&crate::pg::migrations::LOCK_KEY],
    )?;
    refuse_unless_empty(&mut tx, &tables)?;
    let mut copied = Vec::with_capacity(tables.len());
    for table in &tables {
        let at = Instant::now();
        let moved = rows::copy_table(&reader, &mut tx, table)?;
        tracing::info!(table = %table.name, rows = moved.rows, bytes = moved.bytes,
            ms = at.elapsed().as_millis() as u64, "table copied");
        copied.push(TableCopy {
            table: table.name.clone(),
            rows: moved.rows,
            bytes: moved.bytes,
        });
    }
    set_sequences(&mut tx)?;
    for (table, copy) in tables.iter().zip(&copied) {
        let q = format!("SELECT count(*) FROM {}", schema::quote(&table.name));
        let source_rows: i64 = reader.query_row(&q, [], |r| r.get(0))?;
        let target_rows: i64 = tx.query_one(&q, &[])?.get(0);
        if source_rows != target_rows || copy.rows != source_rows as u64 {
            return Err(StoreError::CopyMismatch {
                table: table.name.clone(),
                source_rows,
                target_rows,
            });
        }
    }
    tx.commit()?;
    // Statistics for the planner now, not at autovacuum's first pass (up
    // to a minute later, per table): without them every query of a just
    // loaded table is planned as if it were empty, and the replica bench
    // measured snapshot reads at a twentieth of their rate on such tables.
    // As pg_restore's documentation advises after a restore.
    let at = Instant::now();
    let names: Vec<String> = tables.iter().map(|t| schema::quote(&t.name)).collect();
    client.batch_execute(&format!("ANALYZE {}", names.join(", ")))?;
    tracing::info!(
        ms = at.elapsed().as_millis() as u64,
        "copied tables analyzed"
    );
    drop(reader);
    // Closing the sync client runs its own runtime: on this thread, which
    // the caller keeps off async workers as for every store call.
    drop(client);
    drop(Store::open_postgres(url, key)?);
    drop(source);
    Ok(CopyReport {
        tables: copied,
        sealed_checked,
        schema_version,
        elapsed: started.elapsed(),
    })
}

/// [`StoreError::TargetNotEmpty`] naming the first table of the target
/// (the runner's `buildsnap_schema` aside) that has a row; also refuses a
/// SQLite table the target lacks.
fn refuse_unless_empty(tx: &mut Transaction<'_>, tables: &[schema::Table]) -> Result<()> {
    let target: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name <> 'buildsnap_schema'
             ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(missing) = tables.iter().find(|t| !target.contains(&t.name)) {
        return Err(StoreError::Invalid(format!(
            "the SQLite database has a table {} that the PostgreSQL schema lacks: this \
             buildsnap's two schemas disagree",
            missing.name
        )));
    }
    for t in &target {
        let q = format!("SELECT EXISTS (SELECT 1 FROM {})", schema::quote(t));
        let has_rows: bool = tx.query_one(&q, &[])?.get(0);
        if has_rows {
            return Err(StoreError::TargetNotEmpty { table: t.clone() });
        }
    }
    Ok(())
}

/// Sets each identity sequence of the target to the highest id its column
/// holds, so the next row gets the id after it: rows inserted with their
/// own ids (`GENERATED BY DEFAULT`) do not move the sequence. A column of
/// an empty table keeps its sequence at the start.
fn set_sequences(tx: &mut Transaction<'_>) -> Result<()> {
    let identity: Vec<(String, String)> = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'
             ORDER BY 1, 2",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (table, column) in identity {
        let q = format!(
            "SELECT max({}) FROM {}",
            schema::quote(&column),
            schema::quote(&table)
        );
        let max: Option<i64> = tx.query_one(&q, &[])?.get(0);
        if let Some(max) = max {
            tx.execute(
                "SELECT setval(pg_get_serial_sequence($1, $2), $3)",
                &[&schema::quote(&table), &column, &max],
            )?;
        }
    }
    Ok(())
}
