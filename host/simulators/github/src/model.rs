//! Scenario data model: accounts, repositories, commits, workflow runs, attempts, jobs.
//!
//! A run is a list of attempts; each attempt has its own state, timeline and jobs, and
//! becomes visible when the clock passes its `created_at` (a re-run is simply a later
//! attempt). States are GitHub's words (`status` plus `conclusion` once `completed`);
//! [`crate::timeline`] computes what is served at a given instant.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Run and job statuses GitHub documents (`completed` needs a conclusion, the others none).
pub const STATUSES: &[&str] = &[
    "requested",
    "queued",
    "pending",
    "waiting",
    "in_progress",
    "completed",
];

/// Statuses a job may have: the job schema's enum.
pub const JOB_STATUSES: &[&str] = &[
    "queued",
    "in_progress",
    "completed",
    "waiting",
    "requested",
    "pending",
];

/// Conclusions of a completed run.
pub const RUN_CONCLUSIONS: &[&str] = &[
    "success",
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
    "stale",
    "startup_failure",
];

/// Conclusions of a completed job: the job schema's enum (no `stale`, no `startup_failure`).
pub const JOB_CONCLUSIONS: &[&str] = &[
    "success",
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
];

/// Whether an account is a person or an organisation (`type` in user objects).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountKind {
    /// A person; may hold tokens.
    #[default]
    User,
    /// An organisation; owns repositories, has members.
    Organization,
}

/// A GitHub account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    /// Numeric id.
    pub id: u64,
    /// Login (case-insensitive in paths, served as written).
    pub login: String,
    /// `User` or `Organization`.
    #[serde(default, rename = "type")]
    pub kind: AccountKind,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Public e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Personal access tokens that authenticate as this user (never served, never logged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
    /// Organisations only: logins of the members, who see every repository of the org.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Account creation time.
    pub created_at: DateTime<Utc>,
}

/// Author or committer of a commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GitPerson {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
}

/// A commit of a repository.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Commit {
    /// Full 40-hex SHA (lower case).
    pub sha: String,
    /// Commit message.
    pub message: String,
    /// Author.
    pub author: GitPerson,
    /// Commit time.
    pub timestamp: DateTime<Utc>,
    /// Parent SHAs.
    #[serde(default)]
    pub parents: Vec<String>,
}

/// A workflow file of a repository.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workflow {
    /// Numeric id.
    pub id: u64,
    /// Name (`name:` in the workflow file).
    pub name: String,
    /// Path, e.g. `.github/workflows/ci.yml`.
    pub path: String,
}

/// One status change on a timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// When it happens.
    pub at: DateTime<Utc>,
    /// New status.
    pub status: String,
    /// Conclusion, with `completed` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
}

/// A step of a job; its status and times follow the job's (see [`crate::timeline`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    /// Step name.
    pub name: String,
    /// Conclusion once the job completed; the job's conclusion when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
}

/// A job of one attempt.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// Numeric id, unique in the scenario (a re-run's jobs get new ids, as on GitHub).
    pub id: u64,
    /// Job name.
    pub name: String,
    /// Status at creation.
    pub status: String,
    /// Conclusion at creation (with `completed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    /// Creation time; the attempt's `created_at` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Start time; derived from the timeline when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// Completion time of a job created `completed`; derived otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Later status changes, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Transition>,
    /// Steps (served as `[]` when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// `runs-on` labels.
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
}

fn default_labels() -> Vec<String> {
    vec!["ubuntu-latest".into()]
}

/// One attempt of a run: the first execution or a re-run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attempt {
    /// When the attempt was requested; it is invisible before.
    pub created_at: DateTime<Utc>,
    /// Status at creation.
    pub status: String,
    /// Conclusion at creation (with `completed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    /// Later status changes, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Transition>,
    /// Who requested this attempt; the run's actor when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggering_actor: Option<String>,
    /// Jobs of this attempt.
    #[serde(default)]
    pub jobs: Vec<Job>,
}

/// A workflow run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Numeric id.
    pub id: u64,
    /// Id of the repository's workflow this run executes.
    pub workflow_id: u64,
    /// Run number (per workflow).
    pub run_number: u64,
    /// Triggering event (`push`, `pull_request`, `schedule`, ...).
    pub event: String,
    /// Branch; `null` for tags and some events.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// Full SHA of the commit; must be a commit of the repository.
    pub head_sha: String,
    /// Login of the account that triggered the run.
    pub actor: String,
    /// Title shown in the UI; the commit message's first line when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_title: Option<String>,
    /// Attempts, oldest first; at least one.
    pub attempts: Vec<Attempt>,
}

/// A repository.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Repo {
    /// Numeric id.
    pub id: u64,
    /// Owner login (an account of the scenario).
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// Private repositories are visible to the owner, collaborators and org members only.
    #[serde(default)]
    pub private: bool,
    /// Default branch.
    #[serde(default = "default_branch")]
    pub default_branch: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Logins of users with access besides the owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collaborators: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Commits (any order).
    #[serde(default)]
    pub commits: Vec<Commit>,
    /// Branch name to head SHA.
    #[serde(default)]
    pub branches: BTreeMap<String, String>,
    /// Workflow files.
    #[serde(default)]
    pub workflows: Vec<Workflow>,
    /// Workflow runs (any order; served newest first).
    #[serde(default)]
    pub runs: Vec<Run>,
}

fn default_branch() -> String {
    "main".into()
}

impl Repo {
    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}
