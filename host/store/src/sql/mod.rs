//! The query seam: how the store's modules speak to the database without
//! naming its driver.
//!
//! Every query of the store goes through a [`Tx`] (a connection inside the
//! transaction that `Db::write` or `Db::read` in `db.rs` began; the seam
//! does not name `db`, which depends on it), with its arguments as [`Arg`]s
//! and its rows read through [`Row`]. Each backend is a variant of `Tx`
//! and `Row` with its implementation in a file of its own (SQLite in
//! `sqlite.rs`, PostgreSQL in `pg.rs`), so no other module names a driver.
//!
//! The SQL the modules write is meant for both backends: numbered
//! placeholders (`?1`), `ON CONFLICT` upserts with the existing row's
//! columns qualified by the table name, `RETURNING`, `IS [NOT] DISTINCT
//! FROM`, `CASE` rather than the two-argument `MAX`/`MIN`, booleans stored
//! and compared as 0 and 1. What only SQLite understands is marked at its
//! place with a `// sqlite-only:` comment saying what PostgreSQL needs.

pub(crate) mod pg;
mod sqlite;

use std::cell::RefCell;
use std::str::FromStr;

use buildsnap_domain::UnknownWord;

use crate::events::{CHANNEL, StoreEvent};
use crate::{Result, StoreError};

/// One argument of a statement, bound to its numbered placeholder (`?1` is
/// the first of the slice). Borrowed: building the arguments of a call
/// copies no text or bytes. Build them with [`args!`].
///
/// Integers are 64-bit, as both backends store them. There is no `From`
/// for `usize`: one above `i64::MAX` could not be bound, and the only ones
/// the store binds are positions in a `Vec` (at most `isize::MAX`), which
/// the call site converts with `as i64`, exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Arg<'a> {
    /// SQL `NULL`.
    Null,
    /// An integer (also booleans, as 0 and 1).
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            fn from(v: $t) -> Self {
                Arg::Int(i64::from(v))
            }
        }
        impl From<&$t> for Arg<'_> {
            fn from(v: &$t) -> Self {
                Arg::Int(i64::from(*v))
            }
        }
    )*};
}
int_args!(i64, i32, u32, u16);

/// A boolean is stored as 0 or 1 (the schema's `CHECK (x IN (0, 1))`).
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Int(i64::from(v))
    }
}

impl From<&bool> for Arg<'_> {
    fn from(v: &bool) -> Self {
        Arg::from(*v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Blob(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Arg::Blob(v)
    }
}

// `None` is `NULL`. One impl per type rather than a generic one over
// `T: Into<Arg>`, which would leave the compiler searching through nested
// `Option`s wherever an argument's type is still being inferred.
macro_rules! option_args {
    ($($t:ty),*) => {$(
        impl<'a> From<Option<$t>> for Arg<'a> {
            fn from(v: Option<$t>) -> Self {
                v.map_or(Arg::Null, Arg::from)
            }
        }
    )*};
}
option_args!(
    i64,
    i32,
    u32,
    u16,
    bool,
    &'a str,
    &'a String,
    &'a [u8],
    &'a Vec<u8>
);

// `&Option<String>` and the like, as the records' fields hold them.
macro_rules! option_ref_args {
    ($($t:ty),*) => {$(
        impl<'a> From<&'a Option<$t>> for Arg<'a> {
            fn from(v: &'a Option<$t>) -> Self {
                v.as_ref().map_or(Arg::Null, Arg::from)
            }
        }
    )*};
}
option_ref_args!(i64, i32, u32, u16, bool, String, Vec<u8>);

/// The arguments of a statement as an array of [`Arg`]:
/// `tx.execute(SQL, &args![org_id, name])`.
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        [$($crate::sql::Arg::from($a)),*]
    };
}
pub(crate) use args;

/// A connection inside a transaction: what every query of the store runs
/// on. Statements are prepared once per connection and kept (the
/// backend's statement cache), so a query's text should be a constant, or
/// one of few texts built at run time.
pub(crate) struct Tx<'c> {
    backend: Backend<'c>,
    /// SQLite's events of this transaction, handed out after its commit
    /// ([`Tx::take_events`]). Always empty on PostgreSQL, whose
    /// notifications are part of the transaction itself.
    events: RefCell<Vec<StoreEvent>>,
}

