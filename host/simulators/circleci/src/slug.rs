//! Project slugs in every form CircleCI accepts.
//!
//! Classic projects may be addressed as `gh/`, `github/`, `bb/` or
//! `bitbucket/`; responses always use the short form. GitHub App, GitLab and
//! Bitbucket DC projects use the opaque `circleci/<org-id>/<project-id>`. The
//! `/` separators may arrive URL-escaped as `%2F`.

use percent_encoding::percent_decode_str;

/// Splits the path after `/project/` into (canonical slug, remaining path).
///
/// Returns `None` when fewer than three slug segments are present or the vcs
/// segment is unknown.
pub fn split_project_path(rest: &str) -> Option<(String, String)> {
    let decoded = percent_decode_str(rest).decode_utf8().ok()?;
    let mut parts = decoded.splitn(4, '/');
    let vcs = parts.next()?;
    let org = parts.next()?;
    let repo = parts.next()?;
    if org.is_empty() || repo.is_empty() {
        return None;
    }
    let tail = parts.next().map(|t| format!("/{t}")).unwrap_or_default();
    Some((format!("{}/{org}/{repo}", short_vcs(vcs)?), tail))
}

/// Maps a vcs slug segment to its short form.
pub fn short_vcs(vcs: &str) -> Option<&'static str> {
    match vcs {
        "gh" | "github" => Some("gh"),
        "bb" | "bitbucket" => Some("bb"),
        "circleci" => Some("circleci"),
        _ => None,
    }
}

/// Long form used in webhook payloads (`github/org/repo`).
pub fn long_form(slug: &str) -> String {
    if let Some(rest) = slug.strip_prefix("gh/") {
        format!("github/{rest}")
    } else if let Some(rest) = slug.strip_prefix("bb/") {
        format!("bitbucket/{rest}")
    } else {
        slug.to_owned()
    }
}

/// Canonicalises a slug written in a scenario (`github/a/b` -> `gh/a/b`, org slugs too).
pub fn canonical(slug: &str) -> String {
    match slug.split_once('/') {
        Some((vcs, rest)) => match short_vcs(vcs) {
            Some(short) => format!("{short}/{rest}"),
            None => slug.to_owned(),
        },
        None => slug.to_owned(),
    }
}

/// `vcs_type` for collaborations (`github`, `bitbucket`, `circleci`).
pub fn vcs_type(slug: &str) -> &'static str {
    match slug.split('/').next() {
        Some("gh" | "github") => "github",
        Some("bb" | "bitbucket") => "bitbucket",
        _ => "circleci",
    }
}

/// `vcs_info.provider` for a project slug.
pub fn provider(slug: &str) -> &'static str {
    match vcs_type(slug) {
        "github" => "GitHub",
        "bitbucket" => "Bitbucket",
        _ => "CircleCI",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_form() {
        let want = Some(("gh/acme/api".to_owned(), "/pipeline".to_owned()));
        assert_eq!(split_project_path("gh/acme/api/pipeline"), want);
        assert_eq!(split_project_path("github/acme/api/pipeline"), want);
        assert_eq!(split_project_path("github%2Facme%2Fapi/pipeline"), want);
        assert_eq!(
            split_project_path("bitbucket/acme/api").unwrap().0,
            "bb/acme/api"
        );
        assert_eq!(
            split_project_path("circleci/O1/P2").unwrap().0,
            "circleci/O1/P2"
        );
        assert_eq!(split_project_path("gl/acme/api"), None);
        assert_eq!(split_project_path("gh/acme"), None);
    }

    #[test]
    fn long_and_canonical_forms() {
        assert_eq!(long_form("gh/a/b"), "github/a/b");
        assert_eq!(long_form("circleci/x/y"), "circleci/x/y");
        assert_eq!(canonical("bitbucket/a"), "bb/a");
    }
}
