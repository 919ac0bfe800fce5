//! Scenarios: the whole world the simulator serves, loadable from JSON.
//!
//! ```json
//! { "clock": {"start": "2025-01-01T12:00:00Z", "running": false},
//!   "accounts": [...], "repos": [{ ..., "commits": [...], "workflows": [...], "runs": [...] }],
//!   "webhooks": [...], "faults": [...] }
//! ```
//! See `README.md` for the field-by-field description. A scenario is immutable once
//! served; time-dependent state comes from the timelines and the clock.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ScenarioError;
use crate::faults::FaultRule;
use crate::model::{
    Account, AccountKind, JOB_CONCLUSIONS, JOB_STATUSES, RUN_CONCLUSIONS, Repo, STATUSES,
};
use crate::webhooks::WebhookConfig;

/// Initial clock settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClockSpec {
    /// Simulated time at start; the real current time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
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
    /// Users and organisations.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// Repositories with their commits, workflows and runs.
    #[serde(default)]
    pub repos: Vec<Repo>,
    /// Outbound webhook subscriptions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
    /// Faults active from the start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultRule>,
}

impl Scenario {
    /// Parses, normalises and validates a scenario from JSON text.
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

    /// Lower-cases SHAs and sorts timelines so lookups can assume order.
    pub fn normalise(&mut self) {
        for r in &mut self.repos {
            for c in &mut r.commits {
                c.sha.make_ascii_lowercase();
            }
            for sha in r.branches.values_mut() {
                sha.make_ascii_lowercase();
            }
            for run in &mut r.runs {
                run.head_sha.make_ascii_lowercase();
                run.attempts.sort_by_key(|a| a.created_at);
                for a in &mut run.attempts {
                    a.timeline.sort_by_key(|t| t.at);
                    for j in &mut a.jobs {
                        j.timeline.sort_by_key(|t| t.at);
                    }
                }
            }
        }
    }

