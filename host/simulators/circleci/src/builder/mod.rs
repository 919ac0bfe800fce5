//! Building scenarios in Rust.
//!
//! ```
//! use circleci_sim::Scenario;
//! use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec};
//! let s = Scenario::builder()
//!     .clock_start("2025-01-01T12:00:00Z")
//!     .user("alice", "token-alice")
//!     .project("gh/acme/api")
//!     .pipeline(PipelineSpec::new(1).branch("main").workflow(
//!         WorkflowSpec::new("build").status("running").then_at(300, "success")
//!             .job(JobSpec::new("test").status("running").then_at(290, "success")),
//!     ))
//!     .build()
//!     .unwrap();
//! assert_eq!(s.projects[0].pipelines.len(), 1);
//! ```
//! Times are relative to the clock start: a pipeline defaults to a few minutes
//! before it, `then_at(secs, status)` fires `secs` after it. Ids are stable
//! UUIDs derived from the slug and position, so tests can compute them.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::ScenarioError;
use crate::faults::FaultRule;
use crate::model::{
    Actor, Job, Org, Pipeline, Project, ProjectToken, Transition, Trigger, User, Vcs, Workflow,
};
use crate::model::{job_is_terminal, job_is_waiting, workflow_is_terminal};
use crate::scenario::{ClockSpec, Scenario};
use crate::slug;
use crate::timestamp::{Precision, Timestamp};
use crate::webhooks::WebhookConfig;

mod specs;

pub use specs::{JobSpec, WorkflowSpec};

/// A UUID (v4 layout) derived from `key`; the same key always gives the same id.
pub fn stable_uuid(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let bytes: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A 40-hex pseudo commit SHA derived from `key`.
pub fn stable_sha(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..40].to_owned()
}

/// Default clock start for built scenarios.
pub const DEFAULT_START: &str = "2025-01-01T12:00:00Z";

/// Fluent scenario builder; see the module docs.
#[derive(Default)]
pub struct ScenarioBuilder {
    s: Scenario,
    start: Option<Timestamp>,
    current: Option<usize>,
    pending: Vec<(usize, PipelineSpec)>,
}

impl ScenarioBuilder {
    /// Sets the simulated start time (RFC 3339). Panics on bad input: builder misuse is a test bug.
    pub fn clock_start(mut self, t: &str) -> Self {
        self.start = Some(Timestamp::parse(t).expect("clock_start must be RFC 3339"));
        self
    }

    /// Lets the clock follow real time.
    pub fn clock_running(mut self, running: bool) -> Self {
        self.s.clock.running = running;
        self
    }

    /// Adds an org (`gh/acme`, `bb/acme`, `circleci/<org-id>`).
    pub fn org(mut self, org_slug: &str) -> Self {
        self.ensure_org(&slug::canonical(org_slug));
        self
    }

    fn ensure_org(&mut self, org_slug: &str) {
        if self.s.orgs.iter().any(|o| o.slug == org_slug) {
            return;
        }
        let name = org_slug.rsplit('/').next().unwrap_or(org_slug).to_owned();
        self.s.orgs.push(Org {
            id: stable_uuid(&format!("org:{org_slug}")),
            avatar_url: Some(format!("https://avatars.githubusercontent.com/{name}")),
            name,
            slug: org_slug.to_owned(),
            vcs_type: None,
        });
    }

    /// Adds a user with one personal token; they collaborate with every org of the scenario.
    pub fn user(self, login: &str, token: &str) -> Self {
        self.user_in(login, token, &[])
    }

    /// Adds a user with access to the listed orgs only (empty = every org).
    pub fn user_in(mut self, login: &str, token: &str, orgs: &[&str]) -> Self {
        for o in orgs {
            self.ensure_org(&slug::canonical(o));
        }
        self.s.users.push(User {
            id: stable_uuid(&format!("user:{login}")),
            login: login.to_owned(),
            name: login.to_owned(),
            orgs: orgs.iter().map(|o| slug::canonical(o)).collect(),
            tokens: vec![token.to_owned()],
            followed: None,
        });
        // An empty org list means "every org" and is filled in by `build`.
        self
    }

    /// Adds a project token (v2 rejects it).
    pub fn project_token(mut self, token: &str, project_slug: &str) -> Self {
        self.s.project_tokens.push(ProjectToken {
            token: token.to_owned(),
            project: slug::canonical(project_slug),
        });
        self
    }

