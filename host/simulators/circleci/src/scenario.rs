//! Scenarios: the whole world the simulator serves, loadable from JSON.
//!
//! Format (all lists optional except where the model says otherwise):
//! ```json
//! { "clock": {"start": "2025-01-01T00:00:00Z", "running": false},
//!   "orgs": [...], "users": [...], "project_tokens": [...],
//!   "projects": [{ ..., "pipelines": [{ ..., "workflows": [{ ..., "jobs": [...] }] }] }],
//!   "webhooks": [...], "faults": [...], "expired_workflows": ["<workflow id>"] }
//! ```
//! See `README.md` for the field-by-field description.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ScenarioError;
use crate::faults::FaultRule;
use crate::model::{Org, Project, ProjectToken, User};
use crate::slug;
use crate::timestamp::Timestamp;
use crate::webhooks::WebhookConfig;

/// Initial clock settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClockSpec {
    /// Simulated time at start; the real current time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// Whether simulated time advances with real time (otherwise only when told).
    #[serde(default)]
    pub running: bool,
}

/// Everything the simulator serves.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Scenario {
    /// Clock settings.
    #[serde(default)]
    pub clock: ClockSpec,
    /// Organisations.
    #[serde(default)]
    pub orgs: Vec<Org>,
    /// Users and their personal tokens.
    #[serde(default)]
    pub users: Vec<User>,
    /// Project tokens (rejected by v2 like real CircleCI).
    #[serde(default)]
    pub project_tokens: Vec<ProjectToken>,
    /// Projects with pipelines, workflows and jobs.
    #[serde(default)]
    pub projects: Vec<Project>,
    /// Outbound webhook subscriptions.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// Faults active from the start.
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    /// Workflow ids whose workflow/job endpoints answer 404 (data retention).
    #[serde(default)]
    pub expired_workflows: Vec<String>,
}

impl Scenario {
    /// Parses a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Self, ScenarioError> {
        let mut s: Scenario = serde_json::from_str(text)?;
        s.normalise();
        s.validate()?;
        Ok(s)
    }

    /// Reads a scenario file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Serialises the scenario (e.g. to save a generated one).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("scenario serialises")
    }

    /// Starts a Rust scenario builder.
    pub fn builder() -> crate::builder::ScenarioBuilder {
        crate::builder::ScenarioBuilder::default()
    }

    /// Canonicalises slugs and sorts timelines so lookups can assume order.
    pub fn normalise(&mut self) {
        for o in &mut self.orgs {
            o.slug = slug::canonical(&o.slug);
        }
        for u in &mut self.users {
            u.orgs.iter_mut().for_each(|s| *s = slug::canonical(s));
            if let Some(f) = &mut u.followed {
                f.iter_mut().for_each(|s| *s = slug::canonical(s));
            }
        }
        for t in &mut self.project_tokens {
            t.project = slug::canonical(&t.project);
        }
        for p in &mut self.projects {
            p.slug = slug::canonical(&p.slug);
            p.org = slug::canonical(&p.org);
            for pl in &mut p.pipelines {
                pl.timeline.sort_by_key(|t| t.at.instant());
                for w in &mut pl.workflows {
                    w.timeline.sort_by_key(|t| t.at.instant());
                    for j in &mut w.jobs {
                        j.timeline.sort_by_key(|t| t.at.instant());
                    }
                }
            }
        }
    }

    /// Checks cross references and id uniqueness.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |m: String| Err(ScenarioError::Invalid(m));
        let orgs: HashSet<&str> = self.orgs.iter().map(|o| o.slug.as_str()).collect();
        let mut ids = HashSet::new();
        let mut tokens = HashSet::new();
        for u in &self.users {
            for o in &u.orgs {
                if !orgs.contains(o.as_str()) {
                    return bad(format!(
                        "user {} collaborates with unknown org {o}",
                        u.login
                    ));
                }
            }
            for t in &u.tokens {
                if !tokens.insert(t.as_str()) {
                    return bad(format!("token used twice: {t}"));
                }
            }
        }
        let mut slugs = HashSet::new();
        for p in &self.projects {
            if !orgs.contains(p.org.as_str()) {
                return bad(format!(
                    "project {} belongs to unknown org {}",
                    p.slug, p.org
                ));
            }
            if p.slug.split('/').count() != 3
                || slug::short_vcs(p.slug.split('/').next().unwrap_or("")).is_none()
            {
                return bad(format!("project slug {} is not vcs/org/repo", p.slug));
            }
            if !slugs.insert(p.slug.as_str()) {
                return bad(format!("duplicate project {}", p.slug));
            }
            let mut numbers = HashSet::new();
            for pl in &p.pipelines {
                if !numbers.insert(pl.number) {
                    return bad(format!(
                        "{}: duplicate pipeline number {}",
                        p.slug, pl.number
                    ));
                }
                let workflow_ids = pl.workflows.iter().map(|w| &w.id);
                let job_ids = pl
                    .workflows
                    .iter()
                    .flat_map(|w| w.jobs.iter().map(|j| &j.id));
                for id in std::iter::once(&pl.id).chain(workflow_ids).chain(job_ids) {
                    if !ids.insert(id.as_str()) {
                        return bad(format!("duplicate id {id}"));
                    }
                }
            }
        }
        for t in &self.project_tokens {
            if !slugs.contains(t.project.as_str()) {
                return bad(format!("project token for unknown project {}", t.project));
            }
            if !tokens.insert(t.token.as_str()) {
                return bad(format!("token used twice: {}", t.token));
            }
        }
        Ok(())
    }
}

