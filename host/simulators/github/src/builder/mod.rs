//! Building scenarios in Rust.
//!
//! ```
//! use github_sim::Scenario;
//! use github_sim::builder::{AttemptSpec, JobSpec, RunSpec};
//! let s = Scenario::builder()
//!     .user("octocat", "token-octocat")
//!     .repo("acme/api")
//!     .run(
//!         RunSpec::new("CI").branch("main")
//!             .attempt(AttemptSpec::completed("failure").job(JobSpec::completed("test", "failure")))
//!             .attempt(AttemptSpec::status("in_progress").at(-60).then_completed_at(300, "success")
//!                 .job(JobSpec::status("test", "in_progress").then_completed_at(290, "success"))),
//!     )
//!     .build()
//!     .unwrap();
//! assert_eq!(s.repos[0].runs[0].attempts.len(), 2);
//! ```
//! Times are seconds relative to the clock start (negative = before it). Runs default to
//! one minute apart, the last one a minute before the start; each gets its own commit
//! unless `.sha(..)` says otherwise. Ids are assigned in insertion order from fixed bases
//! (accounts 1001.., runs 12000000001.., jobs 33000000001..), so tests can predict them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::error::ScenarioError;
use crate::faults::FaultRule;
use crate::model::{
    Account, AccountKind, Attempt, Commit, GitPerson, Job, Repo, Run, Step, Transition, Workflow,
};
use crate::scenario::{ClockSpec, Scenario};
use crate::views::derived_sha;
use crate::webhooks::WebhookConfig;

mod specs;

use specs::Change;
pub use specs::{AttemptSpec, JobSpec, RunSpec};

/// Default clock start of built scenarios.
pub const DEFAULT_START: &str = "2025-01-01T12:00:00Z";
/// First run id the builder assigns.
pub const FIRST_RUN_ID: u64 = 12_000_000_001;
/// First job id the builder assigns.
pub const FIRST_JOB_ID: u64 = 33_000_000_001;

/// A 40-hex pseudo commit SHA derived from `key`; the same key always gives the same SHA.
pub fn stable_sha(key: &str) -> String {
    derived_sha(&format!("commit:{key}"))
}

struct RepoDraft {
    repo: Repo,
    runs: Vec<RunSpec>,
}

/// Fluent scenario builder; see the module docs.
#[derive(Default)]
pub struct ScenarioBuilder {
    start: Option<DateTime<Utc>>,
    running: bool,
    accounts: Vec<Account>,
    repos: Vec<RepoDraft>,
    webhooks: Vec<WebhookConfig>,
    faults: Vec<FaultRule>,
}

impl ScenarioBuilder {
    /// Sets the simulated start time (RFC 3339). Panics on bad input: builder misuse is a test bug.
    pub fn clock_start(mut self, t: &str) -> Self {
        self.start = Some(DateTime::parse_from_rfc3339(t).expect("RFC 3339").to_utc());
        self
    }

    /// Lets the clock follow real time.
    pub fn clock_running(mut self, running: bool) -> Self {
        self.running = running;
        self
    }

    fn start(&self) -> DateTime<Utc> {
        self.start.unwrap_or_else(|| {
            DateTime::parse_from_rfc3339(DEFAULT_START)
                .expect("valid")
                .to_utc()
        })
    }

    fn add_account(&mut self, login: &str, kind: AccountKind) -> &mut Account {
        let id = 1001 + self.accounts.len() as u64;
        let created_at = self.start() - Duration::days(400);
        self.accounts.push(Account {
            id,
            login: login.to_owned(),
            kind,
            name: Some(login.to_owned()),
            email: (kind == AccountKind::User).then(|| format!("{login}@example.com")),
            tokens: Vec::new(),
            members: Vec::new(),
            created_at,
        });
        self.accounts.last_mut().expect("pushed")
    }

    /// Adds a user with one personal access token.
    pub fn user(mut self, login: &str, token: &str) -> Self {
        self.add_account(login, AccountKind::User)
            .tokens
            .push(token.to_owned());
        self
    }

    /// Adds an organisation with these members.
    pub fn org(mut self, login: &str, members: &[&str]) -> Self {
        let org = self.add_account(login, AccountKind::Organization);
        org.members = members.iter().map(|m| (*m).to_owned()).collect();
        self
    }

