//! RFC 3339 timestamps to and from epoch milliseconds.
//!
//! The plugin has no clock (`call-context.now` is the host's) and GitHub
//! writes `2025-06-01T12:00:00Z`, while the host may write sub-seconds and
//! offsets; comparing times therefore goes through epoch milliseconds.

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Epoch milliseconds as GitHub writes times: `YYYY-MM-DDTHH:MM:SSZ`
/// (whole seconds, rounded down).
pub fn format_epoch_ms(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parse an RFC 3339 time (`Z` or `±HH:MM`, any fraction) to epoch
/// milliseconds; `None` when it is not one or lies before 1970.
pub fn parse_ms(ts: &str) -> Option<u64> {
    let b = ts.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = ts.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &ts[19..];
    let mut frac_ms = 0u64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3 = format!("{:0<3}", &f[..digits.min(3)]);
        frac_ms = first3.parse().ok()?;
        rest = &f[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' || !matches!(rb[0], b'+' | b'-') {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + s) - offset_secs;
    u64::try_from(secs).ok().map(|s| s * 1000 + frac_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_github_times() {
        for ts in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2025-06-01T12:00:00Z",
            "2026-12-31T00:00:01Z",
        ] {
            let ms = parse_ms(ts).unwrap_or_else(|| panic!("{ts}"));
            assert_eq!(format_epoch_ms(ms), ts);
        }
        assert_eq!(parse_ms("2025-06-01T12:00:00Z"), Some(1_748_779_200_000));
    }

    #[test]
    fn fractions_and_offsets() {
        assert_eq!(parse_ms("2025-06-01T12:00:00.5Z"), Some(1_748_779_200_500));
        assert_eq!(
            parse_ms("2025-06-01T12:00:00.123456Z"),
            Some(1_748_779_200_123)
        );
        assert_eq!(
            parse_ms("2025-06-01T14:00:00+02:00"),
            Some(1_748_779_200_000)
        );
        assert_eq!(
            parse_ms("2025-06-01T11:30:00-00:30"),
            Some(1_748_779_200_000)
        );
    }

    #[test]
    fn refuses_what_is_not_rfc_3339() {
        for bad in [
            "",
            "2025-06-01",
            "2025-06-01T12:00:00",
            "2025-13-01T12:00:00Z",
            "2025-06-01T25:00:00Z",
            "2025-06-01T12:00:00.Z",
            "2025-06-01T12:00:00+0200",
            "1969-12-31T23:59:59Z",
            "２０25-06-01T12:00:00Z",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }
}
