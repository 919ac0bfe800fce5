//! Lenient models of CircleCI's answers.
//!
//! Real payloads omit keys the OpenAPI document calls required (a whole
//! `vcs`, a job's `job_number` or `started_at`), and enum-like words keep
//! growing (trigger types), so everything but ids is optional and every
//! word is kept as a string.

use serde::Deserialize;
use serde_json::Value;

/// A pipeline (one trigger of a project).
#[derive(Debug, Clone, Deserialize)]
pub struct Pipeline {
    pub id: String,
    #[serde(default)]
    pub number: Option<u64>,
    #[serde(default)]
    pub project_slug: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// Nested objects in reality (`git.checkout_sha`, `github_app.commit_sha`).
    #[serde(default)]
    pub trigger_parameters: Option<Value>,
    /// Absent on errored pipelines and possibly on GitHub App projects.
    #[serde(default)]
    pub vcs: Option<Vcs>,
}

/// A pipeline's `vcs` map.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Vcs {
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub origin_repository_url: Option<String>,
    #[serde(default)]
    pub target_repository_url: Option<String>,
    #[serde(default)]
    pub provider_name: Option<String>,
}

impl Pipeline {
    /// The full commit SHA built, lower-case: `vcs.revision`, else the SHA
    /// that GitHub App / GitLab / errored pipelines carry in
    /// `trigger_parameters`. None when there is no hex SHA anywhere.
    pub fn sha(&self) -> Option<String> {
        let from_vcs = self.vcs.as_ref().and_then(|v| v.revision.as_deref());
        let from_params = || {
            [
                ("git", "checkout_sha"),
                ("github_app", "commit_sha"),
                ("gitlab", "checkout_sha"),
            ]
            .iter()
            .find_map(|(group, key)| self.trigger_param(group, key).filter(|s| is_sha(s)))
        };
        from_vcs
            .filter(|s| is_sha(s))
            .or_else(from_params)
            .map(|s| s.trim().to_ascii_lowercase())
    }

    /// The branch built, from `vcs` or else `trigger_parameters`.
    pub fn branch(&self) -> Option<String> {
        non_empty(self.vcs.as_ref().and_then(|v| v.branch.as_deref()))
            .or_else(|| non_empty(self.trigger_param("git", "branch")))
            .or_else(|| non_empty(self.trigger_param("github_app", "branch")))
    }

    /// The tag built, from `vcs` or else `trigger_parameters`.
    pub fn tag(&self) -> Option<String> {
        non_empty(self.vcs.as_ref().and_then(|v| v.tag.as_deref()))
            .or_else(|| non_empty(self.trigger_param("git", "tag")))
    }

    fn trigger_param(&self, group: &str, key: &str) -> Option<&str> {
        self.trigger_parameters
            .as_ref()?
            .get(group)?
            .get(key)?
            .as_str()
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// 7 to 40 hex digits.
pub fn is_sha(s: &str) -> bool {
    let s = s.trim();
    (7..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A workflow (a buildsnap build).
#[derive(Debug, Clone, Deserialize)]
pub struct Workflow {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub pipeline_id: Option<String>,
    #[serde(default)]
    pub pipeline_number: Option<u64>,
    #[serde(default)]
    pub project_slug: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub stopped_at: Option<String>,
}

/// A job of a workflow's job list.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Absent for approval jobs and some canceled ones.
    #[serde(default, alias = "number")]
    pub job_number: Option<u64>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub stopped_at: Option<String>,
}

/// `GET /api/v2/me`.
#[derive(Debug, Deserialize)]
pub struct Me {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Set instead of the rest when CircleCI refuses ("You must log in first.").
    #[serde(default)]
    pub message: Option<String>,
}

/// An item of v1.1 `GET /api/v1.1/projects` (followed projects).
#[derive(Debug, Deserialize)]
pub struct V1Project {
    #[serde(default)]
    pub vcs_url: Option<String>,
    #[serde(default)]
    pub vcs_type: Option<String>,
    /// The organisation.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub reponame: Option<String>,
}

/// An item of `GET /api/v2/me/collaborations` (an organisation).
#[derive(Debug, Deserialize)]
pub struct Collaboration {
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// The OpenAPI document says `vcs-type`; real answers say `vcs_type`.
    #[serde(default, alias = "vcs-type")]
    pub vcs_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_from_vcs_or_trigger_parameters() {
        let p: Pipeline = serde_json::from_str(
            r#"{"id":"a","vcs":{"revision":"ABCDEF0123456789abcdef0123456789abcdef01","branch":"main"}}"#,
        )
        .unwrap();
        assert_eq!(
            p.sha().as_deref(),
            Some("abcdef0123456789abcdef0123456789abcdef01")
        );
        assert_eq!(p.branch().as_deref(), Some("main"));
        assert_eq!(p.tag(), None);

        let p: Pipeline = serde_json::from_str(
            r#"{"id":"b","trigger_parameters":{"github_app":{"commit_sha":"1111111111111111111111111111111111111111","branch":"dev"}}}"#,
        )
        .unwrap();
        assert_eq!(
            p.sha().as_deref(),
            Some("1111111111111111111111111111111111111111")
        );
        assert_eq!(p.branch().as_deref(), Some("dev"));

        let p: Pipeline = serde_json::from_str(r#"{"id":"c","vcs":{"revision":""},"trigger_parameters":{"git":{"checkout_sha":"not-a-sha"}}}"#).unwrap();
        assert_eq!(p.sha(), None);
    }

    #[test]
    fn collaboration_accepts_both_key_spellings() {
        let a: Collaboration =
            serde_json::from_str(r#"{"vcs_type":"github","slug":"gh/x"}"#).unwrap();
        let b: Collaboration =
            serde_json::from_str(r#"{"vcs-type":"github","slug":"gh/x"}"#).unwrap();
        assert_eq!(a.vcs_type.as_deref(), Some("github"));
        assert_eq!(b.vcs_type.as_deref(), Some("github"));
    }
}
