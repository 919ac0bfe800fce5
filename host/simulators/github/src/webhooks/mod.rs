//! Outbound webhooks: `workflow_run`, `workflow_job` and `ping`, signed like GitHub's.
//!
//! Events are scheduled from the scenario: an attempt's creation fires
//! `workflow_run.requested`, its transitions `in_progress` / `completed`; a job's creation
//! fires `workflow_job.queued` (or `waiting`), its transitions the matching action. Events
//! at or before the simulator's start count as already sent; the rest are delivered when
//! the simulated clock passes them. Each subscription gets a `ping` when it is added.
//! GitHub does not retry failed deliveries by itself; a redelivery (see
//! [`deliver::redeliver`]) re-sends the same body with the same `X-GitHub-Delivery`.

pub mod deliver;
pub mod payload;
pub mod sign;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use hyper::body::Bytes;
use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;
use crate::timeline::job_created_at;

/// A webhook subscription. Its `Debug` output hides the secret.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookConfig {
    /// Receiver URL; `http://127.0.0.1:PORT/path` (plain HTTP only).
    pub url: String,
    /// Signing secret; without one no `X-Hub-Signature-256` is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Subscribed events: `workflow_run`, `workflow_job` (both by default); `ping` always.
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// Only these repositories (`owner/name`); every repository when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repos: Vec<String>,
    /// Hook id (`X-GitHub-Hook-ID`); assigned when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Per-delivery timeout in milliseconds (GitHub gives receivers 10 s).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_events() -> Vec<String> {
    vec!["workflow_run".into(), "workflow_job".into()]
}
fn default_timeout_ms() -> u64 {
    10_000
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("events", &self.events)
            .field("repos", &self.repos)
            .field("id", &self.id)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl WebhookConfig {
    /// Subscription to both events at `url`, signed with `secret`.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: Some(secret.into()),
            events: default_events(),
            repos: Vec::new(),
            id: None,
            timeout_ms: default_timeout_ms(),
        }
    }

    /// Whether this subscription covers `event` for the repository `full_name`.
    pub fn wants(&self, event: &str, full_name: &str) -> bool {
        (event == "ping" || self.events.iter().any(|e| e == event))
            && (self.repos.is_empty()
                || self.repos.iter().any(|r| r.eq_ignore_ascii_case(full_name)))
    }
}

/// One delivery attempt, as the delivery log records it.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// `X-GitHub-Delivery` (kept by redeliveries).
    pub guid: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// The payload's `action` (`None` for `ping`).
    pub action: Option<String>,
    /// Hook id.
    pub hook_id: u64,
    /// Receiver URL.
    pub url: String,
    /// Whether this was a redelivery.
    pub redelivery: bool,
    /// Receiver status, if it answered.
    pub status: Option<u16>,
    /// Transport error or timeout, if any.
    pub error: Option<String>,
}

/// A delivered body, kept for redelivery.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The delivery id.
    pub guid: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// `action`.
    pub action: Option<String>,
    /// Subscription it went to.
    pub config: WebhookConfig,
    /// Repository id (`X-GitHub-Hook-Installation-Target-ID`).
    pub target_id: u64,
    /// Exact body bytes (signed).
    pub body: Bytes,
}

/// What a scheduled event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Attempt `attempt` (1-based) of a run.
    Run {
        /// Repository index.
        repo: usize,
        /// Run index in the repository.
        run: usize,
        /// Attempt number.
        attempt: usize,
    },
    /// A job of an attempt.
    Job {
        /// Repository index.
        repo: usize,
        /// Run index.
        run: usize,
        /// Attempt number.
        attempt: usize,
        /// Job index in the attempt.
        job: usize,
    },
}

/// An event due at a simulated instant.
#[derive(Clone, Debug)]
pub struct Scheduled {
    /// When it fires.
    pub at: DateTime<Utc>,
    /// Tie-break: requested < run in_progress < jobs < run completed.
    order: u8,
    /// The payload's `action`.
    pub action: &'static str,
    /// What it is about.
    pub subject: Subject,
}

fn run_action(status: &str) -> Option<&'static str> {
    match status {
        "in_progress" => Some("in_progress"),
        "completed" => Some("completed"),
        _ => None,
    }
}

fn job_action(status: &str) -> Option<&'static str> {
    match status {
        "queued" => Some("queued"),
        "waiting" => Some("waiting"),
        "in_progress" => Some("in_progress"),
        "completed" => Some("completed"),
        _ => None,
    }
}

