//! Scenario data model: what a scenario file contains.
//!
//! Only fields the simulator reasons about are typed. Everything else a real
//! response carries (`tag`, `canceled_by`, `approval_request_id`, ...) lives in
//! the `extra` maps and is served back verbatim, so recordings round-trip
//! without the model having to know every key CircleCI ever added.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::timestamp::Timestamp;

/// Keys not modelled explicitly; served back unchanged.
pub type Extra = Map<String, Value>;

/// An organisation (what `/me/collaborations` lists).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Org {
    /// Organisation UUID.
    pub id: String,
    /// Display name, e.g. `acme`.
    pub name: String,
    /// Org slug: `gh/acme`, `bb/acme` or `circleci/<org-id>`.
    pub slug: String,
    /// `github`, `bitbucket` or `circleci`; derived from the slug when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcs_type: Option<String>,
    /// Avatar URL served in collaborations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// A CircleCI user and the personal API tokens that authenticate as them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    /// User UUID (also used as workflow `started_by`).
    pub id: String,
    /// VCS login.
    pub login: String,
    /// Display name.
    pub name: String,
    /// Slugs of the orgs this user collaborates with; grants access to their projects.
    #[serde(default)]
    pub orgs: Vec<String>,
    /// Personal API tokens.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Project slugs the user follows (v1.1 `/projects`); `None` = every accessible classic project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followed: Option<Vec<String>>,
}

/// A project-scoped API token. CircleCI v2 rejects these: `/me` answers 401,
/// project endpoints answer 404 (circleci-api.md §1).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectToken {
    /// The token value.
    pub token: String,
    /// Slug of the project it belongs to.
    pub project: String,
}

/// A project with its pipelines.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Project {
    /// Project UUID.
    pub id: String,
    /// Canonical short slug (`gh/org/repo`, `bb/org/repo`, `circleci/<org-id>/<project-id>`).
    pub slug: String,
    /// Project name (repository name).
    pub name: String,
    /// Slug of the owning org.
    pub org: String,
    /// Repository URL (`vcs_info.vcs_url`).
    pub vcs_url: String,
    /// Default branch.
    #[serde(default = "default_branch")]
    pub default_branch: String,
    /// `GitHub`, `Bitbucket` or `CircleCI`; derived from the slug when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Pipelines, any order (served newest first by number).
    #[serde(default)]
    pub pipelines: Vec<Pipeline>,
    /// Extra keys for the `GET /project/{slug}` body.
    #[serde(default, flatten)]
    pub extra: Extra,
}

fn default_branch() -> String {
    "main".to_owned()
}

/// A pipeline. `project_slug` is derived from the owning project.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pipeline {
    /// Pipeline UUID.
    pub id: String,
    /// Per-project number.
    pub number: i64,
    /// Creation state (`created`, `errored`, `pending`, ...). Not a build result.
    pub state: String,
    /// Creation time; the pipeline is invisible while the clock is before it.
    pub created_at: Timestamp,
    /// Optional `updated_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Pipeline errors (`{type, message}`).
    #[serde(default)]
    pub errors: Vec<PipelineError>,
    /// Trigger summary; `type` is an open set in reality.
    pub trigger: Trigger,
    /// Nested trigger parameters (may carry the SHA when `vcs` is missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_parameters: Option<Value>,
    /// VCS block; absent for some real pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcs: Option<Vcs>,
    /// Scripted `state` changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Transition>,
    /// Workflows of this pipeline.
    #[serde(default)]
    pub workflows: Vec<Workflow>,
    /// Unmodelled keys.
    #[serde(default, flatten)]
    pub extra: Extra,
}

impl Pipeline {
    /// The commit the pipeline ran on: `vcs.revision`, or for a pipeline
    /// without a `vcs` block (some real ones) the trigger parameters'
    /// `git.checkout_sha`, where CircleCI puts it then.
    pub fn sha(&self) -> Option<String> {
        self.vcs.as_ref().map(|v| v.revision.clone()).or_else(|| {
            self.trigger_parameters
                .as_ref()
                .and_then(|t| t["git"]["checkout_sha"].as_str().map(str::to_string))
        })
    }
}

/// One entry of a pipeline's `errors`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PipelineError {
    /// Error type, e.g. `config-fetch`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable message.
    pub message: String,
}

