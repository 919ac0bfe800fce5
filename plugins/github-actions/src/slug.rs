//! Build projects (`owner/repo`) from repository URLs, and the web host that
//! goes with an API base URL.
//!
//! github.com's API is `https://api.github.com` and its pages are on
//! `https://github.com`; a GitHub Enterprise Server's API is
//! `https://HOST/api/v3` and its pages (repositories, token settings) are on
//! `https://HOST`. Only the integration's base URL tells which host that is,
//! which is why `project-for-repo` and `token-help-url` take the call
//! context in contract 0.2.0.

/// GitHub's public web root.
pub const GITHUB_WEB: &str = "https://github.com";

/// The path a GitHub Enterprise Server API lives under.
const ENTERPRISE_API: &str = "/api/v3";

/// The web root for an API base URL: `https://HOST` for an Enterprise
/// `https://HOST/api/v3`, github.com for anything else.
pub fn web_root(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    match base.strip_suffix(ENTERPRISE_API) {
        Some(root) if root.contains("://") => root.to_owned(),
        _ => GITHUB_WEB.to_owned(),
    }
}

/// Where a person creates a token: the fine-grained token page on the web
/// host of the integration.
pub fn token_help_url(base_url: &str) -> String {
    let mut url = web_root(base_url);
    url.push_str("/settings/personal-access-tokens");
    url
}

/// The host name (no port, lower-case) of an absolute URL, if it has one.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The `owner/repo` a repository URL names, when it is on github.com or on
/// the integration's own Enterprise host; lower-case (GitHub's names are
/// case-insensitive, and one spelling keeps the index's keys equal).
///
/// Accepts `https://HOST/o/r[.git][/...]`, `http://`, `git://`,
/// `ssh://[user@]HOST[:port]/o/r.git`, `git+https://...` and the scp form
/// `git@HOST:o/r.git`.
pub fn project_for_repo(base_url: &str, repo_url: &str) -> Option<String> {
    let url = repo_url.trim();
    let url = url.strip_prefix("git+").unwrap_or(url);
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "https" | "http" | "ssh" | "git"
        ) {
            return None;
        }
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        (host.split(':').next()?.to_ascii_lowercase(), path)
    } else {
        // scp-like: `user@host:owner/repo.git`.
        let (user_host, path) = url.split_once(':')?;
        let host = user_host.rsplit_once('@')?.1;
        (host.to_ascii_lowercase(), path)
    };
    if !allowed_host(base_url, &host) {
        return None;
    }
    let path = path.split(['?', '#']).next()?;
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let owner = parts.next()?;
    let repo = parts.next()?;
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    (valid_name(owner) && valid_name(repo)).then(|| format!("{owner}/{repo}").to_ascii_lowercase())
}

/// github.com always; the Enterprise host when the base URL is one.
fn allowed_host(base_url: &str, host: &str) -> bool {
    if host == "github.com" || host == "www.github.com" {
        return true;
    }
    let web = web_root(base_url);
    web != GITHUB_WEB && host_of(&web).as_deref() == Some(host)
}

/// GitHub's owner and repository names: ASCII letters, digits, `-`, `_`,
/// `.`, and not `.` or `..`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A build project as the plugin uses it: `owner/repo`, lower-case, each
/// part a valid GitHub name. Anything else is refused before a request is
/// built from it (a `/` or `?` too many would change the URL's meaning).
pub fn parse_project(project: &str) -> Option<(String, String)> {
    let (owner, repo) = project.trim().split_once('/')?;
    (valid_name(owner) && valid_name(repo))
        .then(|| (owner.to_ascii_lowercase(), repo.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUD: &str = "https://api.github.com";
    const GHES: &str = "https://git.example.com/api/v3";

    #[test]
    fn the_web_root_follows_the_base_url() {
        assert_eq!(web_root(CLOUD), "https://github.com");
        assert_eq!(web_root(GHES), "https://git.example.com");
        assert_eq!(
            web_root("https://git.example.com/api/v3/"),
            "https://git.example.com"
        );
        assert_eq!(web_root("http://127.0.0.1:8081"), "https://github.com");
        assert_eq!(web_root("/api/v3"), "https://github.com");
    }

    #[test]
    fn the_token_page_is_on_the_integrations_host() {
        assert_eq!(
            token_help_url(CLOUD),
            "https://github.com/settings/personal-access-tokens"
        );
        assert_eq!(
            token_help_url(GHES),
            "https://git.example.com/settings/personal-access-tokens"
        );
    }

    #[test]
    fn github_com_urls_in_every_form() {
        for url in [
            "https://github.com/Acme/API",
            "https://github.com/acme/api.git",
            "https://github.com/acme/api/tree/main/src",
            "http://www.github.com/acme/api?tab=readme",
            "git+https://github.com/acme/api.git",
            "ssh://git@github.com/acme/api.git",
            "ssh://git@github.com:22/acme/api.git",
            "git@github.com:acme/api.git",
            "git://github.com/acme/api",
            "  https://GitHub.com/acme/api/  ",
        ] {
            assert_eq!(
                project_for_repo(CLOUD, url).as_deref(),
                Some("acme/api"),
                "{url}"
            );
            // github.com repositories are github.com's on an Enterprise
            // integration too.
            assert_eq!(
                project_for_repo(GHES, url).as_deref(),
                Some("acme/api"),
                "{url}"
            );
        }
    }

    #[test]
    fn enterprise_urls_only_with_that_enterprise_base() {
        for url in [
            "https://git.example.com/acme/api",
            "git@git.example.com:acme/api.git",
            "ssh://git@git.example.com:7999/acme/api.git",
        ] {
            assert_eq!(
                project_for_repo(GHES, url).as_deref(),
                Some("acme/api"),
                "{url}"
            );
            assert_eq!(project_for_repo(CLOUD, url), None, "{url}");
            assert_eq!(
                project_for_repo("https://other.example.com/api/v3", url),
                None,
                "{url}"
            );
        }
    }

    #[test]
    fn other_hosts_and_bad_paths_are_refused() {
        for url in [
            "https://gitlab.com/acme/api",
            "https://github.com.evil.example/acme/api",
            "https://evil.example/github.com/acme/api",
            "https://github.com/acme",
            "https://github.com/",
            "https://github.com/acme/..",
            "https://github.com/ac%20me/api",
            "ftp://github.com/acme/api",
            "github.com/acme/api",
            "",
        ] {
            assert_eq!(project_for_repo(CLOUD, url), None, "{url}");
        }
    }

    #[test]
    fn projects_are_owner_slash_repo() {
        assert_eq!(
            parse_project("Acme/API"),
            Some(("acme".into(), "api".into()))
        );
        for bad in ["acme", "acme/api/x", "acme/", "/api", "acme/a?b", "acme/.."] {
            assert_eq!(parse_project(bad), None, "{bad}");
        }
    }
}
