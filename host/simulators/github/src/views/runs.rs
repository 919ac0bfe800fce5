//! Runs, jobs and commits: `workflow-run`, `job`, `commit`, `nullable-simple-commit`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::account::{repo_minimal, simple_user};
use super::{Urls, derived_sha, node_id, ts};
use crate::model::{Account, Commit, Job, Repo, Run, Workflow};
use crate::scenario::{Index, Scenario};
use crate::timeline::{attempt_now, job_now, run_created_at, steps_now};

/// Everything a view needs besides the object itself.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The scenario.
    pub s: &'a Scenario,
    /// Its lookup tables.
    pub ix: &'a Index,
    /// Link roots.
    pub urls: &'a Urls,
}

impl<'a> Ctx<'a> {
    /// The account with this login; scenarios are validated, so it exists.
    pub fn account(&self, login: &str) -> &'a Account {
        self.ix.account(self.s, login).expect("validated login")
    }

    /// The commit with this full SHA in `repo`.
    pub fn commit(&self, repo: usize, sha: &str) -> Option<&'a Commit> {
        let list = &self.ix.commits_by_sha[repo];
        let i = list.binary_search_by(|(s, _)| s.as_str().cmp(sha)).ok()?;
        Some(&self.s.repos[repo].commits[list[i].1])
    }

    /// The workflow a run executes.
    pub fn workflow(&self, repo: usize, run: &Run) -> &'a Workflow {
        self.s.repos[repo]
            .workflows
            .iter()
            .find(|w| w.id == run.workflow_id)
            .expect("validated workflow")
    }
}

/// The check suite of a run (one per run; re-runs re-request it).
pub fn check_suite_id(run: &Run) -> u64 {
    run.id + 1_000_000_000_000
}

/// `nullable-simple-commit`: a run's `head_commit`.
pub fn head_commit(c: &Commit) -> Value {
    let person = json!({"name": c.author.name, "email": c.author.email});
    json!({
        "id": c.sha,
        "tree_id": derived_sha(&format!("tree:{}", c.sha)),
        "message": c.message,
        "timestamp": ts(c.timestamp),
        "author": person,
        "committer": person,
    })
}

/// Which view of a run to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunView {
    /// The run itself (list, `/runs/{id}`, webhooks): its latest visible attempt.
    Latest,
    /// `/runs/{id}/attempts/{n}`: that attempt, with attempt-specific links.
    Attempt,
}