    /// Adds a project (creating its org) and makes it the target of `pipeline`.
    pub fn project(mut self, project_slug: &str) -> Self {
        let canonical = slug::canonical(project_slug);
        let mut parts = canonical.splitn(3, '/');
        let (vcs, org, repo) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let org_slug = format!("{vcs}/{org}");
        self.ensure_org(&org_slug);
        let vcs_url = match vcs {
            "gh" => format!("https://github.com/{org}/{repo}"),
            "bb" => format!("https://bitbucket.org/{org}/{repo}"),
            _ => format!("//circleci.com/{org}/{repo}"),
        };
        self.s.projects.push(Project {
            id: stable_uuid(&format!("project:{canonical}")),
            name: repo.to_owned(),
            slug: canonical,
            org: org_slug,
            vcs_url,
            default_branch: "main".into(),
            provider: None,
            pipelines: Vec::new(),
            extra: Default::default(),
        });
        self.current = Some(self.s.projects.len() - 1);
        self
    }

    /// Adds a pipeline to the most recent project.
    pub fn pipeline(mut self, p: PipelineSpec) -> Self {
        let project = self.current.expect("call .project() before .pipeline()");
        self.pending.push((project, p));
        self
    }

    /// Adds a webhook subscription.
    pub fn webhook(mut self, c: WebhookConfig) -> Self {
        self.s.webhooks.push(c);
        self
    }

    /// Adds a fault active from the start.
    pub fn fault(mut self, f: FaultRule) -> Self {
        self.s.faults.push(f);
        self
    }

    /// Marks a workflow as deleted by data retention.
    pub fn expire_workflow(mut self, id: &str) -> Self {
        self.s.expired_workflows.push(id.to_owned());
        self
    }

    /// Materialises the scenario and validates it.
    pub fn build(mut self) -> Result<Scenario, ScenarioError> {
        let start = self
            .start
            .clone()
            .unwrap_or_else(|| Timestamp::parse(DEFAULT_START).expect("valid"));
        self.s.clock = ClockSpec {
            start: Some(start.clone()),
            running: self.s.clock.running,
        };
        let all_orgs: Vec<String> = self.s.orgs.iter().map(|o| o.slug.clone()).collect();
        for u in &mut self.s.users {
            if u.orgs.is_empty() {
                u.orgs = all_orgs.clone();
            }
        }
        let started_by = self
            .s
            .users
            .first()
            .map_or_else(|| stable_uuid("user:nobody"), |u| u.id.clone());
        let pending = std::mem::take(&mut self.pending);
        // Pipelines default to one minute apart, the highest number ending one minute before start.
        let max_of = |pi: usize| {
            pending
                .iter()
                .filter(|(p, _)| *p == pi)
                .map(|(_, s)| s.number)
                .max()
                .unwrap_or(0)
        };
        // Job numbers count up per project in insertion order, like CircleCI's build numbers.
        let mut next_job = vec![1i64; self.s.projects.len()];
        for (pi, spec) in pending.clone() {
            let project = &self.s.projects[pi];
            let max = max_of(pi);
            let pipeline = spec.materialise(
                project,
                start.instant(),
                max,
                &started_by,
                &mut next_job[pi],
            );
            self.s.projects[pi].pipelines.push(pipeline);
        }
        self.s.normalise();
        self.s.validate()?;
        Ok(self.s)
    }
}

/// A pipeline to add; unspecified fields get realistic defaults.
#[derive(Clone, Debug)]
pub struct PipelineSpec {
    number: i64,
    branch: Option<String>,
    tag: Option<String>,
    revision: Option<String>,
    created_at: Option<String>,
    state: String,
    trigger_type: String,
    vcs: bool,
    errors: Vec<(String, String)>,
    workflows: Vec<WorkflowSpec>,
}

