//! The workflow and job specifications a pipeline is built from.

use super::*;

/// A workflow to add.
#[derive(Clone, Debug)]
pub struct WorkflowSpec {
    pub(super) name: String,
    pub(super) status: String,
    pub(super) id: Option<String>,
    pub(super) timeline: Vec<(i64, String)>,
    pub(super) jobs: Vec<JobSpec>,
}

impl WorkflowSpec {
    /// A successful workflow called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            status: "success".into(),
            id: None,
            timeline: Vec::new(),
            jobs: Vec::new(),
        }
    }
    /// Initial status.
    pub fn status(mut self, s: &str) -> Self {
        self.status = s.into();
        self
    }
    /// Fixed id (default: stable UUID from position).
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.into());
        self
    }
    /// Becomes `status` `secs` seconds after the clock start.
    pub fn then_at(mut self, secs: i64, status: &str) -> Self {
        self.timeline.push((secs, status.into()));
        self
    }
    /// Adds a job.
    pub fn job(mut self, j: JobSpec) -> Self {
        self.jobs.push(j);
        self
    }

    pub(super) fn materialise(
        self,
        key: &str,
        created: DateTime<Utc>,
        start: DateTime<Utc>,
        started_by: &str,
        next_job: &mut i64,
    ) -> Workflow {
        let created_at = Timestamp::from_instant(created, Precision::Seconds);
        let jobs = self
            .jobs
            .into_iter()
            .enumerate()
            .map(|(i, j)| j.materialise(&format!("{key}/{i}"), created, start, next_job))
            .collect();
        Workflow {
            id: self
                .id
                .unwrap_or_else(|| stable_uuid(&format!("workflow:{key}"))),
            name: self.name,
            stopped_at: workflow_is_terminal(&self.status).then(|| {
                Timestamp::from_instant(created + Duration::seconds(60), Precision::Seconds)
            }),
            status: self.status,
            created_at,
            started_by: started_by.to_owned(),
            timeline: transitions(&self.timeline, start),
            jobs,
            extra: Default::default(),
        }
    }
}

/// A job to add.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub(super) name: String,
    pub(super) status: String,
    pub(super) number: Option<i64>,
    pub(super) approval: bool,
    pub(super) id: Option<String>,
    pub(super) timeline: Vec<(i64, String)>,
}

impl JobSpec {
    /// A successful build job.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            status: "success".into(),
            number: None,
            approval: false,
            id: None,
            timeline: Vec::new(),
        }
    }
    /// An approval job: no job number, like real CircleCI.
    pub fn approval(name: &str) -> Self {
        Self {
            approval: true,
            status: "on_hold".into(),
            ..Self::new(name)
        }
    }
    /// Initial status.
    pub fn status(mut self, s: &str) -> Self {
        self.status = s.into();
        self
    }
    /// Job number (build jobs without one get the project's next number).
    pub fn number(mut self, n: i64) -> Self {
        self.number = Some(n);
        self
    }
    /// Fixed id.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.into());
        self
    }
    /// Becomes `status` `secs` seconds after the clock start.
    pub fn then_at(mut self, secs: i64, status: &str) -> Self {
        self.timeline.push((secs, status.into()));
        self
    }

    pub(super) fn materialise(
        self,
        key: &str,
        created: DateTime<Utc>,
        start: DateTime<Utc>,
        next_job: &mut i64,
    ) -> Job {
        let secs =
            |d: i64| Timestamp::from_instant(created + Duration::seconds(d), Precision::Seconds);
        let number = if self.approval {
            None
        } else {
            let n = self.number.unwrap_or(*next_job);
            *next_job = n.max(*next_job) + 1;
            Some(n)
        };
        Job {
            id: self
                .id
                .unwrap_or_else(|| stable_uuid(&format!("job:{key}"))),
            job_number: number,
            name: self.name,
            kind: if self.approval {
                "approval".into()
            } else {
                "build".into()
            },
            started_at: (!job_is_waiting(&self.status)).then(|| secs(1)),
            stopped_at: job_is_terminal(&self.status).then(|| secs(31)),
            created_at: Some(secs(0)),
            status: self.status,
            dependencies: Vec::new(),
            timeline: transitions(&self.timeline, start),
            extra: Default::default(),
        }
    }
}