    /// Checks cross references, id uniqueness and the status vocabulary.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |m: String| Err(ScenarioError::Invalid(m));
        let mut logins = HashSet::new();
        let mut tokens = HashSet::new();
        let mut account_ids = HashSet::new();
        for a in &self.accounts {
            if !logins.insert(a.login.to_ascii_lowercase()) || !account_ids.insert(a.id) {
                return bad(format!("duplicate account {} ({})", a.login, a.id));
            }
            for t in &a.tokens {
                if a.kind == AccountKind::Organization {
                    return bad(format!("organisation {} cannot hold tokens", a.login));
                }
                if !tokens.insert(t.as_str()) {
                    return bad(format!("a token is used twice (account {})", a.login));
                }
            }
        }
        let known = |l: &str| logins.contains(&l.to_ascii_lowercase());
        for a in &self.accounts {
            if let Some(m) = a.members.iter().find(|m| !known(m)) {
                return bad(format!("{} has unknown member {m}", a.login));
            }
        }
        let mut repo_names = HashSet::new();
        let mut ids = HashSet::new();
        let mut job_ids = HashSet::new();
        for r in &self.repos {
            let full = r.full_name();
            if !known(&r.owner) {
                return bad(format!("{full}: unknown owner"));
            }
            if let Some(c) = r.collaborators.iter().find(|c| !known(c)) {
                return bad(format!("{full}: unknown collaborator {c}"));
            }
            if !repo_names.insert(full.to_ascii_lowercase()) || !ids.insert(("repo", r.id)) {
                return bad(format!("duplicate repository {full} ({})", r.id));
            }
            let shas: HashSet<&str> = r.commits.iter().map(|c| c.sha.as_str()).collect();
            if shas.len() != r.commits.len() {
                return bad(format!("{full}: duplicate commit"));
            }
            if let Some(c) = r.commits.iter().find(|c| !is_full_sha(&c.sha)) {
                return bad(format!("{full}: {} is not a 40-hex SHA", c.sha));
            }
            if let Some((b, _)) = r.branches.iter().find(|(_, s)| !shas.contains(s.as_str())) {
                return bad(format!("{full}: branch {b} points at an unknown commit"));
            }
            let workflows: HashSet<u64> = r.workflows.iter().map(|w| w.id).collect();
            for run in &r.runs {
                let what = format!("{full} run {}", run.id);
                if !ids.insert(("run", run.id)) {
                    return bad(format!("{what}: duplicate run id"));
                }
                if !workflows.contains(&run.workflow_id) {
                    return bad(format!("{what}: unknown workflow {}", run.workflow_id));
                }
                if !shas.contains(run.head_sha.as_str()) {
                    return bad(format!("{what}: head_sha {} is not a commit", run.head_sha));
                }
                if !known(&run.actor) {
                    return bad(format!("{what}: unknown actor {}", run.actor));
                }
                if run.attempts.is_empty() {
                    return bad(format!("{what}: a run needs at least one attempt"));
                }
                for (n, a) in run.attempts.iter().enumerate() {
                    let what = format!("{what} attempt {}", n + 1);
                    check_state(
                        &what,
                        &a.status,
                        a.conclusion.as_deref(),
                        STATUSES,
                        RUN_CONCLUSIONS,
                    )?;
                    for t in &a.timeline {
                        check_state(
                            &what,
                            &t.status,
                            t.conclusion.as_deref(),
                            STATUSES,
                            RUN_CONCLUSIONS,
                        )?;
                    }
                    for j in &a.jobs {
                        let what = format!("{what} job {}", j.id);
                        if !job_ids.insert(j.id) {
                            return bad(format!("{what}: duplicate job id"));
                        }
                        check_state(
                            &what,
                            &j.status,
                            j.conclusion.as_deref(),
                            JOB_STATUSES,
                            JOB_CONCLUSIONS,
                        )?;
                        for t in &j.timeline {
                            check_state(
                                &what,
                                &t.status,
                                t.conclusion.as_deref(),
                                JOB_STATUSES,
                                JOB_CONCLUSIONS,
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `s` is a full lower-case 40-hex SHA.
pub fn is_full_sha(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_state(
    what: &str,
    status: &str,
    conclusion: Option<&str>,
    statuses: &[&str],
    conclusions: &[&str],
) -> Result<(), ScenarioError> {
    let ok = statuses.contains(&status)
        && match conclusion {
            None => status != "completed",
            Some(c) => status == "completed" && conclusions.contains(&c),
        };
    if ok {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(format!(
            "{what}: status {status:?} with conclusion {conclusion:?} is not a state GitHub serves"
        )))
    }
}

/// Lookup tables built once at start.
#[derive(Debug)]
pub struct Index {
    /// Lower-case `owner/name` to repository index.
    pub repos: HashMap<String, usize>,
    /// Run id to (repository, run).
    pub runs: HashMap<u64, (usize, usize)>,
    /// Per repository: run indices, newest first (created, then id).
    pub newest_first: Vec<Vec<usize>>,
    /// Per repository: (sha, commit index) sorted by SHA, for prefix lookups.
    pub commits_by_sha: Vec<Vec<(String, usize)>>,
    /// Token to account index.
    pub tokens: HashMap<String, usize>,
    /// Lower-case login to account index.
    pub accounts: HashMap<String, usize>,
}

impl Index {
    /// Builds the lookup tables.
    pub fn build(s: &Scenario) -> Self {
        let mut ix = Index {
            repos: HashMap::new(),
            runs: HashMap::new(),
            newest_first: Vec::new(),
            commits_by_sha: Vec::new(),
            tokens: HashMap::new(),
            accounts: HashMap::new(),
        };
        for (i, a) in s.accounts.iter().enumerate() {
            ix.accounts.insert(a.login.to_ascii_lowercase(), i);
            for t in &a.tokens {
                ix.tokens.insert(t.clone(), i);
            }
        }
        for (ri, r) in s.repos.iter().enumerate() {
            ix.repos.insert(r.full_name().to_ascii_lowercase(), ri);
            let mut order: Vec<usize> = (0..r.runs.len()).collect();
            order.sort_by_key(|&i| {
                let run = &r.runs[i];
                std::cmp::Reverse((run.attempts[0].created_at, run.id))
            });
            ix.newest_first.push(order);
            for (qi, run) in r.runs.iter().enumerate() {
                ix.runs.insert(run.id, (ri, qi));
            }
            let mut shas: Vec<(String, usize)> = r
                .commits
                .iter()
                .enumerate()
                .map(|(i, c)| (c.sha.clone(), i))
                .collect();
            shas.sort();
            ix.commits_by_sha.push(shas);
        }
        ix
    }

    /// The account with this login (case-insensitive).
    pub fn account<'s>(&self, s: &'s Scenario, login: &str) -> Option<&'s Account> {
        self.accounts
            .get(&login.to_ascii_lowercase())
            .map(|&i| &s.accounts[i])
    }

    /// Whether `user` (an account index) is affiliated with `repo`: owner, collaborator or
    /// member of the owning organisation.
    pub fn affiliated(&self, s: &Scenario, user: usize, repo: usize) -> bool {
        let r = &s.repos[repo];
        let login = &s.accounts[user].login;
        let same = |l: &String| l.eq_ignore_ascii_case(login);
        same(&r.owner)
            || r.collaborators.iter().any(same)
            || self
                .account(s, &r.owner)
                .is_some_and(|o| o.members.iter().any(same))
    }

    /// Whether `user` (None = anonymous) may see `repo`; others get 404 like on GitHub.
    pub fn can_see(&self, s: &Scenario, user: Option<usize>, repo: usize) -> bool {
        !s.repos[repo].private || user.is_some_and(|u| self.affiliated(s, u, repo))
    }
}