impl PipelineSpec {
    /// Pipeline number `n` on the default branch `main`.
    pub fn new(number: i64) -> Self {
        Self {
            number,
            branch: Some("main".into()),
            tag: None,
            revision: None,
            created_at: None,
            state: "created".into(),
            trigger_type: "webhook".into(),
            vcs: true,
            errors: Vec::new(),
            workflows: Vec::new(),
        }
    }
    /// Branch (clears any tag).
    pub fn branch(mut self, b: &str) -> Self {
        self.branch = Some(b.into());
        self.tag = None;
        self
    }
    /// Tag (clears the branch, as CircleCI's `vcs` has one or the other).
    pub fn tag(mut self, t: &str) -> Self {
        self.tag = Some(t.into());
        self.branch = None;
        self
    }
    /// Commit SHA (default: derived from slug and number).
    pub fn revision(mut self, sha: &str) -> Self {
        self.revision = Some(sha.into());
        self
    }
    /// Exact `created_at` (RFC 3339; served verbatim).
    pub fn created_at(mut self, t: &str) -> Self {
        self.created_at = Some(t.into());
        self
    }
    /// Pipeline state (`created`, `errored`, ...).
    pub fn state(mut self, s: &str) -> Self {
        self.state = s.into();
        self
    }
    /// Trigger type, including values outside the spec.
    pub fn trigger_type(mut self, t: &str) -> Self {
        self.trigger_type = t.into();
        self
    }
    /// Drops the `vcs` block; the SHA then only appears in `trigger_parameters`.
    pub fn without_vcs(mut self) -> Self {
        self.vcs = false;
        self
    }
    /// Adds a pipeline error.
    pub fn error(mut self, kind: &str, message: &str) -> Self {
        self.errors.push((kind.into(), message.into()));
        self
    }
    /// Adds a workflow.
    pub fn workflow(mut self, w: WorkflowSpec) -> Self {
        self.workflows.push(w);
        self
    }

    fn materialise(
        self,
        project: &Project,
        start: DateTime<Utc>,
        max_number: i64,
        started_by: &str,
        next_job: &mut i64,
    ) -> Pipeline {
        let key = format!("{}/{}", project.slug, self.number);
        let created = match &self.created_at {
            Some(t) => Timestamp::parse(t).expect("created_at must be RFC 3339"),
            None => Timestamp::from_instant(
                start - Duration::minutes(max_number - self.number + 1),
                Precision::Millis,
            ),
        };
        let sha = self.revision.clone().unwrap_or_else(|| stable_sha(&key));
        let classic = !project.slug.starts_with("circleci/");
        let vcs = (self.vcs && classic).then(|| {
            let mut extra = serde_json::Map::new();
            extra.insert(
                "commit".into(),
                json!({ "subject": format!("commit {}", self.number), "body": "" }),
            );
            Vcs {
                provider_name: slug::provider(&project.slug).into(),
                origin_repository_url: project.vcs_url.clone(),
                target_repository_url: project.vcs_url.clone(),
                revision: sha.clone(),
                branch: self.branch.clone(),
                tag: self.tag.clone(),
                extra,
            }
        });
        // Without `vcs` (GitHub App projects, some errored pipelines) the SHA lives here.
        let trigger_parameters = vcs.is_none().then(|| {
            json!({
                "git": { "checkout_sha": sha, "branch": self.branch.clone().unwrap_or_default(), "tag": self.tag.clone().unwrap_or_default() },
                "circleci": { "event_type": "push", "trigger_type": "github_app" },
            })
        });
        let workflows = self
            .workflows
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                w.materialise(
                    &format!("{key}/{i}"),
                    created.instant() + Duration::seconds(2 + i as i64),
                    start,
                    started_by,
                    next_job,
                )
            })
            .collect();
        Pipeline {
            id: stable_uuid(&format!("pipeline:{key}")),
            number: self.number,
            state: self.state,
            created_at: created.clone(),
            updated_at: Some(created.clone()),
            errors: self
                .errors
                .into_iter()
                .map(|(kind, message)| crate::model::PipelineError { kind, message })
                .collect(),
            trigger: Trigger {
                kind: self.trigger_type,
                received_at: created,
                actor: Actor {
                    login: "alice".into(),
                    avatar_url: None,
                },
                extra: Default::default(),
            },
            trigger_parameters,
            vcs,
            timeline: Vec::new(),
            workflows,
            extra: Default::default(),
        }
    }
}

fn transitions(list: &[(i64, String)], start: DateTime<Utc>) -> Vec<Transition> {
    list.iter()
        .map(|(secs, status)| Transition {
            at: Timestamp::from_instant(start + Duration::seconds(*secs), Precision::Seconds),
            status: status.clone(),
        })
        .collect()
}
