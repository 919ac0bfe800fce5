//! Builds and jobs as the local index holds them now: what the capture
//! worker, the sync loop and webhooks store, and what [`crate::freeze`]
//! turns into a snapshot.
//!
//! Timestamps are RFC 3339 UTC text (normalised when the host maps the
//! plugin's records); one the host could not read is kept as given, and
//! freezing then treats it as absent. `Deserialize` is there for fixtures
//! and tests that describe index records as JSON.

use serde::Deserialize;

use crate::{JobKind, Status};

/// One job of an indexed build.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexedJob {
    /// Provider's id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// Job number, where the provider has one.
    pub number: Option<i64>,
    /// Build, approval, or the provider's own word.
    pub kind: JobKind,
    /// Its status now.
    pub status: Status,
    /// The provider's own word for it.
    pub provider_status: String,
    /// Start time.
    pub started_at: Option<String>,
    /// Stop time.
    pub stopped_at: Option<String>,
    /// Browser link.
    pub url: Option<String>,
}

/// One job's news from a webhook (GitHub `workflow_job`): the job replaces
/// the one with its id in the build the index holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobUpdate {
    /// The build the job belongs to (`IndexedBuild::id`).
    pub build_id: String,
    /// That build's commit, full and lower-case.
    pub sha: String,
    /// The job as it is now.
    pub job: IndexedJob,
}

/// One indexed build (a CircleCI workflow, a GitHub Actions run attempt).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexedBuild {
    /// Provider's build id.
    pub id: String,
    /// Provider project (normalised slug).
    pub project: String,
    /// Build (workflow) name.
    pub name: String,
    /// Its status now.
    pub status: Status,
    /// The provider's own word for it.
    pub provider_status: String,
    /// Browser link.
    pub url: Option<String>,
    /// Pipeline (trigger) id.
    pub pipeline_id: String,
    /// Pipeline number.
    pub pipeline_number: Option<i64>,
    /// Which attempt of the provider's run this is: 1 for the first, 2 for
    /// its first re-run (GitHub `run_attempt`). Absent in older records: 1.
    #[serde(default = "crate::frozen::first_attempt")]
    pub attempt: u32,
    /// The build that started this one (a GitLab parent pipeline, a
    /// CircleCI setup workflow), when the provider says.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Full commit SHA, lower-case.
    pub sha: String,
    /// Branch built.
    pub branch: Option<String>,
    /// Tag built.
    pub tag: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Stop time.
    pub stopped_at: Option<String>,
    /// Whether `jobs` is the whole job list.
    pub jobs_complete: bool,
    /// Jobs, in the provider's order.
    pub jobs: Vec<IndexedJob>,
    /// When this build was first stored (set by the store; ignored on write).
    #[serde(default)]
    pub first_seen: Option<String>,
    /// When the provider last showed it to us (set by the store; ignored on write).
    #[serde(default)]
    pub last_seen: Option<String>,
}