    /// Adds a repository `owner/name` and makes it the target of `run`. An unknown owner
    /// becomes an organisation whose members are all users added so far.
    pub fn repo(mut self, full_name: &str) -> Self {
        let (owner, name) = full_name.split_once('/').expect("owner/name");
        if !self
            .accounts
            .iter()
            .any(|a| a.login.eq_ignore_ascii_case(owner))
        {
            let users: Vec<String> = self
                .accounts
                .iter()
                .filter(|a| a.kind == AccountKind::User)
                .map(|a| a.login.clone())
                .collect();
            self.add_account(owner, AccountKind::Organization).members = users;
        }
        let id = 700_000_001 + self.repos.len() as u64;
        let created_at = self.start() - Duration::days(300);
        self.repos.push(RepoDraft {
            repo: Repo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                private: true,
                default_branch: "main".into(),
                description: None,
                collaborators: Vec::new(),
                created_at,
                commits: Vec::new(),
                branches: BTreeMap::new(),
                workflows: Vec::new(),
                runs: Vec::new(),
            },
            runs: Vec::new(),
        });
        self
    }

    fn current(&mut self) -> &mut RepoDraft {
        self.repos.last_mut().expect("call .repo() first")
    }

    /// Makes the current repository public (repositories are private by default).
    pub fn public(mut self) -> Self {
        self.current().repo.private = false;
        self
    }

    /// Adds a collaborator to the current repository.
    pub fn collaborator(mut self, login: &str) -> Self {
        self.current().repo.collaborators.push(login.to_owned());
        self
    }

    /// Adds a run to the current repository.
    pub fn run(mut self, r: RunSpec) -> Self {
        self.current().runs.push(r);
        self
    }

    /// Adds several runs to the current repository.
    pub fn runs(mut self, rs: impl IntoIterator<Item = RunSpec>) -> Self {
        self.current().runs.extend(rs);
        self
    }

    /// Adds a webhook subscription.
    pub fn webhook(mut self, c: WebhookConfig) -> Self {
        self.webhooks.push(c);
        self
    }

    /// Adds a fault active from the start.
    pub fn fault(mut self, f: FaultRule) -> Self {
        self.faults.push(f);
        self
    }

    /// Materialises and validates the scenario.
    pub fn build(mut self) -> Result<Scenario, ScenarioError> {
        let start = self.start();
        let first_user = self
            .accounts
            .iter()
            .find(|a| a.kind == AccountKind::User)
            .map(|a| a.login.clone())
            .unwrap_or_default();
        let mut ids = Ids {
            run: FIRST_RUN_ID,
            job: FIRST_JOB_ID,
            workflow: 80_000_001,
        };
        let mut repos = Vec::new();
        for draft in std::mem::take(&mut self.repos) {
            repos.push(materialise(draft, start, &first_user, &mut ids));
        }
        let mut s = Scenario {
            clock: ClockSpec {
                start: Some(start),
                running: self.running,
            },
            accounts: self.accounts,
            repos,
            webhooks: self.webhooks,
            faults: self.faults,
        };
        s.normalise();
        s.validate()?;
        Ok(s)
    }
}

struct Ids {
    run: u64,
    job: u64,
    workflow: u64,
}

fn at(start: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    start + Duration::seconds(secs)
}

fn transitions(start: DateTime<Utc>, changes: &[Change]) -> Vec<Transition> {
    changes
        .iter()
        .map(|c| Transition {
            at: at(start, c.secs),
            status: c.status.clone(),
            conclusion: c.conclusion.clone(),
        })
        .collect()
}

