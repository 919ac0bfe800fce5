//! Just enough time handling to compare timestamps and read `Retry-After`.
//!
//! CircleCI mixes precisions (pipelines in ms, workflows in s, webhooks in
//! µs), so RFC 3339 strings cannot be compared as text. The component has
//! no clock (wasm32-unknown-unknown), so nothing here asks for "now".

/// Milliseconds since the Unix epoch for an RFC 3339 timestamp
/// (`2023-03-25T18:13:43.446Z`, `2023-03-25T17:52:15Z`,
/// `2024-12-18T18:51:31.379158+01:00`); none when it is not one.
pub fn rfc3339_millis(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        // Keep milliseconds; finer digits do not matter for ordering here.
        let frac = &b[start..i.min(start + 3)];
        millis = digits(frac)? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_secs = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            let off = h * 3600 + m * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1000 + millis)
}

/// Seconds since the Unix epoch for an HTTP date in the IMF-fixdate form
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires senders to use.
pub fn http_date_secs(s: &str) -> Option<i64> {
    let s = s.trim();
    let (_, rest) = s.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day = digits(parts.next()?.as_bytes())?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year = digits(parts.next()?.as_bytes())?;
    let mut hms = parts.next()?.split(':');
    let hour = digits(hms.next()?.as_bytes())?;
    let minute = digits(hms.next()?.as_bytes())?;
    let second = digits(hms.next()?.as_bytes())?;
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_precision_circleci_uses() {
        assert_eq!(rfc3339_millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            rfc3339_millis("2023-03-25T18:13:43.446Z"),
            Some(1_679_768_023_446)
        );
        assert_eq!(
            rfc3339_millis("2023-03-25T17:52:15Z"),
            Some(1_679_766_735_000)
        );
        assert_eq!(
            rfc3339_millis("2024-12-18T18:51:31.379158Z"),
            Some(1_734_547_891_379)
        );
        assert_eq!(
            rfc3339_millis("2023-03-25T19:52:15+02:00"),
            Some(1_679_766_735_000)
        );
        assert_eq!(
            rfc3339_millis("2000-02-29T00:00:00Z"),
            Some(951_782_400_000)
        );
    }

    #[test]
    fn precision_does_not_break_ordering() {
        let ms = rfc3339_millis("2023-03-25T17:52:15.651Z").unwrap();
        let s = rfc3339_millis("2023-03-25T17:52:15Z").unwrap();
        assert!(ms > s);
        // As text they would order the other way round.
        assert!("2023-03-25T17:52:15.651Z" < "2023-03-25T17:52:15Z");
    }

    #[test]
    fn rejects_non_timestamps() {
        for s in [
            "",
            "2023-03-25",
            "2023-03-25T17:52:15",
            "2023-13-01T00:00:00Z",
            "2024-12-18 17:23:29.361740256 +0000 UTC",
            "2023-03-25T17:52:15.Z",
        ] {
            assert_eq!(rfc3339_millis(s), None, "{s}");
        }
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            http_date_secs("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date_secs("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(http_date_secs("120"), None);
    }
}
