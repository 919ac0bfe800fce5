//! Lenient models of CircleCI's answers.
//!
//! Real payloads omit keys the OpenAPI document calls required (a whole
//! `vcs`, a job's `job_number` or `started_at`), and enum-like words keep
//! growing (trigger types), so everything but ids is optional and every
//! word is kept as a string.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess};
use serde_json::Value;

use crate::fields::{self, Field, ObjectReader};
use crate::items::{Item, ListRecord};

/// A pipeline (one trigger of a project).
#[derive(Debug, Clone, Deserialize)]
pub struct Pipeline {
    /// The pipeline's UUID.
    pub id: String,
    /// Its number within the project.
    #[serde(default)]
    pub number: Option<u64>,
    /// `gh/org/repo` style slug of its project.
    #[serde(default)]
    pub project_slug: Option<String>,
    /// When it was created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// CircleCI's pipeline state (`created`, `errored`, ...).
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
    /// The commit SHA built.
    #[serde(default)]
    pub revision: Option<String>,
    /// The branch, when triggered by a branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// The tag, when triggered by a tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// URL of the repository the change came from.
    #[serde(default)]
    pub origin_repository_url: Option<String>,
    /// URL of the repository built.
    #[serde(default)]
    pub target_repository_url: Option<String>,
    /// VCS provider (`GitHub`, `Bitbucket`, ...).
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
    /// The workflow's UUID.
    pub id: String,
    /// The workflow's name in the config.
    #[serde(default)]
    pub name: Option<String>,
    /// CircleCI's workflow status.
    #[serde(default)]
    pub status: Option<String>,
    /// UUID of its pipeline.
    #[serde(default)]
    pub pipeline_id: Option<String>,
    /// Number of its pipeline.
    #[serde(default)]
    pub pipeline_number: Option<u64>,
    /// Slug of its project.
    #[serde(default)]
    pub project_slug: Option<String>,
    /// When it was created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// When it stopped (RFC 3339), if it has.
    #[serde(default)]
    pub stopped_at: Option<String>,
    /// `setup` for a dynamic-config setup workflow, else absent.
    #[serde(default)]
    pub tag: Option<String>,
}

/// A job of a workflow's job list. Read only by its one-pass reader
/// ([`ListRecord::read_item`]): keys `id` (required), `name`,
/// `job_number` (alias `number`), `type`, `status`, `started_at`,
/// `stopped_at`; `null` is absent, unknown keys are ignored. In tests (and
/// with the `reference-readers` feature, for the fuzz targets) it also
/// derives serde's reader, the reference the one-pass reader is held to;
/// its `serde(...)` keys say the same as `JobKey`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(any(test, feature = "reference-readers"), derive(Deserialize))]
pub struct Job {
    /// The job's UUID.
    pub id: String,
    /// The job's name in the config.
    #[cfg_attr(any(test, feature = "reference-readers"), serde(default))]
    pub name: Option<String>,
    /// Absent for approval jobs and some canceled ones.
    #[cfg_attr(
        any(test, feature = "reference-readers"),
        serde(default, alias = "number")
    )]
    pub job_number: Option<u64>,
    /// `type`: `build` or `approval`.
    #[cfg_attr(
        any(test, feature = "reference-readers"),
        serde(default, rename = "type")
    )]
    pub kind: Option<String>,
    /// CircleCI's job status.
    #[cfg_attr(any(test, feature = "reference-readers"), serde(default))]
    pub status: Option<String>,
    /// When it started (RFC 3339).
    #[cfg_attr(any(test, feature = "reference-readers"), serde(default))]
    pub started_at: Option<String>,
    /// When it stopped (RFC 3339).
    #[cfg_attr(any(test, feature = "reference-readers"), serde(default))]
    pub stopped_at: Option<String>,
}

impl ListRecord for Job {
    /// One pass: jobs are the bulk of every search (20 a workflow), and
    /// finding each item's end before parsing it was about a fifth of the
    /// component's mapping time. Reads exactly what serde's derived reader
    /// would (the tests compare the two), except that an array is not
    /// taken for a job.
    fn read_item<'de, D: Deserializer<'de>>(d: D) -> Result<Item<Job>, D::Error> {
        Ok(fields::object(d, JobFields)?.map_or_else(Item::Malformed, Item::Read))
    }
}

/// The keys of a job that are read; `number` is an alias of `job_number`.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum JobKey {
    Id,
    Name,
    JobNumber,
    Number,
    Type,
    Status,
    StartedAt,
    StoppedAt,
    #[serde(other)]
    Other,
}

struct JobFields;

