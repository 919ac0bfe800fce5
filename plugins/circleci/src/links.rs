//! Links into CircleCI's web app.
//!
//! Cloud's API is at `circleci.com` and its web app at `app.circleci.com`.
//! For a CircleCI server install the web app is likewise the `app.`
//! sub-domain of the API host (CircleCI's own tools derive it that way).
//! A base URL on an IP address or `localhost` (a test double) has no such
//! sub-domain, so links then point at the base URL itself.

use crate::slug::long_vcs;

/// Builds web-app URLs for one integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Links {
    app: String,
}

impl Links {
    /// Links for the API at `base_url`.
    pub fn for_base(base_url: &str) -> Links {
        let base = base_url.trim().trim_end_matches('/');
        let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
        let authority = rest.split('/').next().unwrap_or(rest);
        let host = host_of(authority);
        let app = if host.eq_ignore_ascii_case("circleci.com") {
            format!("{scheme}://app.circleci.com")
        } else if host.starts_with("app.") || is_local(host) {
            format!("{scheme}://{authority}")
        } else {
            format!("{scheme}://app.{authority}")
        };
        Links { app }
    }

    /// The web app's origin (`https://app.circleci.com`).
    pub fn app(&self) -> &str {
        &self.app
    }

    /// A workflow's page.
    //
    // Links are built by pushing pieces, not with `format!`: a search maps
    // one per job (10,000 in the mapping benchmark), and `core::fmt` was a
    // twentieth of the component's time there.
    pub fn workflow(&self, slug: &str, pipeline_number: u64, workflow_id: &str) -> String {
        let (vcs, rest) = match slug.split_once('/') {
            Some((vcs, rest)) => (long_vcs(vcs), rest),
            None => ("", slug),
        };
        let mut url = String::with_capacity(self.app.len() + slug.len() + workflow_id.len() + 48);
        url.push_str(&self.app);
        url.push_str("/pipelines/");
        if !vcs.is_empty() {
            url.push_str(vcs);
            url.push('/');
        }
        url.push_str(rest);
        url.push('/');
        url.push_str(itoa::Buffer::new().format(pipeline_number));
        url.push_str("/workflows/");
        url.push_str(workflow_id);
        url
    }
}

/// A job's page, given its workflow's page.
pub fn job_of(workflow_url: &str, job_number: u64) -> String {
    let mut buf = itoa::Buffer::new();
    let number = buf.format(job_number);
    let mut url = String::with_capacity(workflow_url.len() + 6 + number.len());
    url.push_str(workflow_url);
    url.push_str("/jobs/");
    url.push_str(number);
    url
}

fn host_of(authority: &str) -> &str {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn is_local(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.contains(':')
        || (host.split('.').count() == 4 && host.split('.').all(|p| p.parse::<u8>().is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_links() {
        let l = Links::for_base("https://circleci.com/");
        assert_eq!(
            l.workflow("gh/coldgust/coldgust.github.io", 5, "6731159f"),
            "https://app.circleci.com/pipelines/github/coldgust/coldgust.github.io/5/workflows/6731159f"
        );
        assert_eq!(
            job_of(&l.workflow("bb/team/repo", 7, "w1"), 42),
            "https://app.circleci.com/pipelines/bitbucket/team/repo/7/workflows/w1/jobs/42"
        );
        assert_eq!(
            job_of(&l.workflow("gh/o/r", 3, "w"), 18446744073709551615),
            "https://app.circleci.com/pipelines/github/o/r/3/workflows/w/jobs/18446744073709551615"
        );
        assert_eq!(
            l.workflow("no-slash", 1, "w"),
            "https://app.circleci.com/pipelines/no-slash/1/workflows/w"
        );
        assert_eq!(
            l.workflow("circleci/ORG/PROJ", 1, "w"),
            "https://app.circleci.com/pipelines/circleci/ORG/PROJ/1/workflows/w"
        );
    }

    #[test]
    fn server_links_follow_the_base_url() {
        assert_eq!(
            Links::for_base("https://circleci.example.com").app(),
            "https://app.circleci.example.com"
        );
        assert_eq!(
            Links::for_base("https://app.ci.example.com").app(),
            "https://app.ci.example.com"
        );
        assert_eq!(
            Links::for_base("http://ci.internal:8080").app(),
            "http://app.ci.internal:8080"
        );
        assert_eq!(
            Links::for_base("http://127.0.0.1:4010").app(),
            "http://127.0.0.1:4010"
        );
        assert_eq!(
            Links::for_base("http://localhost:4010").app(),
            "http://localhost:4010"
        );
    }
}