/// Who a token authenticates as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A personal token of `users[i]`.
    User(usize),
    /// A project token (rejected by v2 endpoints).
    Project(usize),
}

/// Lookup tables built once at start; the scenario itself stays immutable.
#[derive(Debug)]
pub struct Index {
    /// Canonical slug -> project index.
    pub projects: HashMap<String, usize>,
    /// Pipeline id -> (project, pipeline).
    pub pipelines: HashMap<String, (usize, usize)>,
    /// Workflow id -> (project, pipeline, workflow).
    pub workflows: HashMap<String, (usize, usize, usize)>,
    /// Per project: pipeline indices, newest (highest number) first.
    pub newest_first: Vec<Vec<usize>>,
    /// Token -> principal.
    pub tokens: HashMap<String, Principal>,
    /// Org slug -> org index.
    pub orgs: HashMap<String, usize>,
}

impl Index {
    /// Builds the lookup tables.
    pub fn build(s: &Scenario) -> Self {
        let mut ix = Index {
            projects: HashMap::new(),
            pipelines: HashMap::new(),
            workflows: HashMap::new(),
            newest_first: Vec::new(),
            tokens: HashMap::new(),
            orgs: s
                .orgs
                .iter()
                .enumerate()
                .map(|(i, o)| (o.slug.clone(), i))
                .collect(),
        };
        for (pi, p) in s.projects.iter().enumerate() {
            ix.projects.insert(p.slug.clone(), pi);
            let mut order: Vec<usize> = (0..p.pipelines.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(p.pipelines[i].number));
            ix.newest_first.push(order);
            for (qi, pl) in p.pipelines.iter().enumerate() {
                ix.pipelines.insert(pl.id.clone(), (pi, qi));
                for (wi, w) in pl.workflows.iter().enumerate() {
                    ix.workflows.insert(w.id.clone(), (pi, qi, wi));
                }
            }
        }
        for (ui, u) in s.users.iter().enumerate() {
            for t in &u.tokens {
                ix.tokens.insert(t.clone(), Principal::User(ui));
            }
        }
        for t in &s.project_tokens {
            if let Some(&pi) = ix.projects.get(&t.project) {
                ix.tokens.insert(t.token.clone(), Principal::Project(pi));
            }
        }
        ix
    }

    /// Whether `users[user]` may see `projects[project]` (via org collaboration).
    pub fn can_access(&self, s: &Scenario, user: usize, project: usize) -> bool {
        s.users[user]
            .orgs
            .iter()
            .any(|o| *o == s.projects[project].org)
    }
}