/// `workflow-run` for attempt `n` (1-based) of `run`, as it is at `now`.
pub fn workflow_run(
    c: Ctx<'_>,
    repo: usize,
    run: &Run,
    n: usize,
    view: RunView,
    now: DateTime<Utc>,
) -> Value {
    let r: &Repo = &c.s.repos[repo];
    let full = r.full_name();
    let owner = c.account(&r.owner);
    let wf = c.workflow(repo, run);
    let attempt = &run.attempts[n - 1];
    let state = attempt_now(attempt, now);
    let api = format!("{}/actions/runs/{}", c.urls.repo_api(&full), run.id);
    let html = format!("{}/actions/runs/{}", c.urls.repo_html(&full), run.id);
    let (html_url, jobs_url, logs_url) = match view {
        RunView::Latest => (html, format!("{api}/jobs"), format!("{api}/logs")),
        RunView::Attempt => (
            format!("{html}/attempts/{n}"),
            format!("{api}/attempts/{n}/jobs"),
            format!("{api}/attempts/{n}/logs"),
        ),
    };
    let commit = c.commit(repo, &run.head_sha).expect("validated head_sha");
    let actor = simple_user(c.account(&run.actor), c.urls);
    let triggering = attempt
        .triggering_actor
        .as_deref()
        .map_or_else(|| actor.clone(), |l| simple_user(c.account(l), c.urls));
    let title = run
        .display_title
        .clone()
        .unwrap_or_else(|| commit.message.lines().next().unwrap_or_default().to_owned());
    let repository = repo_minimal(r, owner, c.urls);
    let csid = check_suite_id(run);
    json!({
        "id": run.id,
        "name": wf.name,
        "node_id": node_id("WorkflowRun", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": wf.path,
        "display_title": title,
        "run_number": run.run_number,
        "event": run.event,
        "status": state.status,
        "conclusion": state.conclusion,
        "workflow_id": wf.id,
        "check_suite_id": csid,
        "check_suite_node_id": node_id("CheckSuite", csid),
        "url": api,
        "html_url": html_url,
        "pull_requests": [],
        "created_at": ts(run_created_at(run)),
        "updated_at": ts(state.updated_at),
        "actor": actor,
        "run_attempt": n,
        "referenced_workflows": [],
        "run_started_at": ts(attempt.created_at),
        "triggering_actor": triggering,
        "jobs_url": jobs_url,
        "logs_url": logs_url,
        "check_suite_url": format!("{}/check-suites/{csid}", c.urls.repo_api(&full)),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "previous_attempt_url": (n > 1).then(|| format!("{api}/attempts/{}", n - 1)),
        "workflow_url": format!("{}/actions/workflows/{}", c.urls.repo_api(&full), wf.id),
        "head_commit": head_commit(commit),
        "repository": repository,
        "head_repository": repository,
        "head_repository_id": r.id,
    })
}

/// `job` for one job of attempt `n` of `run`, as it is at `now`.
pub fn job(c: Ctx<'_>, repo: usize, run: &Run, n: usize, j: &Job, now: DateTime<Utc>) -> Value {
    let r = &c.s.repos[repo];
    let full = r.full_name();
    let api = c.urls.repo_api(&full);
    let state = job_now(j, run.attempts[n - 1].created_at, now);
    let steps: Vec<Value> = steps_now(j, &state)
        .into_iter()
        .map(|s| {
            json!({
                "name": s.name, "status": s.status, "conclusion": s.conclusion, "number": s.number,
                "started_at": s.started_at.map(ts), "completed_at": s.completed_at.map(ts),
            })
        })
        .collect();
    let runner = |v: Value| if state.ran { v } else { Value::Null };
    json!({
        "id": j.id,
        "run_id": run.id,
        "workflow_name": c.workflow(repo, run).name,
        "head_branch": run.head_branch,
        "run_url": format!("{api}/actions/runs/{}", run.id),
        "run_attempt": n,
        "node_id": node_id("CheckRun", j.id),
        "head_sha": run.head_sha,
        "url": format!("{api}/actions/jobs/{}", j.id),
        "html_url": format!("{}/actions/runs/{}/job/{}", c.urls.repo_html(&full), run.id, j.id),
        "status": state.status,
        "conclusion": state.conclusion,
        "created_at": ts(state.created_at),
        "started_at": ts(state.started_at),
        "completed_at": state.completed_at.map(ts),
        "name": j.name,
        "steps": steps,
        "check_run_url": format!("{api}/check-runs/{}", j.id),
        "labels": j.labels,
        "runner_id": runner(json!(1 + j.id % 64)),
        "runner_name": runner(json!(format!("GitHub Actions {}", 1 + j.id % 64))),
        "runner_group_id": runner(json!(0)),
        "runner_group_name": runner(json!("GitHub Actions")),
    })
}

/// `commit`: `GET /repos/{owner}/{repo}/commits/{ref}`.
pub fn commit(c: Ctx<'_>, repo: usize, commit: &Commit) -> Value {
    let full = c.s.repos[repo].full_name();
    let api = c.urls.repo_api(&full);
    let html = c.urls.repo_html(&full);
    let person = json!({
        "name": commit.author.name, "email": commit.author.email, "date": ts(commit.timestamp),
    });
    let tree = derived_sha(&format!("tree:{}", commit.sha));
    let parents: Vec<Value> = commit
        .parents
        .iter()
        .map(|p| json!({"sha": p, "url": format!("{api}/commits/{p}"), "html_url": format!("{html}/commit/{p}")}))
        .collect();
    json!({
        "sha": commit.sha,
        "node_id": node_id("Commit", &commit.sha),
        "commit": {
            "author": person,
            "committer": person,
            "message": commit.message,
            "tree": {"sha": tree, "url": format!("{api}/git/trees/{tree}")},
            "url": format!("{api}/git/commits/{}", commit.sha),
            "comment_count": 0,
            "verification": {
                "verified": false, "reason": "unsigned", "signature": null, "payload": null,
                "verified_at": null,
            },
        },
        "url": format!("{api}/commits/{}", commit.sha),
        "html_url": format!("{html}/commit/{}", commit.sha),
        "comments_url": format!("{api}/commits/{}/comments", commit.sha),
        "author": null,
        "committer": null,
        "parents": parents,
        "stats": {"total": 0, "additions": 0, "deletions": 0},
        "files": [],
    })
}
