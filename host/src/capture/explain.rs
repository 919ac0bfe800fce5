//! Words for people: why a snapshot has no builds, or why it failed.

use buildsnap_domain::{SearchReport, StopReason};

/// What the search looked at, in one clause.
pub fn searched(report: &SearchReport) -> String {
    let pages = if report.pages_fetched == 1 {
        "1 page".to_string()
    } else {
        format!("{} pages", report.pages_fetched)
    };
    let back_to = match &report.oldest_searched {
        Some(t) => format!(" back to {t}"),
        None => String::new(),
    };
    let why = match &report.stopped_because {
        StopReason::Horizon => "the search horizon was reached".to_string(),
        StopReason::EndOfHistory => "that is the project's whole pipeline history".to_string(),
        StopReason::NotBefore => "older pipelines are outside the search window".to_string(),
        StopReason::PastMatches => "no older pipeline of the commit followed".to_string(),
        StopReason::PageLoop => "the provider repeated a page".to_string(),
        StopReason::FilterExhausted => {
            "the provider filtered by the commit and every result was read".to_string()
        }
        StopReason::FilterCap => {
            "the provider lists no more results for one commit, so older builds may exist"
                .to_string()
        }
        StopReason::Other(other) => format!("stopped: {other}"),
    };
    format!(
        "searched the {} most recent pipeline{} ({pages}){back_to}; {why}",
        report.pipelines_searched,
        if report.pipelines_searched == 1 {
            ""
        } else {
            "s"
        },
    )
}

fn without_commit(report: &SearchReport) -> String {
    match report.without_commit {
        0 => String::new(),
        1 => "; 1 pipeline had no commit data (for example an errored pipeline without `vcs`), so the commit may be that one"
            .into(),
        n => format!(
            "; {n} pipelines had no commit data (for example errored pipelines without `vcs`), so the commit may be among them"
        ),
    }
}

/// No pipeline of `project` built `sha`.
pub fn not_found(provider: &str, project: &str, sha: &str, report: &SearchReport) -> String {
    format!(
        "not found: no {provider} pipeline of project {project} built commit {sha}: {}{}",
        searched(report),
        without_commit(report)
    )
}

/// Builds of the commit on other branches, left out by the code
/// deployment's branch rule.
pub fn other_branches(branch: &str, left_out: &[buildsnap_domain::IndexedBuild]) -> String {
    let mut names: Vec<&str> = left_out
        .iter()
        .map(|b| {
            b.branch
                .as_deref()
                .or(b.tag.as_deref().map(|_| "a tag"))
                .unwrap_or("no branch")
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    let n = left_out.len();
    format!(
        "{n} build{} of other branches ({}) left out: this code deployment takes builds of branch {branch} only.",
        if n == 1 { "" } else { "s" },
        names.join(", ")
    )
}

/// The commit's builds all started after the deploy.
pub fn all_after(
    provider: &str,
    project: &str,
    sha: &str,
    count: usize,
    as_of: &str,
    report: Option<&SearchReport>,
) -> String {
    format!(
        "no build existed at deploy time: the {count} {provider} build{} of commit {sha} in project {project} \
         {} created after {as_of}, so none is part of the snapshot{}",
        if count == 1 { "" } else { "s" },
        if count == 1 { "was" } else { "were" },
        report
            .map(|r| format!(" ({})", searched(r)))
            .unwrap_or_default()
    )
}

/// A short SHA that matches several commits.
pub fn ambiguous(sha: &str, project: &str, candidates: &[String]) -> String {
    format!(
        "ambiguous commit: {sha} is a prefix of {} commits built in project {project} ({}); register the deploy \
         with the full SHA",
        candidates.len(),
        candidates.join(", ")
    )
}

/// The project is unknown to the provider or not visible to the token.
pub fn not_accessible(provider: &str, project: &str, message: &str) -> String {
    format!(
        "project not accessible: {provider} does not show project {project} to this integration's token ({message}); \
         check the code deployment's build_project and the token's access"
    )
}

/// The provider rejected the stored token.
pub fn unauthorized(provider: &str, message: &str) -> String {
    format!(
        "the {provider} integration's token was rejected ({message}); the integration now needs attention: \
         enable it again with a valid token"
    )
}

/// No project slug could be derived.
pub fn no_project(provider: &str, repo_url: &str) -> String {
    format!(
        "no build project: {provider} cannot derive a project from repository URL {repo_url}; set the code \
         deployment's build_project"
    )
}

/// The capture gave up after transient errors.
pub fn gave_up(attempts: u32, last: &str) -> String {
    format!("gave up after {attempts} attempts; last error: {last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(stop: &str, without: u32) -> SearchReport {
        SearchReport {
            pipelines_searched: 6,
            pages_fetched: 1,
            oldest_searched: Some("2025-06-01T10:00:00Z".into()),
            stopped_because: stop.into(),
            without_commit: without,
        }
    }

    #[test]
    fn not_found_says_what_was_searched_and_why() {
        let m = not_found(
            "circleci",
            "gh/acme/api",
            "abcdef1",
            &report("end-of-history", 0),
        );
        assert!(m.starts_with("not found:"), "{m}");
        for part in [
            "gh/acme/api",
            "abcdef1",
            "6 most recent pipelines",
            "1 page",
            "back to 2025-06-01T10:00:00Z",
            "whole pipeline history",
        ] {
            assert!(m.contains(part), "{part}: {m}");
        }
        let m = not_found("circleci", "gh/acme/api", "abcdef1", &report("horizon", 2));
        assert!(
            m.contains("horizon was reached") && m.contains("2 pipelines had no commit data"),
            "{m}"
        );
    }
}