impl<'de> ObjectReader<'de> for JobFields {
    type Record = Job;
    const NAME: &'static str = "struct Job";

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Result<Job, String>, A::Error> {
        let (mut id, mut name, mut number, mut kind) = (None, None, None, None);
        let (mut status, mut started_at, mut stopped_at) = (None, None, None);
        let mut problem = None;
        while let Some(key) = map.next_key::<JobKey>()? {
            let p = &mut problem;
            match key {
                JobKey::Id => map
                    .next_value::<Field<String>>()?
                    .into_optional("id", &mut id, p),
                JobKey::Name => map
                    .next_value::<Field<_>>()?
                    .into_optional("name", &mut name, p),
                JobKey::JobNumber | JobKey::Number => {
                    map.next_value::<Field<_>>()?
                        .into_optional("job_number", &mut number, p)
                }
                JobKey::Type => map
                    .next_value::<Field<_>>()?
                    .into_optional("type", &mut kind, p),
                JobKey::Status => {
                    map.next_value::<Field<_>>()?
                        .into_optional("status", &mut status, p)
                }
                JobKey::StartedAt => {
                    map.next_value::<Field<_>>()?
                        .into_optional("started_at", &mut started_at, p)
                }
                JobKey::StoppedAt => {
                    map.next_value::<Field<_>>()?
                        .into_optional("stopped_at", &mut stopped_at, p)
                }
                JobKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(problem) = problem {
            return Ok(Err(problem));
        }
        let id = match id {
            Some(Some(id)) => id,
            Some(None) => return Ok(Err("invalid type: null, expected a string for `id`".into())),
            None => return Ok(Err("missing field `id`".into())),
        };
        Ok(Ok(Job {
            id,
            name: name.flatten(),
            job_number: number.flatten(),
            kind: kind.flatten(),
            status: status.flatten(),
            started_at: started_at.flatten(),
            stopped_at: stopped_at.flatten(),
        }))
    }
}

macro_rules! in_two_passes {
    ($($record:ty),*) => {$(
        impl ListRecord for $record {
            fn read_item<'de, D: Deserializer<'de>>(d: D) -> Result<Item<Self>, D::Error> {
                crate::items::read_in_two_passes(d)
            }
        }
    )*};
}

// Read by the tens: the derived readers, kept for their nested fields.
in_two_passes!(Pipeline, Workflow, V1Project);

/// `GET /api/v2/me`.
#[derive(Debug, Deserialize)]
pub struct Me {
    /// The user's UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// The user's login.
    #[serde(default)]
    pub login: Option<String>,
    /// The user's display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Set instead of the rest when CircleCI refuses ("You must log in first.").
    #[serde(default)]
    pub message: Option<String>,
}

/// An item of v1.1 `GET /api/v1.1/projects` (followed projects).
#[derive(Debug, Deserialize)]
pub struct V1Project {
    /// Repository URL.
    #[serde(default)]
    pub vcs_url: Option<String>,
    /// VCS type (`github`, `bitbucket`).
    #[serde(default)]
    pub vcs_type: Option<String>,
    /// The organisation.
    #[serde(default)]
    pub username: Option<String>,
    /// The repository's name.
    #[serde(default)]
    pub reponame: Option<String>,
}

/// An item of `GET /api/v2/me/collaborations` (an organisation).
#[derive(Debug, Deserialize)]
pub struct Collaboration {
    /// The organisation's slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// The organisation's name.
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

    /// The one-pass job reader against serde's derived one, item by item:
    /// the same job, or malformed for both.
    #[test]
    fn one_pass_jobs_read_what_the_derived_reader_reads() {
        let items = [
            r#"{"id":"j","name":"build","job_number":7,"type":"build","status":"success","started_at":"2024-01-01T00:00:00Z","stopped_at":null,"extra":{"a":[1,{"b":null}]}}"#,
            r#"{"id":"j","number":8}"#,
            r#"{"id":"caf\u00e9","name":"a \"quoted\" name\n"}"#,
            r#"{"name":"no id"}"#,
            r#"{"id":null}"#,
            r#"{"id":5}"#,
            r#"{"id":"j","job_number":-1}"#,
            r#"{"id":"j","job_number":1.5}"#,
            r#"{"id":"j","job_number":"7"}"#,
            r#"{"id":"j","status":["success"]}"#,
            r#"{"id":"j","name":{"first":"x"}}"#,
            r#"{"id":"j","started_at":true}"#,
            r#"{"id":"j","id":"k"}"#,
            r#"{"id":"j","job_number":1,"number":2}"#,
            r#"{}"#,
            r#""text""#,
            r#"7"#,
            r#"null"#,
            r#"{"id":"j","type":"approval","approval_request_id":"r"}"#,
        ];
        let body = format!(
            r#"{{"items":[{}],"next_page_token":null}}"#,
            items.join(",")
        );
        let page: crate::items::Page<Job> = crate::items::from_body(body.as_bytes()).unwrap();
        assert_eq!(page.items.len(), items.len());
        for (text, item) in items.iter().zip(page.items) {
            match (serde_json::from_str::<Job>(text), item) {
                (Ok(derived), Item::Read(one_pass)) => assert_eq!(derived, one_pass, "{text}"),
                (Err(_), Item::Malformed(_)) => {}
                (derived, one_pass) => panic!("{text}: derived {derived:?}, one pass {one_pass:?}"),
            }
        }
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
