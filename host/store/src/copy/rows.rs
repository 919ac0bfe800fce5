//! Moving one table's rows: read from SQLite, written into PostgreSQL with
//! a binary `COPY ... FROM STDIN`, which streams the rows in the client's
//! buffer-sized chunks (no statement per row or per batch to parse, no
//! parameter limit; docs/performance.md, "migrate-store").

use std::error::Error;

use bytes::BytesMut;
use postgres::Transaction;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::schema::{Table, quote};
use crate::{Result, StoreError};

/// One SQLite value bound for a PostgreSQL column: `INTEGER` to `BIGINT`,
/// `TEXT` to `TEXT`, `BLOB` to `BYTEA`, `NULL` to `NULL`. Any other pair
/// (a `REAL`, or a value whose storage class differs from its column's) is
/// an error naming both, not a conversion.
#[derive(Debug)]
struct Cell<'a>(ValueRef<'a>);

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (self.0, ty) {
            (ValueRef::Null, _) => Ok(IsNull::Yes),
            (ValueRef::Integer(i), &Type::INT8) => i.to_sql(ty, out),
            (ValueRef::Text(t), &Type::TEXT) => std::str::from_utf8(t)?.to_sql(ty, out),
            (ValueRef::Blob(b), &Type::BYTEA) => b.to_sql(ty, out),
            (v, ty) => Err(format!(
                "a SQLite {} value for a PostgreSQL {ty} column",
                v.data_type()
            )
            .into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::TEXT | Type::BYTEA)
    }

    to_sql_checked!();
}

/// What copying one table moved.
pub(super) struct Moved {
    /// Rows written.
    pub(super) rows: u64,
    /// Their payload: 8 per integer, the length of each text and blob.
    pub(super) bytes: u64,
}

/// An error of the copy of `table`, with the server's or the value's
/// reason.
fn failed(table: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::CopyFailed {
        table: table.to_string(),
        reason: e.to_string(),
    }
}

/// A `postgres::Error` with its cause (the client's own message is only
/// its kind).
fn pg_reason(e: &postgres::Error) -> String {
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Copies every row of `table` from `source` (inside the caller's read
/// transaction) into `target`'s table of the same name, by column name.
pub(super) fn copy_table(
    source: &Connection,
    target: &mut Transaction<'_>,
    table: &Table,
) -> Result<Moved> {
    let t = &table.name;
    let cols = table.column_list();
    // The target's column types, from the statement PostgreSQL prepares:
    // a column SQLite has and PostgreSQL lacks fails here, named.
    let types: Vec<Type> = target
        .prepare(&format!("SELECT {cols} FROM {} LIMIT 0", quote(t)))
        .map_err(|e| failed(t, pg_reason(&e)))?
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let sink = target
        .copy_in(&format!(
            "COPY {} ({cols}) FROM STDIN (FORMAT binary)",
            quote(t)
        ))
        .map_err(|e| failed(t, pg_reason(&e)))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut stmt = source.prepare(&format!("SELECT {cols} FROM {}", quote(t)))?;
    let n = table.columns.len();
    let mut rows = stmt.query([])?;
    let mut moved = Moved { rows: 0, bytes: 0 };
    while let Some(row) = rows.next()? {
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(n);
        for i in 0..n {
            let v = row.get_ref(i)?;
            moved.bytes += match v {
                ValueRef::Null => 0,
                ValueRef::Integer(_) | ValueRef::Real(_) => 8,
                ValueRef::Text(b) | ValueRef::Blob(b) => b.len() as u64,
            };
            cells.push(Cell(v));
        }
        let refs: Vec<&(dyn ToSql + Sync)> =
            cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        writer.write(&refs).map_err(|e| failed(t, pg_reason(&e)))?;
        moved.rows += 1;
    }
    let written = writer.finish().map_err(|e| failed(t, pg_reason(&e)))?;
    if written != moved.rows {
        return Err(failed(
            t,
            format!("{} rows read but PostgreSQL took {written}", moved.rows),
        ));
    }
    Ok(moved)
}
