//! Domain words stored as text columns (statuses, summaries, job kinds):
//! read back through the domain's parsers, so a word outside the
//! vocabulary (a database edited by hand, or written by a newer version)
//! is a read error naming the column rather than a bare string passed on.

use std::str::FromStr;

use buildsnap_domain::UnknownWord;
use rusqlite::Row;
use rusqlite::types::Type;

/// An RFC 3339 timestamp as the Unix nanoseconds the columns hold (`None`
/// when it does not parse).
pub(crate) fn parse_nanos(s: &str) -> Option<i64> {
    crate::ts::parse(s).ok().map(crate::ts::to_nanos)
}

/// Column `i` of `r` as a word of a domain vocabulary (`Status`,
/// `Summary`, ...).
pub(crate) fn word<T: FromStr<Err = UnknownWord>>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}
