//! The seam on PostgreSQL, through the sync `postgres` client: the
//! modules' SQL with its `?N` placeholders rewritten to `$N`, prepared once
//! per connection and kept in the connection's own statement cache (keyed
//! by the modules' text), arguments bound by the type PostgreSQL inferred
//! for each placeholder, and columns read by their type.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Statement, Transaction};

use super::{Arg, Backend, Row, RowBackend, Tx};
use crate::{Result, StoreError};

/// Statements prepared on one connection, by the modules' (SQLite) text.
/// Lives as long as the connection: a prepared statement belongs to its
/// server session, and survives the transactions that used it.
pub(crate) type StatementCache = HashMap<String, Statement>;

/// A PostgreSQL transaction (begun by `db.rs`) with its connection's cache.
/// `RefCell`s: the client's methods take `&mut`, the seam's `&self`.
pub(super) struct Conn<'c> {
    tx: RefCell<Transaction<'c>>,
    cache: RefCell<&'c mut StatementCache>,
}

/// A row of a PostgreSQL answer.
pub(super) struct RowRef<'r>(&'r postgres::Row);

impl<'c> Tx<'c> {
    /// The seam on transaction `tx`; [`Tx::into_pg`] gives it back to be
    /// committed or rolled back.
    pub(crate) fn pg(tx: Transaction<'c>, cache: &'c mut StatementCache) -> Tx<'c> {
        Tx {
            backend: Backend::Pg(Conn {
                tx: RefCell::new(tx),
                cache: RefCell::new(cache),
            }),
            events: RefCell::default(),
        }
    }

    /// The transaction of a `Tx` made by [`Tx::pg`].
    pub(crate) fn into_pg(self) -> Transaction<'c> {
        match self.backend {
            Backend::Pg(c) => c.tx.into_inner(),
            Backend::Sqlite(_) => unreachable!("into_pg on a SQLite Tx"),
        }
    }
}

/// `sql` with each `?N` placeholder written `$N`, leaving string literals,
/// quoted identifiers and comments as they are.
pub(crate) fn placeholders(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                // A doubled quote inside is the quote itself: the walk
                // closes and reopens, to the same effect.
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'?' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                out.push_str(&sql[start..i]);
                out.push('$');
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[start.min(sql.len())..]);
    out
}

/// An [`Arg`] bound as the type PostgreSQL gave its placeholder.
#[derive(Debug)]
struct Bound<'a>(Arg<'a>);

fn mismatch(arg: &Arg<'_>, ty: &Type) -> Box<dyn StdError + Sync + Send> {
    format!("cannot bind {arg:?} to a parameter of type {ty}").into()
}

impl ToSql for Bound<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::BOOL => match v {
                    0 => false.to_sql(ty, out),
                    1 => true.to_sql(ty, out),
                    _ => Err(format!("{v} is not a boolean (0 or 1)").into()),
                },
                _ => Err(mismatch(&self.0, ty)),
            },
            Arg::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => s.to_sql(ty, out),
                _ => Err(mismatch(&self.0, ty)),
            },
            Arg::Blob(v) => match *ty {
                Type::BYTEA => v.to_sql(ty, out),
                _ => Err(mismatch(&self.0, ty)),
            },
        }
    }

    /// Every type: the check is in `to_sql`, by argument.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn row(r: &postgres::Row) -> Row<'_> {
    Row {
        backend: RowBackend::Pg(RowRef(r)),
    }
}

