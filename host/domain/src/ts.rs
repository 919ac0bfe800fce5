//! Timestamps: RFC 3339 in UTC on the outside, Unix nanoseconds in the database
//! (integers sort correctly whatever sub-second precision a client sent).

pub use time::OffsetDateTime;
use time::UtcOffset;
use time::format_description::well_known::Rfc3339;

/// Now, in UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Parses an RFC 3339 timestamp with any offset and normalises it to UTC.
pub fn parse(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.to_offset(UtcOffset::UTC))
        .map_err(|e| {
            format!("{s:?} is not an RFC 3339 timestamp ({e}); use e.g. 2024-05-01T12:00:00Z")
        })
}

/// Formats as RFC 3339 UTC (`Z`), sub-seconds only when present.
pub fn format(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// To database form. Times outside what `i64` nanoseconds hold (years before
/// 1677 or after 2262) saturate.
pub fn to_nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(if t.year() < 1970 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// From database form.
pub fn from_nanos(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Database form to RFC 3339.
pub fn nanos_to_string(n: i64) -> String {
    format(from_nanos(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_offsets_and_round_trips() {
        let t = parse("2024-05-01T14:00:00.5+02:00").unwrap();
        assert_eq!(format(t), "2024-05-01T12:00:00.5Z");
        assert_eq!(nanos_to_string(to_nanos(t)), "2024-05-01T12:00:00.5Z");
        assert!(parse("yesterday").is_err());
        assert!(parse("2024-05-01 12:00:00").is_err());
    }
}
