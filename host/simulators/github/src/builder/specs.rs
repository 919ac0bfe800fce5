//! The run, attempt and job specifications the builder materialises.

/// A state change `secs` after the clock start.
#[derive(Clone, Debug)]
pub(super) struct Change {
    pub(super) secs: i64,
    pub(super) status: String,
    pub(super) conclusion: Option<String>,
}

fn split(state: &str) -> (String, Option<String>) {
    // A conclusion word means `completed` with that conclusion.
    if crate::model::STATUSES.contains(&state) {
        (state.to_owned(), None)
    } else {
        ("completed".to_owned(), Some(state.to_owned()))
    }
}

/// A job to add to an attempt.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub(super) name: String,
    pub(super) status: String,
    pub(super) conclusion: Option<String>,
    pub(super) created: Option<i64>,
    pub(super) changes: Vec<Change>,
    pub(super) steps: Vec<String>,
    pub(super) labels: Vec<String>,
}

impl JobSpec {
    /// A job created in `status` (`queued`, `waiting`, `in_progress`, ...).
    pub fn status(name: &str, status: &str) -> Self {
        let (status, conclusion) = split(status);
        Self {
            name: name.to_owned(),
            status,
            conclusion,
            created: None,
            changes: Vec::new(),
            steps: Vec::new(),
            labels: vec!["ubuntu-latest".into()],
        }
    }

    /// A job that is already completed with `conclusion`.
    pub fn completed(name: &str, conclusion: &str) -> Self {
        Self::status(name, conclusion)
    }

    /// Created `secs` after the clock start (default: with its attempt).
    pub fn created(mut self, secs: i64) -> Self {
        self.created = Some(secs);
        self
    }

    /// Moves to `status` (or, given a conclusion word, to `completed` with it) at `secs`.
    pub fn then_at(mut self, secs: i64, status: &str) -> Self {
        let (status, conclusion) = split(status);
        self.changes.push(Change {
            secs,
            status,
            conclusion,
        });
        self
    }

    /// Completes with `conclusion` at `secs`.
    pub fn then_completed_at(self, secs: i64, conclusion: &str) -> Self {
        self.then_at(secs, conclusion)
    }

    /// Step names (served once the job runs).
    pub fn steps(mut self, names: &[&str]) -> Self {
        self.steps = names.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// `runs-on` labels.
    pub fn labels(mut self, labels: &[&str]) -> Self {
        self.labels = labels.iter().map(|s| (*s).to_owned()).collect();
        self
    }
}

/// One attempt of a run.
#[derive(Clone, Debug)]
pub struct AttemptSpec {
    pub(super) status: String,
    pub(super) conclusion: Option<String>,
    pub(super) at: Option<i64>,
    pub(super) changes: Vec<Change>,
    pub(super) actor: Option<String>,
    pub(super) jobs: Vec<JobSpec>,
}

impl AttemptSpec {
    /// An attempt created in `status` (a conclusion word means `completed` with it).
    pub fn status(status: &str) -> Self {
        let (status, conclusion) = split(status);
        Self {
            status,
            conclusion,
            at: None,
            changes: Vec::new(),
            actor: None,
            jobs: Vec::new(),
        }
    }

    /// An attempt that is already completed with `conclusion`.
    pub fn completed(conclusion: &str) -> Self {
        Self::status(conclusion)
    }

    /// Created `secs` after the clock start (a future time makes a re-run appear later).
    /// Default: with the run for the first attempt, ten minutes after the previous one
    /// for re-runs.
    pub fn at(mut self, secs: i64) -> Self {
        self.at = Some(secs);
        self
    }

    /// Moves to `status` (or `completed` with a conclusion word) at `secs`.
    pub fn then_at(mut self, secs: i64, status: &str) -> Self {
        let (status, conclusion) = split(status);
        self.changes.push(Change {
            secs,
            status,
            conclusion,
        });
        self
    }

    /// Completes with `conclusion` at `secs`.
    pub fn then_completed_at(self, secs: i64, conclusion: &str) -> Self {
        self.then_at(secs, conclusion)
    }

    /// Who requested this attempt (the run's actor by default).
    pub fn actor(mut self, login: &str) -> Self {
        self.actor = Some(login.to_owned());
        self
    }

    /// Adds a job.
    pub fn job(mut self, j: JobSpec) -> Self {
        self.jobs.push(j);
        self
    }

    /// Adds several jobs.
    pub fn jobs(mut self, js: impl IntoIterator<Item = JobSpec>) -> Self {
        self.jobs.extend(js);
        self
    }
}

/// A workflow run to add to the current repository.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub(super) workflow: String,
    pub(super) id: Option<u64>,
    pub(super) number: Option<u64>,
    pub(super) event: String,
    pub(super) branch: Option<String>,
    pub(super) sha: Option<String>,
    pub(super) message: Option<String>,
    pub(super) actor: Option<String>,
    pub(super) title: Option<String>,
    pub(super) created: Option<i64>,
    pub(super) attempts: Vec<AttemptSpec>,
}

impl RunSpec {
    /// A `push` run of workflow `workflow` on `main`; one successful attempt with a `build`
    /// job unless attempts are added.
    pub fn new(workflow: &str) -> Self {
        Self {
            workflow: workflow.to_owned(),
            id: None,
            number: None,
            event: "push".into(),
            branch: Some("main".into()),
            sha: None,
            message: None,
            actor: None,
            title: None,
            created: None,
            attempts: Vec::new(),
        }
    }

    /// Explicit run id.
    pub fn id(mut self, id: u64) -> Self {
        self.id = Some(id);
        self
    }

    /// Explicit run number (default: counts up per workflow).
    pub fn number(mut self, n: u64) -> Self {
        self.number = Some(n);
        self
    }

    /// Triggering event.
    pub fn event(mut self, e: &str) -> Self {
        self.event = e.to_owned();
        self
    }

    /// Branch.
    pub fn branch(mut self, b: &str) -> Self {
        self.branch = Some(b.to_owned());
        self
    }

    /// No branch (`head_branch: null`, e.g. a tag push).
    pub fn no_branch(mut self) -> Self {
        self.branch = None;
        self
    }

    /// The commit (full SHA); a commit is created for it when new.
    pub fn sha(mut self, sha: &str) -> Self {
        self.sha = Some(sha.to_ascii_lowercase());
        self
    }

    /// Message of the run's commit when the builder creates it.
    pub fn message(mut self, m: &str) -> Self {
        self.message = Some(m.to_owned());
        self
    }

    /// Triggering account (default: the first user).
    pub fn actor(mut self, login: &str) -> Self {
        self.actor = Some(login.to_owned());
        self
    }

    /// `display_title`.
    pub fn title(mut self, t: &str) -> Self {
        self.title = Some(t.to_owned());
        self
    }

    /// Created `secs` after the clock start.
    pub fn created(mut self, secs: i64) -> Self {
        self.created = Some(secs);
        self
    }

    /// Adds an attempt (the first one, then re-runs).
    pub fn attempt(mut self, a: AttemptSpec) -> Self {
        self.attempts.push(a);
        self
    }

    /// Replaces every attempt.
    pub fn replace_attempts(mut self, attempts: Vec<AttemptSpec>) -> Self {
        self.attempts = attempts;
        self
    }
}
