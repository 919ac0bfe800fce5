//! Input rules of the public contract, enforced by the store itself so that no
//! caller can write something the API would have refused.

use crate::{Result, StoreError, ts};

/// `^[a-z0-9][a-z0-9-]{0,62}$`: org, project and code deployment slugs.
pub fn slug(s: &str) -> Result<()> {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidSlug(s.to_string()))
    }
}

/// 7 to 40 hex characters, any case; returns the lower-case form that is stored.
pub fn sha(s: &str) -> Result<String> {
    if (7..=40).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(StoreError::InvalidSha(s.to_string()))
    }
}

/// A required human-readable text field: non-blank, at most `max` characters.
pub fn text(field: &str, s: &str, max: usize) -> Result<()> {
    if s.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "\"{field}\" must not be empty"
        )));
    }
    if s.chars().count() > max {
        return Err(StoreError::Invalid(format!(
            "\"{field}\" is longer than {max} characters"
        )));
    }
    Ok(())
}

/// Earliest accepted deploy time: deploys before the Unix epoch are
/// mistakes, and negative nanoseconds would sort before every real one.
pub const DEPLOYED_AT_MIN: &str = "1970-01-01T00:00:00Z";
/// Latest accepted deploy time: the largest Unix nanosecond an `i64` holds.
pub const DEPLOYED_AT_MAX: &str = "2262-04-11T23:47:16.854775807Z";

/// A deploy time the store can keep unchanged; returns its database form.
/// Outside the range it is refused, never clamped: a clamped time would be
/// echoed back as something the client did not send.
pub fn deployed_at(t: ts::OffsetDateTime) -> Result<i64> {
    match i64::try_from(t.unix_timestamp_nanos()) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(StoreError::InvalidDeployedAt(ts::format(t))),
    }
}

/// An absolute `http://` or `https://` URL with a host; returns it without a trailing `/`.
pub fn http_url(field: &str, s: &str) -> Result<String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "\"{field}\" must be an absolute http:// or https:// URL, got {s:?}"
            ))
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) || s.len() > 2048 {
        return Err(StoreError::Invalid(format!(
            "\"{field}\" is not a valid URL: {s:?}"
        )));
    }
    Ok(s.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["a", "0", "my-org", "a-", &"a".repeat(63)] {
            assert!(slug(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a b", "é", &"a".repeat(64)] {
            assert!(
                matches!(slug(bad), Err(StoreError::InvalidSlug(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn shas() {
        assert_eq!(sha("ABCDEF1").unwrap(), "abcdef1");
        assert_eq!(sha(&"a".repeat(40)).unwrap(), "a".repeat(40));
        for bad in ["abcdef", "abcdefg", &"a".repeat(41), ""] {
            assert!(matches!(sha(bad), Err(StoreError::InvalidSha(_))), "{bad}");
        }
    }

    #[test]
    fn deploy_times_outside_the_stored_range_are_refused() {
        let t = |s: &str| ts::parse(s).unwrap();
        assert_eq!(deployed_at(t(DEPLOYED_AT_MIN)).unwrap(), 0);
        assert_eq!(deployed_at(t(DEPLOYED_AT_MAX)).unwrap(), i64::MAX);
        for bad in [
            "9999-12-31T23:59:59Z",
            "2262-04-11T23:47:16.854775808Z",
            "1969-12-31T23:59:59.999999999Z",
            "0001-01-01T00:00:00Z",
        ] {
            let e = deployed_at(t(bad)).unwrap_err();
            assert!(matches!(e, StoreError::InvalidDeployedAt(_)), "{bad}: {e}");
            assert!(e.to_string().contains(DEPLOYED_AT_MAX), "{e}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            http_url("u", "https://x.example/").unwrap(),
            "https://x.example"
        );
        assert_eq!(
            http_url("u", "http://127.0.0.1:9/api").unwrap(),
            "http://127.0.0.1:9/api"
        );
        assert!(http_url("u", "ftp://x").is_err());
        assert!(http_url("u", "https://").is_err());
        assert!(http_url("u", "https://a b").is_err());
    }
}
