//! GitHub's REST and webhook payloads, as far as the plugin reads them.
//!
//! Field names are GitHub's (`workflow-run`, `job`, `commit`,
//! `private-user`, `repository` in its OpenAPI description). Everything the
//! mapping does not need is left out, and anything GitHub documents as
//! nullable is an `Option`, so a field GitHub adds or nulls never fails a
//! page.

use serde::Deserialize;

/// `GET /user`: the token's owner (`private-user`).
#[derive(Debug, Deserialize)]
pub struct User {
    /// Stable across renames.
    pub id: u64,
    /// The login.
    pub login: String,
    /// The display name; GitHub sends null when the user set none.
    #[serde(default)]
    pub name: Option<String>,
}

/// One repository of `GET /user/repos` (`repository`).
#[derive(Debug, Deserialize)]
pub struct Repo {
    /// `owner/repo`, the build project's slug.
    pub full_name: String,
    /// The repository's name without its owner.
    pub name: String,
    /// The repository's page, e.g. `https://github.com/acme/api`.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// `GET /repos/{o}/{r}/actions/runs` (and its `head_sha` / `created`
/// filtered forms).
#[derive(Debug, Deserialize)]
pub struct RunList {
    /// Every run matching the filter, including those past GitHub's
    /// 1,000-result cap on filtered lists.
    pub total_count: u64,
    /// This page's runs, newest first.
    pub workflow_runs: Vec<Run>,
}

/// One workflow run (`workflow-run`). In a run list and in `/runs/{id}` it
/// describes the newest attempt; `/runs/{id}/attempts/{n}` describes
/// attempt `n`.
#[derive(Debug, Clone, Deserialize)]
pub struct Run {
    /// The run id, shared by all attempts.
    pub id: u64,
    /// The workflow's name (null for some dynamic workflows).
    #[serde(default)]
    pub name: Option<String>,
    /// The branch (or tag) the run was for.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// The commit built, full hex.
    pub head_sha: String,
    /// The run's number people see.
    pub run_number: u64,
    /// Which attempt this object describes, from 1.
    #[serde(default)]
    pub run_attempt: Option<u32>,
    /// `queued`, `in_progress`, `completed`, `waiting`, `requested`,
    /// `pending`.
    #[serde(default)]
    pub status: Option<String>,
    /// Set once completed: `success`, `failure`, `cancelled`, ...
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The run's page (the attempt's page for `/attempts/{n}`).
    pub html_url: String,
    /// When the run was created (its first attempt).
    pub created_at: String,
    /// When the run (this attempt) last changed.
    pub updated_at: String,
    /// When this attempt started.
    #[serde(default)]
    pub run_started_at: Option<String>,
    /// The repository the run belongs to (webhooks use it for the project).
    #[serde(default)]
    pub repository: Option<RepoRef>,
}

/// The part of `minimal-repository` the plugin reads.
#[derive(Debug, Clone, Deserialize)]
pub struct RepoRef {
    /// `owner/repo`.
    pub full_name: String,
}

/// `GET /repos/{o}/{r}/actions/runs/{id}/jobs`.
#[derive(Debug, Deserialize)]
pub struct JobList {
    /// Jobs matching the filter.
    pub total_count: u64,
    /// This page's jobs.
    pub jobs: Vec<GhJob>,
}

/// One job (`job`).
#[derive(Debug, Clone, Deserialize)]
pub struct GhJob {
    /// The job id, unique across runs.
    pub id: u64,
    /// The run it belongs to.
    pub run_id: u64,
    /// The attempt of the run it belongs to.
    #[serde(default)]
    pub run_attempt: Option<u32>,
    /// The commit built.
    pub head_sha: String,
    /// `queued`, `in_progress`, `completed`, `waiting`, `requested`,
    /// `pending`.
    pub status: String,
    /// Set once completed.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// When it started (GitHub fills it with the creation time while
    /// queued).
    #[serde(default)]
    pub started_at: Option<String>,
    /// When it completed.
    #[serde(default)]
    pub completed_at: Option<String>,
    /// The job's name.
    pub name: String,
    /// Its page.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// `GET /repos/{o}/{r}/commits/{ref}` (`commit`): only the SHA is read.
#[derive(Debug, Deserialize)]
pub struct Commit {
    /// The full SHA.
    pub sha: String,
}

/// An error body (`basic-error`): GitHub's message.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    /// E.g. `Bad credentials`.
    #[serde(default)]
    pub message: Option<String>,
}

/// A `workflow_run` webhook payload.
#[derive(Debug, Deserialize)]
pub struct WorkflowRunEvent {
    /// `requested`, `in_progress`, `completed`.
    pub action: String,
    /// The run, as of the event (its newest attempt).
    pub workflow_run: Run,
    /// The repository.
    pub repository: RepoRef,
}

/// A `workflow_job` webhook payload.
#[derive(Debug, Deserialize)]
pub struct WorkflowJobEvent {
    /// `queued`, `in_progress`, `completed`, `waiting`.
    pub action: String,
    /// The job, as of the event.
    pub workflow_job: GhJob,
    /// The repository.
    pub repository: RepoRef,
}
