//! Query strings: parameters, paging, the `Link` header and GitHub's date-range syntax.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;

/// Decoded value of query parameter `name` (the first occurrence).
pub fn param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// GitHub's default page size.
pub const DEFAULT_PER_PAGE: usize = 30;
/// GitHub's largest page size; larger requests are capped to it.
pub const MAX_PER_PAGE: usize = 100;

/// `per_page` and `page` of a list request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    /// Items per page, 1..=100.
    pub per_page: usize,
    /// 1-based page number.
    pub page: usize,
}

impl Paging {
    /// Reads `per_page` (default 30, at most 100) and `page` (default 1).
    pub fn from_query(query: Option<&str>) -> Self {
        let num = |name| param(query, name).and_then(|v| v.trim().parse::<usize>().ok());
        let per_page = match num("per_page") {
            Some(n) if n >= 1 => n.min(MAX_PER_PAGE),
            _ => DEFAULT_PER_PAGE,
        };
        let page = num("page").filter(|&p| p >= 1).unwrap_or(1);
        Self { per_page, page }
    }

    /// Index range of this page within `reachable` items.
    pub fn range(&self, reachable: usize) -> std::ops::Range<usize> {
        let start = (self.page - 1).saturating_mul(self.per_page).min(reachable);
        start..(start + self.per_page).min(reachable)
    }

    /// Number of pages for `reachable` items (at least 1).
    pub fn last_page(&self, reachable: usize) -> usize {
        reachable.div_ceil(self.per_page).max(1)
    }

    /// The `Link` header GitHub sends for this page, or `None` when everything fits on one.
    ///
    /// `url` is the absolute URL of the list without a query; the other query parameters
    /// are kept as the client sent them, `page` is replaced.
    pub fn link(&self, url: &str, query: Option<&str>, reachable: usize) -> Option<String> {
        let last = self.last_page(reachable);
        if last <= 1 && self.page <= 1 {
            return None;
        }
        let kept: Vec<&str> = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && p.split('=').next() != Some("page"))
            .collect();
        let at = |page: usize| {
            let mut q = kept.clone();
            let p = format!("page={page}");
            q.push(&p);
            format!("<{url}?{}>", q.join("&"))
        };
        let mut parts = Vec::new();
        if self.page > 1 {
            parts.push(format!("{}; rel=\"prev\"", at((self.page - 1).min(last))));
        }
        if self.page < last {
            parts.push(format!("{}; rel=\"next\"", at(self.page + 1)));
            parts.push(format!("{}; rel=\"last\"", at(last)));
        }
        if self.page > 1 {
            parts.push(format!("{}; rel=\"first\"", at(1)));
        }
        Some(parts.join(", "))
    }
}

/// A `created` filter in GitHub's search date syntax: `>=2024-01-01T00:00:00Z`, `<2024-02-01`,
/// `2024-01-01..2024-01-31`, `2024-01-01T00:00:00Z..*`, or a single date (that whole day).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateRange {
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Upper bound and whether it is inclusive.
    pub to: Option<(DateTime<Utc>, bool)>,
}

/// A date or date-time as written in a range, resolved to the instants it spans.
#[derive(Clone, Copy)]
struct Point {
    start: DateTime<Utc>,
    /// First instant after it: the next day for a date, the next second for a date-time.
    after: DateTime<Utc>,
}

fn point(s: &str) -> Option<Point> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0)?.and_utc();
        return Some(Point {
            start,
            after: start.checked_add_days(Days::new(1))?,
        });
    }
    let start = DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").map(|t| t.and_utc()))
        .ok()?;
    Some(Point {
        start,
        after: start + chrono::Duration::seconds(1),
    })
}

