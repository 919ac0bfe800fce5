//! `resolve-sha` and `builds-for-commit`.
//!
//! GitHub filters runs by commit (`head_sha`), but only by the full SHA: a
//! prefix matches nothing. The host therefore asks [`resolve_sha`] first
//! (`GET /repos/{o}/{r}/commits/{prefix}`) and then [`builds_for_commit`]
//! with the full SHA, which reads the filtered run list 100 at a time,
//! following `Link: rel="next"`, down to the horizon or GitHub's 1,000-result
//! cap on filtered lists.

use std::collections::HashSet;

use crate::client::Client;
use crate::fetch::{repo_path, runs_to_builds};
use crate::links;
use crate::model::{Commit, Run, RunList};
use crate::slug::parse_project;
use crate::time::parse_ms;
use crate::transport::Transport;
use crate::wit::{
    CallContext, CommitBuilds, CommitQuery, ProviderError, SearchReport, ShaResolution, StopReason,
    UpstreamError,
};

/// GitHub's largest page.
pub const PER_PAGE: u32 = 100;

/// GitHub lists at most this many results of a filtered run list.
pub const FILTER_CAP: u64 = 1000;

/// The project's owner and repository, or a clear error.
pub fn project(project: &str) -> Result<(String, String), ProviderError> {
    parse_project(project).ok_or_else(|| {
        ProviderError::NotFound(format!(
            "{project:?} is not a GitHub repository: the project must be owner/repo"
        ))
    })
}

/// True for hex of the given lengths.
fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit a prefix names. GitHub answers 422 ("No commit found for SHA")
/// or 404 when none does; both mean `not-found`.
pub fn resolve_sha(
    t: &dyn Transport,
    ctx: &CallContext,
    project_slug: &str,
    prefix: &str,
) -> Result<ShaResolution, ProviderError> {
    let (owner, repo) = project(project_slug)?;
    let prefix = prefix.trim().to_ascii_lowercase();
    if !is_hex(&prefix) || !(4..=64).contains(&prefix.len()) {
        return Err(ProviderError::Other(format!(
            "{prefix:?} is not a commit SHA or a prefix of one (4 to 64 hex digits)"
        )));
    }
    let client = Client::new(t, ctx);
    let url = client.url(&format!("{}/commits/{prefix}", repo_path(&owner, &repo)));
    match client.get_json::<Commit>(url, false) {
        Ok((c, _)) => {
            let sha = c.sha.to_ascii_lowercase();
            if is_hex(&sha) && sha.starts_with(&prefix) && matches!(sha.len(), 40 | 64) {
                Ok(ShaResolution::Full(sha))
            } else {
                Err(ProviderError::InvalidResponse(format!(
                    "GitHub resolved {prefix} to {sha:?}, which is not a full SHA starting with it"
                )))
            }
        }
        Err(ProviderError::NotFound(_)) => Ok(ShaResolution::NotFound),
        Err(ProviderError::Upstream(UpstreamError { status: 422, .. })) => {
            Ok(ShaResolution::NotFound)
        }
        Err(e) => Err(e),
    }
}

/// A run-list query string piece, percent-encoded where GitHub's values
/// need it (branch names may hold `/`, `+`, `#`).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every build (attempt) of every run of the commit, newest first.
pub fn builds_for_commit(
    t: &dyn Transport,
    ctx: &CallContext,
    query: &CommitQuery,
) -> Result<CommitBuilds, ProviderError> {
    let (owner, repo) = project(&query.project)?;
    let sha = query.sha.trim().to_ascii_lowercase();
    if !is_hex(&sha) {
        return Err(ProviderError::Other(format!("{sha:?} is not a commit SHA")));
    }
    let client = Client::new(t, ctx);
    let path = repo_path(&owner, &repo);
    let mut first = format!(
        "{path}/actions/runs?head_sha={sha}&per_page={PER_PAGE}&exclude_pull_requests=true"
    );
    if let Some(branch) = &query.branch {
        first.push_str("&branch=");
        first.push_str(&encode(branch));
    }
    let not_before = query.horizon.not_before.as_deref().and_then(parse_ms);
    let max = query.horizon.max_pipelines as usize;

    let mut runs: Vec<Run> = Vec::new();
    let mut report = SearchReport {
        pipelines_searched: 0,
        pages_fetched: 0,
        oldest_searched: None,
        stopped_because: StopReason::FilterExhausted,
        without_commit: 0,
    };
    let mut seen = HashSet::new();
    let mut next = Some(client.url(&first));
    let mut total = 0u64;
    'pages: while let Some(url) = next.take() {
        if !seen.insert(url.clone()) {
            report.stopped_because = StopReason::PageLoop;
            break;
        }
        let (page, resp): (RunList, _) = client.get_json(url, false)?;
        report.pages_fetched += 1;
        total = page.total_count;
        for run in page.workflow_runs {
            if runs.len() >= max {
                report.stopped_because = StopReason::Horizon;
                break 'pages;
            }
            if let (Some(limit), Some(created)) = (not_before, parse_ms(&run.created_at))
                && created < limit
            {
                report.stopped_because = StopReason::NotBefore;
                break 'pages;
            }
            report.pipelines_searched += 1;
            report.oldest_searched = Some(run.created_at.clone());
            // GitHub filtered by the SHA; a run of another commit would be
            // its bug, not ours to show.
            if run.head_sha.eq_ignore_ascii_case(&sha) {
                runs.push(run);
            }
        }
        next = links::next(&resp.headers);
    }
    if report.stopped_because == StopReason::FilterExhausted
        && total > FILTER_CAP
        && u64::from(report.pipelines_searched) >= FILTER_CAP
    {
        report.stopped_because = StopReason::FilterCap;
    }
    let builds = runs_to_builds(&client, &path, runs, false)?;
    Ok(CommitBuilds { builds, report })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("feature/a+b #1"), "feature%2Fa%2Bb%20%231");
        assert_eq!(encode("main"), "main");
        assert_eq!(
            encode(">=2025-06-01T12:00:00Z"),
            "%3E%3D2025-06-01T12%3A00%3A00Z"
        );
    }
}