impl Conn<'_> {
    fn prepare(&self, sql: &str) -> Result<Statement> {
        let mut cache = self.cache.borrow_mut();
        if let Some(st) = cache.get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx.borrow_mut().prepare(&placeholders(sql))?;
        cache.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    fn query(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<postgres::Row>> {
        let st = self.prepare(sql)?;
        let bound: Vec<Bound<'_>> = args.iter().map(|a| Bound(*a)).collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            bound.iter().map(|b| b as &(dyn ToSql + Sync)).collect();
        Ok(self.tx.borrow_mut().query(&st, &params)?)
    }

    pub(super) fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        let st = self.prepare(sql)?;
        let bound: Vec<Bound<'_>> = args.iter().map(|a| Bound(*a)).collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            bound.iter().map(|b| b as &(dyn ToSql + Sync)).collect();
        let n = self.tx.borrow_mut().execute(&st, &params)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query_opt<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        // Rows are streamed (`query_raw`): only the first is read, and
        // dropping the iterator discards the rest without decoding them.
        let st = self.prepare(sql)?;
        let bound: Vec<Bound<'_>> = args.iter().map(|a| Bound(*a)).collect();
        let mut tx = self.tx.borrow_mut();
        let mut rows = tx.query_raw(&st, bound.iter().map(|b| b as &(dyn ToSql + Sync)))?;
        match postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
            Some(r) => f(&row(&r)).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn query_all<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.query(sql, args)?.iter().map(|r| f(&row(r))).collect()
    }
}

/// A column type the PostgreSQL rows convert to (the seam's `FromColumn`).
pub(super) trait FromPg: Sized {
    fn from_pg(r: &postgres::Row, i: usize) -> Result<Option<Self>>;
}

/// An integer column of any width (or a boolean, as 0 and 1).
fn int(r: &postgres::Row, i: usize) -> Result<Option<i64>> {
    let ty = r.columns().get(i).map(|c| c.type_().clone());
    Ok(match ty {
        Some(Type::INT4) => r.try_get::<_, Option<i32>>(i)?.map(i64::from),
        Some(Type::INT2) => r.try_get::<_, Option<i16>>(i)?.map(i64::from),
        Some(Type::BOOL) => r.try_get::<_, Option<bool>>(i)?.map(i64::from),
        // INT8, and the client's own error for anything else.
        _ => r.try_get::<_, Option<i64>>(i)?,
    })
}

impl FromPg for i64 {
    fn from_pg(r: &postgres::Row, i: usize) -> Result<Option<Self>> {
        int(r, i)
    }
}

impl FromPg for u32 {
    fn from_pg(r: &postgres::Row, i: usize) -> Result<Option<Self>> {
        int(r, i)?
            .map(|v| {
                u32::try_from(v)
                    .map_err(|_| StoreError::Encoding(format!("column {i}: {v} is not a u32")))
            })
            .transpose()
    }
}

impl FromPg for bool {
    /// `BOOL`, or an integer (the schema's 0 and 1; non-zero is `true`).
    fn from_pg(r: &postgres::Row, i: usize) -> Result<Option<Self>> {
        Ok(int(r, i)?.map(|v| v != 0))
    }
}

impl FromPg for String {
    fn from_pg(r: &postgres::Row, i: usize) -> Result<Option<Self>> {
        Ok(r.try_get::<_, Option<String>>(i)?)
    }
}

impl FromPg for Vec<u8> {
    fn from_pg(r: &postgres::Row, i: usize) -> Result<Option<Self>> {
        Ok(r.try_get::<_, Option<Vec<u8>>>(i)?)
    }
}

impl RowRef<'_> {
    pub(super) fn get<T: FromPg>(&self, i: usize) -> Result<T> {
        T::from_pg(self.0, i)?
            .ok_or_else(|| StoreError::Encoding(format!("column {i} ({}) is NULL", self.name(i))))
    }

    pub(super) fn get_opt<T: FromPg>(&self, i: usize) -> Result<Option<T>> {
        T::from_pg(self.0, i)
    }

    fn name(&self, i: usize) -> &str {
        self.0.columns().get(i).map_or("?", |c| c.name())
    }
}

/// The error for a text column that did not convert.
pub(super) fn bad_text(i: usize, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Encoding(format!("column {i}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_rewritten_outside_literals_and_comments() {
        assert_eq!(
            placeholders("SELECT ?1, '?2', \"?3\" -- ?4\n, ?12 /* ?5 */ FROM t WHERE a = ?2"),
            "SELECT $1, '?2', \"?3\" -- ?4\n, $12 /* ?5 */ FROM t WHERE a = $2"
        );
        assert_eq!(
            placeholders("SELECT 'it''s ?1', ?1"),
            "SELECT 'it''s ?1', $1"
        );
    }
}