impl DateRange {
    /// Parses the syntax; `None` when it is not valid.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let open = |b: &str| b.trim() == "*";
        if let Some(rest) = s.strip_prefix(">=") {
            return Some(Self {
                from: Some(point(rest)?.start),
                to: None,
            });
        }
        if let Some(rest) = s.strip_prefix("<=") {
            return Some(Self {
                from: None,
                to: Some((point(rest)?.after, false)),
            });
        }
        if let Some(rest) = s.strip_prefix('>') {
            return Some(Self {
                from: Some(point(rest)?.after),
                to: None,
            });
        }
        if let Some(rest) = s.strip_prefix('<') {
            return Some(Self {
                from: None,
                to: Some((point(rest)?.start, false)),
            });
        }
        if let Some((a, b)) = s.split_once("..") {
            let from = if open(a) { None } else { Some(point(a)?.start) };
            let to = if open(b) {
                None
            } else {
                Some((point(b)?.after, false))
            };
            if from.is_none() && to.is_none() {
                return None;
            }
            return Some(Self { from, to });
        }
        let p = point(s)?;
        Some(Self {
            from: Some(p.start),
            to: Some((p.after, false)),
        })
    }

    /// Whether `t` lies in the range.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f)
            && self
                .to
                .is_none_or(|(e, inclusive)| if inclusive { t <= e } else { t < e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn per_page_is_capped_and_defaulted() {
        assert_eq!(
            Paging::from_query(Some("per_page=500&page=3")),
            Paging {
                per_page: 100,
                page: 3
            }
        );
        assert_eq!(
            Paging::from_query(Some("per_page=0&page=0")),
            Paging {
                per_page: 30,
                page: 1
            }
        );
        assert_eq!(
            Paging::from_query(None),
            Paging {
                per_page: 30,
                page: 1
            }
        );
    }

    #[test]
    fn link_header_keeps_filters_and_names_next_last_prev_first() {
        let p = Paging {
            per_page: 100,
            page: 1,
        };
        let url = "http://h/repos/o/r/actions/runs";
        assert_eq!(
            p.link(url, Some("head_sha=abc&per_page=100"), 250).unwrap(),
            "<http://h/repos/o/r/actions/runs?head_sha=abc&per_page=100&page=2>; rel=\"next\", \
             <http://h/repos/o/r/actions/runs?head_sha=abc&per_page=100&page=3>; rel=\"last\""
        );
        let mid = Paging {
            per_page: 100,
            page: 2,
        }
        .link(url, Some("page=2&per_page=100"), 250)
        .unwrap();
        assert!(
            mid.starts_with("<http://h/repos/o/r/actions/runs?per_page=100&page=1>; rel=\"prev\"")
        );
        assert!(mid.contains("page=3>; rel=\"next\"") && mid.ends_with("page=1>; rel=\"first\""));
        assert_eq!(p.link(url, None, 100), None);
    }

    #[test]
    fn date_ranges_follow_the_search_syntax() {
        let ge = DateRange::parse(">=2024-01-01T00:00:00Z").unwrap();
        assert!(ge.contains(t("2024-01-01T00:00:00Z")) && !ge.contains(t("2023-12-31T23:59:59Z")));
        let gt = DateRange::parse(">2024-01-01").unwrap();
        assert!(!gt.contains(t("2024-01-01T23:00:00Z")) && gt.contains(t("2024-01-02T00:00:00Z")));
        let lt = DateRange::parse("<2024-01-01T00:00:00Z").unwrap();
        assert!(lt.contains(t("2023-12-31T23:59:59Z")) && !lt.contains(t("2024-01-01T00:00:00Z")));
        let le = DateRange::parse("<=2024-01-01").unwrap();
        assert!(le.contains(t("2024-01-01T23:59:59Z")) && !le.contains(t("2024-01-02T00:00:00Z")));
        let span = DateRange::parse("2024-01-01..2024-01-31").unwrap();
        assert!(
            span.contains(t("2024-01-31T12:00:00Z")) && !span.contains(t("2024-02-01T00:00:00Z"))
        );
        let open = DateRange::parse("2024-01-01T10:00:00+02:00..*").unwrap();
        assert!(
            open.contains(t("2024-01-01T08:00:00Z")) && !open.contains(t("2024-01-01T07:59:59Z"))
        );
        let day = DateRange::parse("2024-01-05").unwrap();
        assert!(
            day.contains(t("2024-01-05T23:59:59Z")) && !day.contains(t("2024-01-06T00:00:00Z"))
        );
        for bad in [
            "",
            "yesterday",
            "*..*",
            ">=2024-13-01",
            "2024-01-01T25:00:00Z",
        ] {
            assert_eq!(DateRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn params_are_decoded() {
        assert_eq!(
            param(Some("created=%3E%3D2024-01-01&x=1"), "created").as_deref(),
            Some(">=2024-01-01")
        );
        assert_eq!(
            param(Some("branch=feature%2Fa"), "branch").as_deref(),
            Some("feature/a")
        );
        assert_eq!(param(Some("a=1"), "b"), None);
    }
}