fn order_of(action: &str, job: bool) -> u8 {
    match (job, action) {
        (false, "requested") => 0,
        (false, "in_progress") => 1,
        (true, _) => 2,
        _ => 3,
    }
}

/// Every event the scenario's timelines produce, in delivery order.
pub fn schedule(s: &Scenario) -> Vec<Scheduled> {
    let mut out = Vec::new();
    let mut push = |at, action: &'static str, subject: Subject| {
        let order = order_of(action, matches!(subject, Subject::Job { .. }));
        out.push(Scheduled {
            at,
            order,
            action,
            subject,
        });
    };
    for (repo, r) in s.repos.iter().enumerate() {
        for (run, rn) in r.runs.iter().enumerate() {
            for (i, a) in rn.attempts.iter().enumerate() {
                let attempt = i + 1;
                let subject = Subject::Run { repo, run, attempt };
                push(a.created_at, "requested", subject);
                if let Some(action) = run_action(&a.status) {
                    push(a.created_at, action, subject);
                }
                for t in &a.timeline {
                    if let Some(action) = run_action(&t.status) {
                        push(t.at, action, subject);
                    }
                }
                for (job, j) in a.jobs.iter().enumerate() {
                    let subject = Subject::Job {
                        repo,
                        run,
                        attempt,
                        job,
                    };
                    let created = job_created_at(j, a.created_at);
                    let first = if j.status == "waiting" {
                        "waiting"
                    } else {
                        "queued"
                    };
                    push(created, first, subject);
                    if matches!(j.status.as_str(), "in_progress" | "completed") {
                        push(created, job_action(&j.status).expect("known"), subject);
                    }
                    for t in &j.timeline {
                        if let Some(action) = job_action(&t.status) {
                            push(t.at, action, subject);
                        }
                    }
                }
            }
        }
    }
    // Stable: scenario order breaks the remaining ties.
    out.sort_by_key(|e| (e.at, e.order));
    out
}

/// Subscriptions, schedule and delivery log.
#[derive(Debug, Default)]
pub struct Webhooks {
    configs: Mutex<Vec<WebhookConfig>>,
    next_hook_id: Mutex<u64>,
    schedule: Mutex<(Vec<Scheduled>, usize)>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl Webhooks {
    /// Builds the schedule; events at or before `now` count as already sent.
    pub fn new(s: &Scenario, now: DateTime<Utc>) -> Self {
        let events = schedule(s);
        let cursor = events.partition_point(|e| e.at <= now);
        Self {
            schedule: Mutex::new((events, cursor)),
            next_hook_id: Mutex::new(500_000_000),
            ..Self::default()
        }
    }

    /// Registers a subscription (assigning its hook id) and returns it as stored.
    pub fn add(&self, mut c: WebhookConfig) -> WebhookConfig {
        if c.id.is_none() {
            let mut next = self.next_hook_id.lock().unwrap();
            *next += 1;
            c.id = Some(*next);
        }
        self.configs.lock().unwrap().push(c.clone());
        c
    }

    /// Current subscriptions.
    pub fn configs(&self) -> Vec<WebhookConfig> {
        self.configs.lock().unwrap().clone()
    }

    /// Delivery attempts so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// Bodies delivered so far (one per event and subscription), oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// Number of scheduled events not yet due.
    pub fn pending(&self) -> usize {
        let s = self.schedule.lock().unwrap();
        s.0.len() - s.1
    }

    fn take_due(&self, now: DateTime<Utc>) -> Vec<Scheduled> {
        let mut s = self.schedule.lock().unwrap();
        let (list, cursor) = &mut *s;
        let start = *cursor;
        *cursor += list[start..].partition_point(|e| e.at <= now);
        list[start..*cursor].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secret_and_wants_filters() {
        let c = WebhookConfig {
            repos: vec!["acme/api".into()],
            events: vec!["workflow_job".into()],
            ..WebhookConfig::new("http://127.0.0.1:1/h", "s3cr3t-value")
        };
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
        assert!(c.wants("workflow_job", "ACME/api"));
        assert!(c.wants("ping", "acme/api"));
        assert!(!c.wants("workflow_run", "acme/api"));
        assert!(!c.wants("workflow_job", "acme/docs"));
    }
}
