//! Project slugs.
//!
//! Classic projects are `<vcs>/<org>/<repo>` where the API accepts both the
//! long (`github`, `bitbucket`) and the short (`gh`, `bb`) vcs word and
//! answers with the short one; buildsnap stores the short one. GitHub App,
//! GitLab and Bitbucket DC projects are `circleci/<org-id>/<project-id>`:
//! opaque, and not derivable from a repository URL.

/// The stored form of a slug: long vcs words shortened, a leading or
/// trailing `/` dropped, everything else (including case) kept.
pub fn normalize(slug: &str) -> String {
    let slug = slug.trim().trim_matches('/');
    match slug.split_once('/') {
        Some((vcs, rest)) => format!("{}/{}", short_vcs(vcs), rest),
        None => slug.to_string(),
    }
}

/// `github`→`gh`, `bitbucket`→`bb`; other words unchanged.
pub fn short_vcs(vcs: &str) -> &str {
    match vcs.to_ascii_lowercase().as_str() {
        "github" | "gh" => "gh",
        "bitbucket" | "bb" => "bb",
        _ => vcs,
    }
}

/// The vcs word the web app uses in its URLs (`gh`→`github`).
pub fn long_vcs(vcs: &str) -> &str {
    match vcs {
        "gh" | "github" => "github",
        "bb" | "bitbucket" => "bitbucket",
        _ => vcs,
    }
}

/// The slug for a repository URL on github.com or bitbucket.org
/// (`https://`, `http://`, `ssh://`, `git@host:` and `git+` forms, with or
/// without `.git`); none for any other host, including GitHub App
/// projects, whose slug must be configured.
pub fn for_repo_url(url: &str) -> Option<String> {
    let url = url.trim();
    let url = url.strip_prefix("git+").unwrap_or(url);
    // Reduce every form to "host/path".
    let rest = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "https" | "http" | "ssh" | "git"
        ) {
            return None;
        }
        // Drop credentials; keep the host (without port) and the path.
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit('@').next()?;
        let host = host.split(':').next()?;
        format!("{host}/{path}")
    } else {
        // scp-like: git@github.com:org/repo.git
        let (user_host, path) = url.split_once(':')?;
        let host = user_host.rsplit('@').next()?;
        format!("{host}/{path}")
    };
    let mut parts = rest.split('/');
    let host = parts.next()?.to_ascii_lowercase();
    let vcs = match host.strip_prefix("www.").unwrap_or(&host) {
        "github.com" => "gh",
        "bitbucket.org" => "bb",
        _ => return None,
    };
    let org = parts.next().filter(|s| !s.is_empty())?;
    let repo = parts.next().filter(|s| !s.is_empty())?;
    let repo = repo.split(['?', '#']).next()?;
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    // Anything after org/repo must be a sub-page (tree/..., trailing slash),
    // which still names the same repository.
    if repo.is_empty() || org.contains(['?', '#']) {
        return None;
    }
    Some(format!("{vcs}/{org}/{repo}"))
}

/// The slug as path segments for an API URL, each segment percent-encoded.
pub fn url_path(slug: &str) -> String {
    slug.split('/')
        .map(crate::client::encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_long_vcs_words() {
        assert_eq!(
            normalize("github/coldgust/coldgust.github.io"),
            "gh/coldgust/coldgust.github.io"
        );
        assert_eq!(normalize("bitbucket/team/repo"), "bb/team/repo");
        assert_eq!(normalize("gh/Org/Repo"), "gh/Org/Repo");
        assert_eq!(normalize("/gh/org/repo/"), "gh/org/repo");
        assert_eq!(
            normalize("circleci/43G3kM5RtfFE7v5sa4nWAU/44n9pujWcTnVZ2b5S8Fnat"),
            "circleci/43G3kM5RtfFE7v5sa4nWAU/44n9pujWcTnVZ2b5S8Fnat"
        );
    }

    #[test]
    fn derives_from_repo_urls() {
        let cases = [
            (
                "https://github.com/coldgust/coldgust.github.io",
                Some("gh/coldgust/coldgust.github.io"),
            ),
            ("https://github.com/org/repo.git", Some("gh/org/repo")),
            ("https://github.com/org/repo/", Some("gh/org/repo")),
            ("https://github.com/org/repo/tree/main", Some("gh/org/repo")),
            ("git@github.com:org/repo.git", Some("gh/org/repo")),
            ("ssh://git@github.com/org/repo.git", Some("gh/org/repo")),
            ("git+https://github.com/org/repo", Some("gh/org/repo")),
            (
                "https://user@bitbucket.org/team/repo.git",
                Some("bb/team/repo"),
            ),
            ("https://www.github.com/org/repo", Some("gh/org/repo")),
            ("https://gitlab.com/org/repo", None),
            ("https://github.example.com/org/repo", None),
            ("https://github.com/org", None),
            ("not a url", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(for_repo_url(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(url_path("gh/org/my repo"), "gh/org/my%20repo");
        assert_eq!(
            url_path("gh/coldgust/coldgust.github.io"),
            "gh/coldgust/coldgust.github.io"
        );
    }
}
