//! `Link` headers (RFC 8288) as GitHub writes them:
//! `<https://api.github.com/...&page=2>; rel="next", <...>; rel="last"`.
//!
//! GitHub asks clients to follow `rel="next"` rather than build page URLs.

/// The URL of the link with relation `rel`, if the header has one.
pub fn find(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // The parameters run to the next link (a `,` followed by `<`).
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        let matches = params.split(';').any(|p| {
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
        });
        if matches {
            return Some(url.to_owned());
        }
        rest = &after[params_end..];
    }
}

/// The `rel="next"` URL in a response's headers (names lower-case).
pub fn next(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k == "link")
        .find_map(|(_, v)| find(v, "next"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_githubs_links() {
        let h = "<https://api.github.com/repositories/1/actions/runs?head_sha=ab&per_page=100&page=2>; rel=\"next\", <https://api.github.com/repositories/1/actions/runs?head_sha=ab&per_page=100&page=3>; rel=\"last\"";
        assert_eq!(
            find(h, "next").as_deref(),
            Some(
                "https://api.github.com/repositories/1/actions/runs?head_sha=ab&per_page=100&page=2"
            )
        );
        assert!(find(h, "last").unwrap().ends_with("page=3"));
        assert_eq!(find(h, "prev"), None);
    }

    #[test]
    fn relation_lists_case_and_spacing() {
        assert_eq!(find("<a>;rel=next", "next").as_deref(), Some("a"));
        assert_eq!(find("<a>; REL=\"prev next\"", "next").as_deref(), Some("a"));
        assert_eq!(
            find("<a>; rel=\"prev\" ,<b>; rel=\"next\"", "next").as_deref(),
            Some("b")
        );
        assert_eq!(find("<a>; rel=\"nextish\"", "next"), None);
        assert_eq!(find("", "next"), None);
        assert_eq!(find("<unterminated; rel=next", "next"), None);
    }

    #[test]
    fn next_reads_the_link_header_only() {
        let headers = vec![
            ("x-other".to_owned(), "<z>; rel=\"next\"".to_owned()),
            ("link".to_owned(), "<y>; rel=\"next\"".to_owned()),
        ];
        assert_eq!(next(&headers).as_deref(), Some("y"));
        assert_eq!(next(&[]), None);
    }
}
