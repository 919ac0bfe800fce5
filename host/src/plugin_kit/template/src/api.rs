//! The provider's JSON, as its API sends it. Only the fields the plugin
//! reads are declared; serde ignores the rest, so a field the provider
//! adds later breaks nothing.

use serde::Deserialize;

/// `GET /api/me`.
#[derive(Debug, Deserialize)]
pub struct Me {
    /// Stable user id.
    pub id: String,
    /// User name.
    pub login: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /api/projects?page=N&per_page=M[&q=TEXT]`.
#[derive(Debug, Deserialize)]
pub struct Projects {
    /// This page.
    pub projects: Vec<ApiProject>,
    /// The next page's number, `null` on the last.
    pub next_page: Option<u32>,
}

/// One project.
#[derive(Debug, Deserialize)]
pub struct ApiProject {
    /// `owner/name`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The repository it builds.
    #[serde(default)]
    pub repo_url: Option<String>,
}

/// `GET /api/projects/{slug}/builds?page=N[&sha=SHA]`, newest first.
#[derive(Debug, Deserialize)]
pub struct Builds {
    /// This page.
    pub builds: Vec<ApiBuild>,
    /// The next page's number, `null` on the last.
    pub next_page: Option<u32>,
}

/// One build (a pipeline run).
#[derive(Debug, Deserialize)]
pub struct ApiBuild {
    /// Stable id.
    pub id: String,
    /// Its number in the project.
    #[serde(default)]
    pub number: Option<u64>,
    /// The pipeline's name.
    pub name: String,
    /// `queued`, `running`, `passed`, `failed`, `errored`, `canceled`,
    /// `blocked` or `skipped`.
    pub state: String,
    /// The commit it built.
    pub commit: String,
    /// The branch it built.
    #[serde(default)]
    pub branch: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once finished.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Its page.
    #[serde(default)]
    pub web_url: Option<String>,
    /// Re-runs of the same build count up from 1.
    #[serde(default)]
    pub attempt: Option<u32>,
    /// Its jobs.
    #[serde(default)]
    pub jobs: Vec<ApiJob>,
}

/// One job of a build.
#[derive(Debug, Deserialize)]
pub struct ApiJob {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// As a build's `state`.
    pub state: String,
    /// `build` (default) or `approval`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub started_at: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// An error body: `{"message": "..."}`.
#[derive(Debug, Deserialize)]
pub struct ApiError {
    /// What went wrong.
    pub message: String,
}
