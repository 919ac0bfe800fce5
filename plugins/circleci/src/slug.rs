//! Project slugs.
//!
//! Classic projects are `<vcs>/<org>/<repo>` where the API accepts both the
//! long (`github`, `bitbucket`) and the short (`gh`, `bb`) vcs word and
//! answers with the short one; buildsnap stores the short one. GitHub App,
//! GitLab and Bitbucket DC projects are `circleci/<org-id>/<project-id>`:
//! opaque, and not derivable from a repository URL.

/// The vcs words of CircleCI project slugs (the long forms are accepted
/// and shortened).
pub const VCS_WORDS: &[&str] = &["gh", "github", "bb", "bitbucket", "circleci"];

/// Why a text is not a project slug this plugin will put in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSlug {
    /// The text, as given.
    pub slug: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl std::fmt::Display for InvalidSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Debug-quoted: the text may hold control characters.
        write!(
            f,
            "{:?} is not a CircleCI project slug (vcs/org/repo, vcs one of gh, github, bb, bitbucket, circleci): {}",
            self.slug, self.reason
        )
    }
}

impl std::error::Error for InvalidSlug {}

/// A project slug checked for use as API path segments, in its stored
/// form ([`normalize`]): exactly `vcs/org/repo` with a known vcs word, and
/// org and repo non-empty, neither `.` nor `..`, and free of `?`, `#`,
/// `%`, `\` and control characters. The slug comes from whoever
/// registered the deploy; every segment is percent-encoded later, but
/// `..` survives encoding and the URL parser would resolve it, sending
/// the integration's token to another path of the provider
/// (`gh/../../../../internal/admin`).
pub fn parse(slug: &str) -> Result<String, InvalidSlug> {
    let invalid = |reason| InvalidSlug {
        slug: slug.to_string(),
        reason,
    };
    let trimmed = trim(slug);
    let parts: Vec<&str> = trimmed.split('/').collect();
    let [vcs, org, repo] = parts[..] else {
        return Err(invalid("it must have exactly three segments"));
    };
    if !VCS_WORDS.contains(&vcs.to_ascii_lowercase().as_str()) {
        return Err(invalid("unknown vcs word"));
    }
    for segment in [org, repo] {
        if segment.is_empty() {
            return Err(invalid("empty segment"));
        }
        if segment == "." || segment == ".." {
            return Err(invalid("`.` and `..` segments are not names"));
        }
        if segment
            .chars()
            .any(|c| matches!(c, '?' | '#' | '%' | '\\') || c.is_control())
        {
            return Err(invalid(
                "`?`, `#`, `%`, `\\` and control characters are not allowed",
            ));
        }
    }
    Ok(normalize(trimmed))
}

/// The stored form of a slug: long vcs words shortened, a leading or
/// trailing `/` dropped, everything else (including case) kept. For slugs
/// the provider sent; a slug that goes into a URL passes [`parse`].
pub fn normalize(slug: &str) -> String {
    let slug = trim(slug);
    match slug.split_once('/') {
        Some((vcs, rest)) => format!("{}/{}", short_vcs(vcs), rest),
        None => slug.to_string(),
    }
}

/// A slug without the whitespace and `/` around it, however they mix
/// (`" / gh/o/r/ \n/"`): trimming one and then the other left a slug that
/// a second [`normalize`] changed again, so a stored form was not stable.
fn trim(slug: &str) -> &str {
    slug.trim_matches(|c: char| c == '/' || c.is_whitespace())
}

/// `github`→`gh`, `bitbucket`→`bb`, and the known words lower-cased
/// (`CircleCI`→`circleci`, which the API accepts in any case); other words
/// unchanged.
pub fn short_vcs(vcs: &str) -> &str {
    match vcs.to_ascii_lowercase().as_str() {
        "github" | "gh" => "gh",
        "bitbucket" | "bb" => "bb",
        "circleci" => "circleci",
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
    // `https://github.com/../..` names no repository.
    parse(&format!("{vcs}/{org}/{repo}")).ok()
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
            ("https://github.com/../..", None),
            ("https://github.com/org/..", None),
            ("not a url", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(for_repo_url(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn parses_real_slugs_into_their_stored_form() {
        for (slug, want) in [
            ("gh/acme/app", "gh/acme/app"),
            (
                "github/coldgust/coldgust.github.io",
                "gh/coldgust/coldgust.github.io",
            ),
            ("BitBucket/team/repo", "bb/team/repo"),
            (" /gh/Org/Repo/ ", "gh/Org/Repo"),
            ("gh/org/my repo", "gh/org/my repo"),
            ("gh/org/...", "gh/org/..."),
            ("gh/org/.github", "gh/org/.github"),
            (
                "circleci/43G3kM5RtfFE7v5sa4nWAU/44n9pujWcTnVZ2b5S8Fnat",
                "circleci/43G3kM5RtfFE7v5sa4nWAU/44n9pujWcTnVZ2b5S8Fnat",
            ),
        ] {
            assert_eq!(parse(slug).as_deref(), Ok(want), "{slug:?}");
        }
    }

    #[test]
    fn refuses_slugs_that_would_leave_the_project_path() {
        for bad in [
            "gh/../../../../internal/admin?x=1#",
            "gh/../repo",
            "gh/org/..",
            "gh/./repo",
            "gh/org/.",
            "gh//repo",
            "gh/org/",
            "gh/org",
            "gh/org/repo/extra",
            "gh/org/repo?x=1",
            "gh/org/repo#frag",
            "gh/org/%2e%2e",
            "gh/org\\..\\admin/repo",
            "gh/org/re\npo",
            "gh/org/re\u{0}po",
            "gitlab/org/repo",
            "",
            "/",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("not a CircleCI project slug"),
                "{err}"
            );
        }
    }

    /// Found by the `circleci_slug` fuzz target: whitespace and `/` mixed
    /// at the ends survived one pass, so the stored form changed again
    /// when normalised a second time.
    #[test]
    fn normalize_is_idempotent_when_slashes_and_whitespace_mix() {
        for s in [
            "git\0ou6/\n\n/",
            " / gh/org/repo/ \n/",
            "/\tgithub/o/r",
            "gh/o/r / /",
        ] {
            let once = normalize(s);
            assert_eq!(normalize(&once), once, "{s:?}");
        }
        assert_eq!(normalize(" / github/org/repo/ \n/"), "gh/org/repo");
        assert_eq!(parse("gh/org/repo /\n").as_deref(), Ok("gh/org/repo"));
    }

    /// The stored form of a slug has its vcs word in one spelling, so the
    /// same project is one slug whatever case a client sent.
    #[test]
    fn vcs_words_are_stored_lower_case() {
        assert_eq!(parse("CircleCI/abc/def").as_deref(), Ok("circleci/abc/def"));
        assert_eq!(parse("GH/Org/Repo").as_deref(), Ok("gh/Org/Repo"));
        assert_eq!(normalize("CIRCLECI/a/b"), "circleci/a/b");
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