fn materialise(draft: RepoDraft, start: DateTime<Utc>, first_user: &str, ids: &mut Ids) -> Repo {
    let RepoDraft { mut repo, runs } = draft;
    let full = repo.full_name();
    let n = runs.len() as i64;
    let mut numbers: BTreeMap<String, u64> = BTreeMap::new();
    let mut commits: Vec<Commit> = Vec::new();
    let mut heads: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
    for (k, spec) in runs.into_iter().enumerate() {
        let created = at(start, spec.created.unwrap_or(-(n - k as i64) * 60));
        let workflow_id = match repo.workflows.iter().find(|w| w.name == spec.workflow) {
            Some(w) => w.id,
            None => {
                let slug: String = spec
                    .workflow
                    .to_ascii_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                ids.workflow += 1;
                repo.workflows.push(Workflow {
                    id: ids.workflow,
                    name: spec.workflow.clone(),
                    path: format!(".github/workflows/{slug}.yml"),
                });
                ids.workflow
            }
        };
        let number = numbers.entry(spec.workflow.clone()).or_insert(0);
        *number = spec.number.unwrap_or(*number + 1);
        let sha = spec
            .sha
            .clone()
            .unwrap_or_else(|| stable_sha(&format!("{full}#{k}")));
        if !commits.iter().any(|c| c.sha == sha) {
            let actor = spec.actor.clone().unwrap_or_else(|| first_user.to_owned());
            commits.push(Commit {
                sha: sha.clone(),
                message: spec
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("Change {}", k + 1)),
                author: GitPerson {
                    name: actor.clone(),
                    email: format!("{actor}@example.com"),
                },
                timestamp: created - Duration::seconds(30),
                parents: commits
                    .last()
                    .map(|c| vec![c.sha.clone()])
                    .unwrap_or_default(),
            });
        }
        if let Some(b) = &spec.branch {
            // The branch points at its newest run's commit.
            let newest = heads.get(b).is_none_or(|(t, _)| *t <= created);
            if newest {
                heads.insert(b.clone(), (created, sha.clone()));
            }
        }
        let mut specs = spec.attempts.clone();
        if specs.is_empty() {
            specs.push(
                AttemptSpec::completed("success").job(JobSpec::completed("build", "success")),
            );
        }
        let mut attempts: Vec<Attempt> = Vec::new();
        for a in &specs {
            let created_at = match (a.at, attempts.last()) {
                (Some(secs), _) => at(start, secs),
                (None, None) => created,
                (None, Some(prev)) => prev.created_at + Duration::minutes(10),
            };
            let jobs = a
                .jobs
                .iter()
                .map(|j| {
                    ids.job += 1;
                    let completed = j.status == "completed";
                    let job_created = j.created.map(|s| at(start, s)).unwrap_or(created_at);
                    Job {
                        id: ids.job - 1,
                        name: j.name.clone(),
                        status: j.status.clone(),
                        conclusion: j.conclusion.clone(),
                        created_at: j.created.map(|s| at(start, s)),
                        started_at: completed.then(|| job_created + Duration::seconds(5)),
                        completed_at: completed.then(|| job_created + Duration::seconds(65)),
                        timeline: transitions(start, &j.changes),
                        steps: j
                            .steps
                            .iter()
                            .map(|s| Step {
                                name: s.clone(),
                                conclusion: None,
                            })
                            .collect(),
                        labels: j.labels.clone(),
                    }
                })
                .collect();
            attempts.push(Attempt {
                created_at,
                status: a.status.clone(),
                conclusion: a.conclusion.clone(),
                timeline: transitions(start, &a.changes),
                triggering_actor: a.actor.clone(),
                jobs,
            });
        }
        repo.runs.push(Run {
            id: spec.id.unwrap_or_else(|| {
                ids.run += 1;
                ids.run - 1
            }),
            workflow_id,
            run_number: *number,
            event: spec.event.clone(),
            head_branch: spec.branch.clone(),
            head_sha: sha,
            actor: spec.actor.clone().unwrap_or_else(|| first_user.to_owned()),
            display_title: spec.title.clone(),
            attempts,
        });
    }
    if commits.is_empty() {
        commits.push(Commit {
            sha: stable_sha(&format!("{full}#initial")),
            message: "Initial commit".into(),
            author: GitPerson {
                name: first_user.to_owned(),
                email: format!("{first_user}@example.com"),
            },
            timestamp: repo.created_at,
            parents: Vec::new(),
        });
    }
    repo.branches
        .extend(heads.into_iter().map(|(b, (_, sha))| (b, sha)));
    let newest = commits.last().expect("one commit").sha.clone();
    repo.branches
        .entry(repo.default_branch.clone())
        .or_insert(newest);
    repo.commits = commits;
    repo
}
