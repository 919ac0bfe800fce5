//! Conditional requests: `ETag` / `If-None-Match` and `Last-Modified` / `If-Modified-Since`.
//!
//! The entity tag is a weak tag over the body, so it changes exactly when the served JSON
//! changes (a run finishing, a new run appearing). `If-None-Match` wins over
//! `If-Modified-Since` when both are sent, as RFC 9110 says.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Weak entity tag of a body, `W/"<hex sha-256>"` like GitHub's.
pub fn etag(body: &[u8]) -> String {
    format!("W/\"{}\"", hex::encode(Sha256::digest(body)))
}

fn opaque(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/")
}

/// Whether an `If-None-Match` value matches `tag` (weak comparison; `*` matches anything).
pub fn none_match_hits(header: &str, tag: &str) -> bool {
    header
        .split(',')
        .any(|t| t.trim() == "*" || opaque(t) == opaque(tag))
}

/// `Last-Modified` value for a time.
pub fn http_date(t: DateTime<Utc>) -> String {
    let secs = u64::try_from(t.timestamp()).unwrap_or(0);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Whether the resource is unchanged since an `If-Modified-Since` value.
pub fn not_modified_since(header: &str, last_modified: DateTime<Utc>) -> bool {
    let Ok(since) = httpdate::parse_http_date(header.trim()) else {
        return false;
    };
    let since = since
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    u64::try_from(last_modified.timestamp()).is_ok_and(|lm| lm <= since)
}

/// The decision for one GET answered 200.
pub fn is_not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    tag: &str,
    last_modified: Option<DateTime<Utc>>,
) -> bool {
    match (if_none_match, if_modified_since, last_modified) {
        (Some(inm), _, _) => none_match_hits(inm, tag),
        (None, Some(ims), Some(lm)) => not_modified_since(ims, lm),
        _ => false,
    }
}

/// Seconds since the Unix epoch, for headers that carry wall-clock times.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_compare_weakly_and_dates_by_second() {
        let tag = etag(b"{}");
        assert!(tag.starts_with("W/\"") && tag.len() == 64 + 4);
        assert!(none_match_hits(&tag, &tag));
        assert!(none_match_hits(tag.trim_start_matches("W/"), &tag));
        assert!(none_match_hits(&format!("\"x\", {tag}"), &tag));
        assert!(none_match_hits("*", &tag));
        assert!(!none_match_hits("W/\"other\"", &tag));
        let t = DateTime::parse_from_rfc3339("2025-01-01T12:00:00Z")
            .unwrap()
            .to_utc();
        let h = http_date(t);
        assert_eq!(h, "Wed, 01 Jan 2025 12:00:00 GMT");
        assert!(not_modified_since(&h, t));
        assert!(!not_modified_since(&h, t + chrono::Duration::seconds(1)));
        assert!(!not_modified_since("yesterday", t));
        assert!(is_not_modified(None, Some(&h), &tag, Some(t)));
        assert!(
            !is_not_modified(Some("W/\"x\""), Some(&h), &tag, Some(t)),
            "ETag wins"
        );
    }
}
