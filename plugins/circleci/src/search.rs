//! `builds-for-commit`: every build of a project for one commit.
//!
//! CircleCI has no lookup by commit, so the project's pipeline list (newest
//! first, 20 a page) is read page by page and each pipeline's commit compared.
//!
//! # Stopping rule
//!
//! Paging stops at the first of:
//! 1. `horizon`: `max-pipelines` pipelines have been looked at;
//! 2. `not-before`: a pipeline created before `horizon.not-before` (it is
//!    not looked at, and neither is anything older);
//! 3. `end-of-history`: the last page (no `next_page_token`, or an empty page);
//! 4. `page-loop`: CircleCI handed back a page token it had already given;
//! 5. `past-matches`: at least one pipeline has matched and a whole page
//!    has since been read without a new match.
//!
//! Rule 5 is the economy bound: when a commit's pipelines are contiguous
//! in the list (the usual case: pushes, re-triggers and tags of a commit
//! arrive together), the pipeline pages read are those down to the page of
//! the oldest match, plus one. The price: a match separated from the next
//! newer match by more than a full page of other pipelines (say the commit
//! re-triggered days later) is not found. Without any match, only rules 1-4
//! apply, so an empty answer always means the whole horizon was searched.
//!
//! # Matching
//!
//! A pipeline's commit is `vcs.revision`, else the SHA in
//! `trigger_parameters` (`git.checkout_sha`, `github_app.commit_sha`,
//! `gitlab.checkout_sha`). It matches when the asked SHA is equal to it or
//! a prefix of it, ignoring case. A short SHA may match pipelines of two
//! different commits: all of them are returned, each build carrying its
//! full `sha`, and the host decides what an ambiguous prefix means.

use crate::api::{Pipeline, is_sha};
use crate::client::{Api, parse_json, with_query};
use crate::fetch::builds_for_pipelines;
use crate::items::{Page, keep_read};
use crate::links::Links;
use crate::logging::{debug, warn};
use crate::mapping::PipelineInfo;
use crate::slug;
use crate::time::rfc3339_millis;
use crate::transport::Transport;
use crate::wit::{CallContext, CommitBuilds, CommitQuery, ProviderError, SearchReport, StopReason};

/// Every build of `query.project` for `query.sha`, newest first.
pub fn builds_for_commit(
    transport: &dyn Transport,
    ctx: &CallContext,
    query: &CommitQuery,
) -> Result<CommitBuilds, ProviderError> {
    let sha = query.sha.trim().to_ascii_lowercase();
    if !is_sha(&sha) {
        return Err(ProviderError::Other(format!(
            "not a commit SHA (7 to 40 hex characters): {:?}",
            query.sha
        )));
    }
    // Refused here, before any request: it goes into the URL path.
    let project =
        slug::parse(&query.project).map_err(|e| ProviderError::NotFound(e.to_string()))?;
    let api = Api::new(transport, ctx);
    let scan = scan_pipelines(&api, &project, query, &sha)?;
    let links = Links::for_base(api.base());
    let builds = builds_for_pipelines(&api, &links, &project, &scan.matches, false)?;
    Ok(CommitBuilds {
        builds,
        report: scan.report,
    })
}

/// The pipelines list's path for `project`.
pub fn pipelines_path(project: &str) -> String {
    format!("/api/v2/project/{}/pipeline", slug::url_path(project))
}

struct Scan {
    matches: Vec<PipelineInfo>,
    report: SearchReport,
}

fn scan_pipelines(
    api: &Api,
    project: &str,
    query: &CommitQuery,
    sha: &str,
) -> Result<Scan, ProviderError> {
    let horizon = &query.horizon;
    let not_before = horizon.not_before.as_deref().and_then(|t| {
        let ms = rfc3339_millis(t);
        if ms.is_none() {
            warn(&format!("ignoring unreadable not-before {t:?}"));
        }
        ms
    });
    let path = pipelines_path(project);
    let mut report = SearchReport {
        pipelines_searched: 0,
        pages_fetched: 0,
        oldest_searched: None,
        // Overwritten when paging stops.
        stopped_because: StopReason::EndOfHistory,
        without_commit: 0,
    };
    let mut matches: Vec<PipelineInfo> = Vec::new();
    let mut seen_tokens = std::collections::HashSet::new();
    let mut token: Option<String> = None;

    let stopped = 'paging: loop {
        if report.pipelines_searched >= horizon.max_pipelines {
            break StopReason::Horizon;
        }
        let req = api.get(&with_query(
            &path,
            &[
                ("branch", query.branch.as_deref()),
                ("page-token", token.as_deref()),
            ],
        ));
        let resp = api.send(&req).map_err(|e| match e {
            ProviderError::NotFound(m) => ProviderError::NotFound(format!(
                "CircleCI project {project} does not exist or this token cannot see it ({m})"
            )),
            e => e,
        })?;
        let page: Page<Pipeline> = parse_json(&resp.body, &req.url)?;
        report.pages_fetched += 1;
        let item_count = page.items.len();
        let pipelines = keep_read(page.items, "pipeline", &req.url);
        // A malformed item was looked at and its commit could not be read.
        let malformed = (item_count - pipelines.len()) as u32;
        report.pipelines_searched += malformed;
        report.without_commit += malformed;

        let mut matched_on_page = false;
        for p in pipelines {
            if report.pipelines_searched >= horizon.max_pipelines {
                break 'paging StopReason::Horizon;
            }
            let created = p.created_at.as_deref().and_then(rfc3339_millis);
            if let (Some(created), Some(limit)) = (created, not_before)
                && created < limit
            {
                break 'paging StopReason::NotBefore;
            }
            report.pipelines_searched += 1;
            if p.created_at.is_some() {
                report.oldest_searched = p.created_at.clone();
            }
            match PipelineInfo::from_api(&p) {
                None => report.without_commit += 1,
                Some(info) if info.sha.starts_with(sha) => {
                    debug(&format!(
                        "pipeline {} (#{:?}) built {}",
                        info.id, info.number, info.sha
                    ));
                    matched_on_page = true;
                    matches.push(info);
                }
                Some(_) => {}
            }
        }
        if !matches.is_empty() && !matched_on_page {
            break StopReason::PastMatches;
        }
        match page.next_page_token.filter(|t| !t.is_empty()) {
            None => break StopReason::EndOfHistory,
            Some(_) if item_count == 0 => break StopReason::EndOfHistory,
            Some(t) if !seen_tokens.insert(t.clone()) => {
                warn(&format!(
                    "{path} repeated a page token after {} pages; stopped",
                    report.pages_fetched
                ));
                break StopReason::PageLoop;
            }
            Some(t) => token = Some(t),
        }
    };
    report.stopped_because = stopped;
    Ok(Scan { matches, report })
}
