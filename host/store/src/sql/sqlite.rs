//! The seam on SQLite, through rusqlite: statements from the connection's
//! statement cache (`prepare_cached`: parsing a statement costs more than
//! most of the store's queries), arguments bound by number, and rusqlite's
//! own errors and conversions, so that the store behaves as it did when
//! the modules called rusqlite themselves.

use rusqlite::types::{FromSql, ToSqlOutput, Type, ValueRef};
use rusqlite::{Connection, ToSql, params_from_iter};

use super::{Arg, Backend, Row, RowBackend, Tx};
use crate::{Result, StoreError};

/// A SQLite connection inside a transaction (begun by `db.rs`).
pub(super) struct Conn<'c>(&'c Connection);

/// A row of a SQLite answer.
pub(super) struct RowRef<'r>(&'r rusqlite::Row<'r>);

impl<'c> Tx<'c> {
    /// The seam on `conn`, which the caller (`db.rs`) has put inside a
    /// transaction and ends after the `Tx` is gone.
    pub(crate) fn sqlite(conn: &'c Connection) -> Tx<'c> {
        Tx {
            backend: Backend::Sqlite(Conn(conn)),
            events: std::cell::RefCell::default(),
        }
    }
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Null => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(i),
            Arg::Text(s) => ValueRef::Text(s.as_bytes()),
            Arg::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn row<'r>(r: &'r rusqlite::Row<'r>) -> Row<'r> {
    Row {
        backend: RowBackend::Sqlite(RowRef(r)),
    }
}

impl Conn<'_> {
    pub(super) fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        Ok(self
            .0
            .prepare_cached(sql)?
            .execute(params_from_iter(args))?)
    }

    pub(super) fn query_opt<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut st = self.0.prepare_cached(sql)?;
        let mut rows = st.query(params_from_iter(args))?;
        match rows.next()? {
            Some(r) => f(&row(r)).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn query_all<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut st = self.0.prepare_cached(sql)?;
        let mut rows = st.query(params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(f(&row(r))?);
        }
        Ok(out)
    }
}

impl RowRef<'_> {
    /// Through rusqlite's conversions (`bool` is any non-zero integer).
    pub(super) fn get<T: FromSql>(&self, i: usize) -> Result<T> {
        Ok(self.0.get(i)?)
    }
}

/// rusqlite's error for a text column that did not convert.
pub(super) fn bad_text(i: usize, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Sqlite(rusqlite::Error::FromSqlConversionFailure(
        i,
        Type::Text,
        Box::new(e),
    ))
}

#[cfg(test)]
mod tests {
    use buildsnap_domain::Status;
    use rusqlite::Connection;

    use crate::StoreError;
    use crate::sql::{Arg, Tx, args};

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER,
                             flag INTEGER, data BLOB) STRICT;",
        )
        .unwrap();
        c
    }

    #[test]
    fn arguments_bind_by_number_and_read_back_as_bound() {
        let c = db();
        let tx = Tx::sqlite(&c);
        let name = String::from("a");
        let none: Option<String> = None;
        let id: i64 = tx
            .query_one(
                "INSERT INTO t (name, n, flag, data) VALUES (?2, ?1, ?3, ?4) RETURNING id",
                &args![7u32, &name, true, &vec![1u8, 2]],
                |r| r.get(0),
            )
            .unwrap();
        tx.execute(
            "INSERT INTO t (name, n, flag, data) VALUES (?1, ?2, ?3, ?4)",
            &args!["b", None::<i64>, false, &none],
        )
        .unwrap();
        let rows = tx
            .query_all(
                "SELECT id, name, n, flag, data FROM t ORDER BY id",
                &[],
                |r| {
                    Ok((
                        r.get::<i64>(0)?,
                        r.get::<String>(1)?,
                        r.get::<Option<u32>>(2)?,
                        r.get::<bool>(3)?,
                        r.get::<Option<Vec<u8>>>(4)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (id, "a".into(), Some(7), true, Some(vec![1, 2])),
                (id + 1, "b".into(), None, false, None),
            ]
        );
        assert_eq!(Arg::from(None::<&str>), Arg::Null);
        assert_eq!(Arg::from(&Some(3i64)), Arg::Int(3));
        assert_eq!(Arg::from(u16::MAX), Arg::Int(65535));
    }

    #[test]
    fn a_missing_row_is_none_or_no_row() {
        let c = db();
        let tx = Tx::sqlite(&c);
        let sql = "SELECT id FROM t WHERE name = ?1";
        let opt = tx.query_opt(sql, &args!["x"], |r| r.get::<i64>(0));
        assert!(matches!(opt, Ok(None)));
        let one = tx.query_one(sql, &args!["x"], |r| r.get::<i64>(0));
        assert!(matches!(one, Err(StoreError::NoRow)));
    }

    #[test]
    fn unique_violations_are_recognised_and_nothing_else() {
        let c = db();
        let tx = Tx::sqlite(&c);
        let insert = "INSERT INTO t (id, name) VALUES (?1, ?2)";
        tx.execute(insert, &args![1i64, "a"]).unwrap();
        let same_name = tx.execute(insert, &args![2i64, "a"]).unwrap_err();
        assert!(same_name.is_unique_violation(), "{same_name}");
        let same_key = tx.execute(insert, &args![1i64, "b"]).unwrap_err();
        assert!(same_key.is_unique_violation(), "{same_key}");
        let not_null = tx
            .execute("INSERT INTO t (name) VALUES (?1)", &[Arg::Null])
            .unwrap_err();
        assert!(!not_null.is_unique_violation(), "{not_null}");
    }

    #[test]
    fn an_unknown_word_is_a_read_error_naming_its_column_and_word() {
        let c = db();
        let tx = Tx::sqlite(&c);
        let read = |word: &str| tx.query_one("SELECT 1, ?1", &args![word], |r| r.word::<Status>(1));
        assert_eq!(read("success").unwrap(), Status::Success);
        let err = read("exploded").unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Sqlite(rusqlite::Error::FromSqlConversionFailure(1, _, _))
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("exploded"), "{err}");
    }
}