/// The connection behind a [`Tx`]. One variant per backend.
enum Backend<'c> {
    Sqlite(sqlite::Conn<'c>),
    Pg(pg::Conn<'c>),
}

impl Tx<'_> {
    /// Whether this transaction is on PostgreSQL: for the few statements
    /// (marked `sqlite-only:`) whose text differs between the backends.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Pg(_))
    }

    /// Emits `event` as part of this transaction: it reaches subscribers
    /// only if the transaction commits, and once (see `crate::events`).
    /// On PostgreSQL a `pg_notify` on the `buildsnap` channel, which the
    /// server delivers at commit, to every listening session; an attempt
    /// that is rolled back (or run again after a serialization failure)
    /// delivers nothing. On SQLite it is kept until the write that began
    /// the transaction has committed.
    pub(crate) fn emit(&self, event: &StoreEvent) -> Result<()> {
        match &self.backend {
            Backend::Pg(c) => {
                c.execute(
                    "SELECT pg_notify(?1, ?2)",
                    &args![CHANNEL, event.payload().as_str()],
                )?;
            }
            Backend::Sqlite(_) => self.events.borrow_mut().push(event.clone()),
        }
        Ok(())
    }

    /// The events emitted on SQLite, for the caller to send after the
    /// commit (none on PostgreSQL: the server sends those).
    pub(crate) fn take_events(&self) -> Vec<StoreEvent> {
        std::mem::take(&mut *self.events.borrow_mut())
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub(crate) fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        match &self.backend {
            Backend::Sqlite(c) => c.execute(sql, args),
            Backend::Pg(c) => c.execute(sql, args),
        }
    }

    /// The first row of a query, read by `f`. No row is
    /// [`StoreError::NoRow`](crate::StoreError::NoRow): for queries that
    /// always return one, such as aggregates, or whose row the caller knows
    /// exists.
    pub(crate) fn query_one<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, args, f)?
            .ok_or(crate::StoreError::NoRow)
    }

    /// The first row of a query, read by `f`, if it has one.
    pub(crate) fn query_opt<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match &self.backend {
            Backend::Sqlite(c) => c.query_opt(sql, args, f),
            Backend::Pg(c) => c.query_opt(sql, args, f),
        }
    }

    /// Every row of a query, each read by `f`, in the query's order.
    pub(crate) fn query_all<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        match &self.backend {
            Backend::Sqlite(c) => c.query_all(sql, args, f),
            Backend::Pg(c) => c.query_all(sql, args, f),
        }
    }
}

/// One row of a query's answer, its columns numbered from 0.
pub(crate) struct Row<'r> {
    backend: RowBackend<'r>,
}

enum RowBackend<'r> {
    Sqlite(sqlite::RowRef<'r>),
    Pg(pg::RowRef<'r>),
}

impl Row<'_> {
    /// Column `i` as a `T`; a column of another type (or `NULL` for a
    /// non-`Option`) is an error.
    pub(crate) fn get<T: FromColumn>(&self, i: usize) -> Result<T> {
        T::from_column(self, i)
    }

    /// Column `i` (text) as a word of a domain vocabulary (`Status`,
    /// `Summary`, ...): a word outside the vocabulary (a database edited by
    /// hand, or written by a newer version) is a read error naming the
    /// column and the word, rather than a bare string passed on.
    pub(crate) fn word<T: FromStr<Err = UnknownWord>>(&self, i: usize) -> Result<T> {
        let text: String = self.get(i)?;
        text.parse().map_err(|e| self.bad_text(i, e))
    }

    /// A read error for text column `i` whose value `e` says is unusable
    /// (the same error the backend gives for a failed conversion).
    pub(crate) fn bad_text(
        &self,
        i: usize,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        match &self.backend {
            RowBackend::Sqlite(_) => sqlite::bad_text(i, e),
            RowBackend::Pg(_) => pg::bad_text(i, e),
        }
    }
}

/// A type a column can be read as ([`Row::get`]). Booleans are the schema's
/// 0 and 1 (any other integer reads as `true`).
pub(crate) trait FromColumn: Sized {
    /// Column `i` of `row`.
    fn from_column(row: &Row<'_>, i: usize) -> Result<Self>;
}

macro_rules! from_column {
    ($($t:ty),*) => {$(
        impl FromColumn for $t {
            fn from_column(row: &Row<'_>, i: usize) -> Result<Self> {
                match &row.backend {
                    RowBackend::Sqlite(r) => r.get(i),
                    RowBackend::Pg(r) => r.get(i),
                }
            }
        }
        impl FromColumn for Option<$t> {
            fn from_column(row: &Row<'_>, i: usize) -> Result<Self> {
                match &row.backend {
                    RowBackend::Sqlite(r) => r.get(i),
                    RowBackend::Pg(r) => r.get_opt(i),
                }
            }
        }
    )*};
}
from_column!(i64, u32, bool, String, Vec<u8>);
