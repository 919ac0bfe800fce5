//! Repository routes: commits, workflow runs, attempts and jobs.

use serde_json::{Value, json};

use super::{ApiResponse, DOCS_ROOT, Req, decode, route_of};
use crate::model::{Job, Run};
use crate::query::{DateRange, Paging, param};
use crate::timeline::{attempt_now, job_created_at, job_now, run_created_at, visible_attempts};
use crate::views::runs::{RunView, check_suite_id, commit, job, workflow_run};

/// With any filter, GitHub stops a run list at this many results.
pub const FILTERED_RESULTS_CAP: usize = 1000;

/// Documentation link GitHub puts in error bodies of a route.
pub fn docs(route: &str) -> &'static str {
    match route {
        "/repos/{owner}/{repo}/commits/{ref}" => {
            "https://docs.github.com/rest/commits/commits#get-a-commit"
        }
        "/repos/{owner}/{repo}/actions/runs" => {
            "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository"
        }
        "/repos/{owner}/{repo}/actions/runs/{run_id}" => {
            "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run"
        }
        "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}" => {
            "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run-attempt"
        }
        "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs" => {
            "https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run"
        }
        "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs" => {
            "https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run-attempt"
        }
        _ => DOCS_ROOT,
    }
}

/// Serves `/repos/{owner}/{repo}/...` for a repository the client may see.
pub fn handle(req: &Req<'_>, ri: usize, rest: &[&str]) -> ApiResponse {
    let docs = route_of(req.path).map_or(DOCS_ROOT, docs);
    match rest {
        ["commits", r @ ..] if !r.is_empty() => get_commit(req, ri, &decode(&r.join("/"))),
        ["actions", "runs"] => list_runs(req, ri),
        ["actions", "runs", id, tail @ ..] => {
            let Some((run, visible)) = find_run(req, ri, id) else {
                return ApiResponse::not_found(docs);
            };
            match tail {
                [] => one_run(req, ri, run, visible, RunView::Latest),
                ["jobs"] => run_jobs(req, ri, run, visible, docs),
                ["attempts", n, more @ ..] => {
                    let Some(n) = n.parse::<usize>().ok().filter(|&n| n >= 1 && n <= visible)
                    else {
                        return ApiResponse::not_found(docs);
                    };
                    match more {
                        [] => one_run(req, ri, run, n, RunView::Attempt),
                        ["jobs"] => {
                            let jobs = visible_jobs(req, run, n).map(|j| (n, j)).collect();
                            jobs_page(req, ri, run, jobs)
                        }
                        _ => ApiResponse::not_found(DOCS_ROOT),
                    }
                }
                _ => ApiResponse::not_found(DOCS_ROOT),
            }
        }
        _ => ApiResponse::not_found(DOCS_ROOT),
    }
}

fn find_run<'s>(req: &Req<'s>, ri: usize, id: &str) -> Option<(&'s Run, usize)> {
    let sh = req.sh;
    let &(r, q) = sh.index.runs.get(&id.parse::<u64>().ok()?)?;
    let run = &sh.scenario.repos[r].runs[q];
    let visible = visible_attempts(run, req.now);
    (r == ri && visible > 0).then_some((run, visible))
}

/// Resolves a ref the way GitHub does for this route: a full or abbreviated SHA (at least
/// four hex digits, matching exactly one commit), or a branch (`main`, `heads/main`).
fn get_commit(req: &Req<'_>, ri: usize, reference: &str) -> ApiResponse {
    let c = req.sh.ctx();
    let docs = docs("/repos/{owner}/{repo}/commits/{ref}");
    let lower = reference.to_ascii_lowercase();
    let mut found = None;
    if (4..=40).contains(&lower.len()) && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        let list = &c.ix.commits_by_sha[ri];
        let from = list.partition_point(|(s, _)| s.as_str() < lower.as_str());
        let matching: Vec<usize> = list[from..]
            .iter()
            .take_while(|(s, _)| s.starts_with(&lower))
            .map(|&(_, i)| i)
            .collect();
        if matching.len() > 1 {
            // Ambiguous abbreviations are refused like unknown ones.
            return ApiResponse::invalid_commit(reference, docs);
        }
        found = matching.first().copied();
    }
    let repo = &c.s.repos[ri];
    if found.is_none() {
        let branch = reference
            .strip_prefix("refs/heads/")
            .or_else(|| reference.strip_prefix("heads/"))
            .unwrap_or(reference);
        found = repo
            .branches
            .get(branch)
            .and_then(|sha| repo.commits.iter().position(|k| &k.sha == sha));
    }
    match found {
        Some(i) => {
            let k = &repo.commits[i];
            ApiResponse::json(200, &commit(c, ri, k)).modified(Some(k.timestamp))
        }
        None => ApiResponse::invalid_commit(reference, docs),
    }
}

impl ApiResponse {
    /// 422 `No commit found for SHA: <ref>`.
    fn invalid_commit(reference: &str, docs: &str) -> Self {
        Self::error(422, &format!("No commit found for SHA: {reference}"), docs)
    }
}

/// Values `status=` accepts: the parameter's enum in the description.
const STATUS_FILTERS: &[&str] = &[
    "completed",
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "skipped",
    "stale",
    "success",
    "timed_out",
    "in_progress",
    "queued",
    "requested",
    "waiting",
    "pending",
];

