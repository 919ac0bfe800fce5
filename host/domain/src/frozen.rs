//! Builds and jobs as a snapshot shows them: the `<build>` objects of
//! `<snapshot>.builds`, made by [`crate::freeze`].
//!
//! These are stored as JSON text and served as stored, so their serialised
//! form is a contract: fields are declared in alphabetical order (the order
//! the text had when it was built from `serde_json` maps, which sort keys),
//! and `jobs_complete` appears only when it is `false`. A new field goes in
//! at its alphabetical place.

use serde::{Deserialize, Serialize};

use crate::{JobKind, Status};

/// A job of a frozen build, as of the snapshot's `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenJob {
    /// Provider's id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// Job number, where the provider has one.
    pub number: Option<i64>,
    /// The provider's word when `status` is the job's current status, else
    /// the buildsnap word.
    pub provider_status: String,
    /// Start time, if it had started by `as_of`.
    pub started_at: Option<String>,
    /// Its status at `as_of`.
    pub status: Status,
    /// Stop time, if it had stopped by `as_of`.
    pub stopped_at: Option<String>,
    /// Build, approval, or the provider's own word.
    #[serde(rename = "type")]
    pub kind: JobKind,
    /// Browser link.
    pub url: Option<String>,
}

/// A build of a snapshot (`<build>`), as of the snapshot's `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenBuild {
    /// Which attempt of the provider's run this is (1 for the first). Not
    /// serialised when 1, so a first attempt's text is what it was before
    /// attempts existed (stored snapshots stay byte-identical to new ones).
    #[serde(default = "first_attempt", skip_serializing_if = "is_first_attempt")]
    pub attempt: u32,
    /// Branch built.
    pub branch: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Provider's build id.
    pub id: String,
    /// Its jobs at `as_of`, in the provider's order.
    pub jobs: Vec<FrozenJob>,
    /// `false` when the job list could not be read in full (for example the
    /// provider deleted it under its retention policy); not serialised when
    /// `true`, which is the usual case.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub jobs_complete: bool,
    /// Build (workflow) name.
    pub name: String,
    /// The build that started this one, when the provider says; not
    /// serialised when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Pipeline (trigger) id.
    pub pipeline_id: String,
    /// Pipeline number.
    pub pipeline_number: Option<i64>,
    /// The provider's word when `status` is the build's current status,
    /// else the buildsnap word.
    pub provider_status: String,
    /// Full commit SHA.
    pub sha: String,
    /// Its status at `as_of`.
    pub status: Status,
    /// Stop time, if it had stopped by `as_of`.
    pub stopped_at: Option<String>,
    /// Tag built.
    pub tag: Option<String>,
    /// Browser link.
    pub url: Option<String>,
}

/// The attempt of a record that does not say: the first.
pub(crate) fn first_attempt() -> u32 {
    1
}

fn is_first_attempt(n: &u32) -> bool {
    *n == 1
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}
