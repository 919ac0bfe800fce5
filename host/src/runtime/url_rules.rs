//! What a URL a plugin asks the host to fetch may not contain, checked on
//! the text the plugin wrote, before any parsing.
//!
//! Parsing resolves `.` and `..` path segments (WHATWG URL rules, which
//! also read `%2e` as a dot, `\` as `/`, and drop tabs and line breaks), so
//! a plugin that splices an untrusted project name into a path
//! (`/api/v2/project/gh/../../../internal/admin/pipeline`) would send the
//! integration's token to a path nobody meant. The CircleCI plugin refuses
//! such names itself; this is the host's own check, for every plugin.

use url::Url;

/// Why the host refused a plugin's URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error(
        "the URL path has a `.` or `..` segment, which would change the path once resolved; plugins must build paths from checked segments"
    )]
    /// The path has a `.` or `..` segment (in any spelling the URL parser
    /// would resolve).
    DotSegment,
    /// The URL does not parse.
    #[error("invalid url `{url}`: {reason}")]
    Invalid {
        /// The URL as the plugin wrote it.
        url: String,
        /// What the parser said.
        reason: String,
    },
}

/// Parse the URL a plugin asked for, refusing dot segments in its path.
pub fn parse_plugin_url(raw: &str) -> Result<Url, UrlRefusal> {
    if has_dot_segment(raw) {
        return Err(UrlRefusal::DotSegment);
    }
    Url::parse(raw).map_err(|e| UrlRefusal::Invalid {
        url: raw.to_string(),
        reason: e.to_string(),
    })
}

/// Whether the path of `raw` (between the authority and the first `?` or
/// `#`) has a segment an URL parser would resolve as `.` or `..`.
pub fn has_dot_segment(raw: &str) -> bool {
    // The parser drops tabs and line breaks anywhere, and trims leading and
    // trailing controls and spaces: look at what it would look at.
    let text: String = raw
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let rest = match text.find("://") {
        Some(i) => &text[i + 3..],
        None => text.as_str(),
    };
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    // Skip the authority; `\` separates like `/` in http(s) URLs.
    let Some(path_start) = rest.find(['/', '\\']) else {
        return false;
    };
    rest[path_start..].split(['/', '\\']).any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_spelling_of_a_dot_segment() {
        for bad in [
            "https://h/api/../admin",
            "https://h/api/./x",
            "https://h/api/..",
            "https://h/a/%2e%2E/b",
            "https://h/a/.%2e/b",
            "https://h/a/%2e/b",
            "https://h/a\\..\\b",
            "https://h/a/.\t./b",
            "https://h/a/.\n./b",
            "  https://h/a/../b  ",
            "https://h/api/v2/project/gh/../../../../internal/admin%3Fx%3D1%23/pipeline",
        ] {
            assert!(has_dot_segment(bad), "{bad:?} has a dot segment");
            assert_eq!(parse_plugin_url(bad), Err(UrlRefusal::DotSegment));
        }
    }

    #[test]
    fn leaves_dots_inside_names_and_after_the_path_alone() {
        for good in [
            "https://h/api/v2/project/gh/coldgust/coldgust.github.io/pipeline",
            "https://h/a/...b/..c/c../.well-known",
            "https://h/a?next=../..",
            "https://h/a#../..",
            "https://h.example.com",
            "https://h:8080/",
        ] {
            assert!(!has_dot_segment(good), "{good:?}");
            assert!(parse_plugin_url(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn unparsable_urls_are_invalid() {
        assert!(matches!(
            parse_plugin_url("not a url"),
            Err(UrlRefusal::Invalid { .. })
        ));
    }
}
