//! Column values the store converts itself: timestamps given as text.
//! (Domain words read back from text columns are `sql::Row::word`.)

/// An RFC 3339 timestamp as the Unix nanoseconds the columns hold (`None`
/// when it does not parse).
pub(crate) fn parse_nanos(s: &str) -> Option<i64> {
    crate::ts::parse(s).ok().map(crate::ts::to_nanos)
}