fn list_runs(req: &Req<'_>, ri: usize) -> ApiResponse {
    let sh = req.sh;
    let q = req.query;
    let docs = docs("/repos/{owner}/{repo}/actions/runs");
    let filter = |name| param(q, name).filter(|v| !v.is_empty());
    let (actor, branch, event, status, head_sha) = (
        filter("actor"),
        filter("branch"),
        filter("event"),
        filter("status"),
        filter("head_sha"),
    );
    if status
        .as_deref()
        .is_some_and(|s| !STATUS_FILTERS.contains(&s))
    {
        return ApiResponse::invalid("WorkflowRun", "status", docs);
    }
    let created = match filter("created").map(|c| DateRange::parse(&c)) {
        None => None,
        Some(Some(r)) => Some(r),
        Some(None) => return ApiResponse::invalid("WorkflowRun", "created", docs),
    };
    let check_suite = match filter("check_suite_id").map(|v| v.parse::<u64>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return ApiResponse::invalid("WorkflowRun", "check_suite_id", docs),
    };
    let filtered = actor.is_some()
        || branch.is_some()
        || event.is_some()
        || status.is_some()
        || head_sha.is_some()
        || created.is_some()
        || check_suite.is_some();
    let repo = &sh.scenario.repos[ri];
    let matching: Vec<(&Run, usize)> = sh.index.newest_first[ri]
        .iter()
        .map(|&i| &repo.runs[i])
        .filter_map(|run| {
            let n = visible_attempts(run, req.now);
            let state = attempt_now(run.attempts.get(n.checked_sub(1)?)?, req.now);
            let ok = actor.as_ref().is_none_or(|a| a.eq_ignore_ascii_case(&run.actor))
                && branch.as_ref().is_none_or(|b| run.head_branch.as_ref() == Some(b))
                && event.as_ref().is_none_or(|e| *e == run.event)
                // Exact match: an abbreviated SHA matches nothing, as on GitHub.
                && head_sha.as_ref().is_none_or(|h| *h == run.head_sha)
                && check_suite.is_none_or(|id| id == check_suite_id(run))
                && created.as_ref().is_none_or(|c| c.contains(run_created_at(run)))
                && status.as_ref().is_none_or(|s| s == state.status || Some(s.as_str()) == state.conclusion);
            ok.then_some((run, n))
        })
        .collect();
    let reachable = if filtered {
        matching.len().min(FILTERED_RESULTS_CAP)
    } else {
        matching.len()
    };
    let paging = Paging::from_query(q);
    let page = &matching[paging.range(reachable)];
    let c = sh.ctx();
    let runs: Vec<Value> = page
        .iter()
        .map(|&(run, n)| workflow_run(c, ri, run, n, RunView::Latest, req.now))
        .collect();
    let modified = page
        .iter()
        .map(|&(run, n)| attempt_now(&run.attempts[n - 1], req.now).updated_at)
        .max();
    ApiResponse::json(
        200,
        &json!({"total_count": matching.len(), "workflow_runs": runs}),
    )
    .modified(modified)
    .link(paging.link(&req.url(), q, reachable))
}

fn one_run(req: &Req<'_>, ri: usize, run: &Run, n: usize, view: RunView) -> ApiResponse {
    let body = workflow_run(req.sh.ctx(), ri, run, n, view, req.now);
    let modified = attempt_now(&run.attempts[n - 1], req.now).updated_at;
    ApiResponse::json(200, &body).modified(Some(modified))
}

fn visible_jobs<'s>(req: &Req<'_>, run: &'s Run, n: usize) -> impl Iterator<Item = &'s Job> {
    let a = &run.attempts[n - 1];
    let now = req.now;
    a.jobs
        .iter()
        .filter(move |j| job_created_at(j, a.created_at) <= now)
}

fn run_jobs(req: &Req<'_>, ri: usize, run: &Run, visible: usize, docs: &str) -> ApiResponse {
    let all = match param(req.query, "filter").as_deref() {
        None | Some("") | Some("latest") => false,
        Some("all") => true,
        Some(_) => return ApiResponse::invalid("Job", "filter", docs),
    };
    let attempts = if all { 1..=visible } else { visible..=visible };
    let jobs = attempts
        .flat_map(|n| visible_jobs(req, run, n).map(move |j| (n, j)))
        .collect();
    jobs_page(req, ri, run, jobs)
}

fn jobs_page(req: &Req<'_>, ri: usize, run: &Run, jobs: Vec<(usize, &Job)>) -> ApiResponse {
    let paging = Paging::from_query(req.query);
    let page = &jobs[paging.range(jobs.len())];
    let c = req.sh.ctx();
    let body: Vec<Value> = page
        .iter()
        .map(|&(n, j)| job(c, ri, run, n, j, req.now))
        .collect();
    let modified = page
        .iter()
        .map(|&(n, j)| job_now(j, run.attempts[n - 1].created_at, req.now).updated_at)
        .max();
    ApiResponse::json(200, &json!({"total_count": jobs.len(), "jobs": body}))
        .modified(modified)
        .link(paging.link(&req.url(), req.query, jobs.len()))
}