/// Pipeline trigger summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trigger {
    /// `webhook`, `api`, `explicit`, `scheduled_pipeline`, or anything real CircleCI invents.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the trigger was received (may be the 1970 epoch placeholder).
    pub received_at: Timestamp,
    /// Who triggered it.
    pub actor: Actor,
    /// Unmodelled keys.
    #[serde(default, flatten)]
    pub extra: Extra,
}

/// Trigger actor; `avatar_url` is always present, possibly `null`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Actor {
    /// VCS login (may be empty).
    pub login: String,
    /// Avatar URL or null.
    pub avatar_url: Option<String>,
}

/// Pipeline `vcs` block.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vcs {
    /// `GitHub` in the REST API.
    pub provider_name: String,
    /// Origin repository (the fork for fork PRs).
    pub origin_repository_url: String,
    /// Target repository.
    pub target_repository_url: String,
    /// The built commit SHA.
    pub revision: String,
    /// Branch (exclusive with `tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag (exclusive with `branch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Unmodelled keys (`commit`, `review_id`, ...).
    #[serde(default, flatten)]
    pub extra: Extra,
}

/// A workflow. `pipeline_id`, `pipeline_number` and `project_slug` are derived.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workflow {
    /// Workflow UUID.
    pub id: String,
    /// Name; not unique within a pipeline (re-runs reuse it).
    pub name: String,
    /// Status before any timeline entry applies.
    pub status: String,
    /// Creation time (seconds precision in reality).
    pub created_at: Timestamp,
    /// Stop time; served as `null` while running.
    #[serde(default)]
    pub stopped_at: Option<Timestamp>,
    /// UUID of the user who started it.
    pub started_by: String,
    /// Scripted status changes (status X until `at`, then `status`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Transition>,
    /// Jobs of this workflow.
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// Unmodelled keys (`tag`, `canceled_by`, `errored_by`).
    #[serde(default, flatten)]
    pub extra: Extra,
}

/// A job as listed by `GET /workflow/{id}/job`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// Job UUID.
    pub id: String,
    /// Job number; absent for approval jobs and some cancelled jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_number: Option<i64>,
    /// Job name.
    pub name: String,
    /// `build` or `approval`.
    #[serde(rename = "type", default = "default_job_type")]
    pub kind: String,
    /// Status before any timeline entry applies.
    pub status: String,
    /// Start time; `null` for queued/blocked jobs.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// Stop time; the key is absent (not null) while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Timestamp>,
    /// Creation time (present in 2023 recordings, absent in 2020 ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Ids of jobs this one depends on.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Scripted status changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Transition>,
    /// Unmodelled keys (`approved_by`, `approval_request_id`, `requires`, ...).
    #[serde(default, flatten)]
    pub extra: Extra,
}

fn default_job_type() -> String {
    "build".to_owned()
}

/// "From `at` on, the status is `status`." Entries are applied in time order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transition {
    /// Simulated time at which the change happens.
    pub at: Timestamp,
    /// New status (or pipeline state).
    pub status: String,
}

/// Workflow statuses after which nothing changes any more.
pub fn workflow_is_terminal(status: &str) -> bool {
    matches!(
        status,
        "success" | "failed" | "error" | "canceled" | "unauthorized" | "not_run"
    )
}

/// Job statuses after which nothing changes any more.
pub fn job_is_terminal(status: &str) -> bool {
    matches!(
        status,
        "success"
            | "failed"
            | "canceled"
            | "unauthorized"
            | "not_run"
            | "infrastructure_fail"
            | "timedout"
            | "terminated-unknown"
            | "retried"
    )
}

/// Job statuses in which a job has not started yet (`started_at` is null).
pub fn job_is_waiting(status: &str) -> bool {
    matches!(status, "queued" | "not_running" | "blocked" | "on_hold")
}

/// Workflow statuses that emit `workflow-completed` (CircleCI webhook docs).
pub fn workflow_fires_webhook(status: &str) -> bool {
    matches!(
        status,
        "success" | "failed" | "error" | "canceled" | "unauthorized"
    )
}

/// Job statuses that emit `job-completed` (CircleCI webhook docs).
pub fn job_fires_webhook(status: &str) -> bool {
    matches!(status, "success" | "failed" | "canceled" | "unauthorized")
}
