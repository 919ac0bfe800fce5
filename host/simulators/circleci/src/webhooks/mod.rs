//! Outbound webhooks: `workflow-completed` and `job-completed`, signed like CircleCI.
//!
//! Events are scheduled from the scenario timelines: every transition into a
//! webhook-firing status that happens after the simulator started becomes an
//! event, delivered when the simulated clock passes it. Deliveries carry the
//! headers CircleCI documents (`content-type`, `user-agent:
//! CircleCI-Webhook/1.0`, `circleci-event-type`, `circleci-signature:
//! v1=<hex HMAC-SHA256 of the raw body>`), are retried on non-2xx/timeouts and
//! can be duplicated on purpose (CircleCI documents at-least-once delivery).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpStream;

use crate::model::{Pipeline, Project, Workflow, job_fires_webhook, workflow_fires_webhook};
use crate::scenario::Scenario;
use crate::slug;
use crate::state::Shared;
use crate::timestamp::{Precision, Timestamp};

mod payload;

use payload::{pipeline_json, workflow_json};

/// A webhook subscription.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WebhookConfig {
    /// Receiver URL; `http://127.0.0.1:PORT/path` (plain HTTP only).
    pub url: String,
    /// Signing secret; without one no `circleci-signature` header is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Subscribed events (`workflow-completed`, `job-completed`); both by default.
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// Only these project slugs (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<Vec<String>>,
    /// Extra deliveries of each event (same payload, same `id`).
    #[serde(default)]
    pub duplicates: u32,
    /// Attempts per delivery when the receiver fails (non-2xx or timeout).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Per-attempt timeout in milliseconds (CircleCI uses 10 s).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Webhook name in the payload.
    #[serde(default = "default_name")]
    pub name: String,
    /// Webhook id in the payload; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

fn default_events() -> Vec<String> {
    vec!["workflow-completed".into(), "job-completed".into()]
}
fn default_attempts() -> u32 {
    3
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_name() -> String {
    "circleci-sim".into()
}

impl WebhookConfig {
    /// Subscription to both events at `url`, signed with `secret`.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: Some(secret.into()),
            events: default_events(),
            projects: None,
            duplicates: 0,
            max_attempts: default_attempts(),
            timeout_ms: default_timeout_ms(),
            name: default_name(),
            id: None,
        }
    }
}

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a `circleci-signature` header value (`v1=<hex>[,v2=...]`) in constant time.
pub fn verify(header: &str, secret: &[u8], body: &[u8]) -> bool {
    header
        .split(',')
        .filter_map(|p| p.trim().strip_prefix("v1="))
        .any(|hex_sig| {
            let Ok(sig) = hex::decode(hex_sig) else {
                return false;
            };
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(body);
            mac.verify_slice(&sig).is_ok()
        })
}

/// One delivery attempt.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Payload `id` (the same for duplicates and retries).
    pub event_id: String,
    /// `workflow-completed` or `job-completed`.
    pub event_type: String,
    /// Workflow or job id the event is about.
    pub subject_id: String,
    /// Receiver URL.
    pub url: String,
    /// 0 for the original delivery, 1.. for deliberate duplicates.
    pub copy: u32,
    /// 1-based attempt number.
    pub attempt: u32,
    /// Receiver status, if it answered.
    pub status: Option<u16>,
    /// Transport error, if any.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Subject {
    Workflow {
        p: usize,
        q: usize,
        w: usize,
    },
    Job {
        p: usize,
        q: usize,
        w: usize,
        j: usize,
    },
}

#[derive(Debug, Clone)]
struct Scheduled {
    at: Timestamp,
    status: String,
    subject: Subject,
}

/// Subscriptions, schedule and delivery log.
#[derive(Debug, Default)]
pub struct Webhooks {
    configs: Mutex<Vec<WebhookConfig>>,
    schedule: Mutex<(Vec<Scheduled>, usize)>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    events: Mutex<Vec<Value>>,
}

impl Webhooks {
    /// Builds the event schedule; events at or before `now` count as already sent.
    pub fn new(s: &Scenario, configs: Vec<WebhookConfig>, now: DateTime<Utc>) -> Self {
        let mut schedule = Vec::new();
        for (p, project) in s.projects.iter().enumerate() {
            for (q, pl) in project.pipelines.iter().enumerate() {
                for (w, wf) in pl.workflows.iter().enumerate() {
                    for t in wf
                        .timeline
                        .iter()
                        .filter(|t| workflow_fires_webhook(&t.status))
                    {
                        schedule.push(Scheduled {
                            at: t.at.clone(),
                            status: t.status.clone(),
                            subject: Subject::Workflow { p, q, w },
                        });
                    }
                    for (j, job) in wf.jobs.iter().enumerate() {
                        for t in job.timeline.iter().filter(|t| job_fires_webhook(&t.status)) {
                            schedule.push(Scheduled {
                                at: t.at.clone(),
                                status: t.status.clone(),
                                subject: Subject::Job { p, q, w, j },
                            });
                        }
                    }
                }
            }
        }
        // Jobs finish before the workflow that contains them when times tie.
        schedule.sort_by_key(|e| {
            (
                e.at.instant(),
                matches!(e.subject, Subject::Workflow { .. }),
            )
        });
        let cursor = schedule.partition_point(|e| e.at.instant() <= now);
        let configs = configs
            .into_iter()
            .map(|mut c| {
                c.id.get_or_insert_with(|| uuid::Uuid::new_v4().to_string());
                c
            })
            .collect();
        Self {
            configs: Mutex::new(configs),
            schedule: Mutex::new((schedule, cursor)),
            ..Default::default()
        }
    }

    /// Adds a subscription at run time.
    pub fn add(&self, mut c: WebhookConfig) {
        c.id.get_or_insert_with(|| uuid::Uuid::new_v4().to_string());
        self.configs.lock().unwrap().push(c);
    }

    /// Removes all subscriptions.
    pub fn clear(&self) {
        self.configs.lock().unwrap().clear();
    }

    /// Delivery attempts so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// Payloads of events fired so far (one per event and subscription).
    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
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
        while *cursor < list.len() && list[*cursor].at.instant() <= now {
            *cursor += 1;
        }
        list[start..*cursor].to_vec()
    }
}

/// Runs until the process-wide shutdown signal: fires due events as the clock moves.
pub async fn dispatcher(sh: Arc<Shared>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let changed = sh.clock.changed();
    loop {
        let notified = changed.notified();
        for event in sh.webhooks.take_due(sh.clock.now()) {
            fire(&sh, &event);
        }
        // Poll as well as wait for clock changes: a running clock moves on its own.
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(25)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn fire(sh: &Shared, e: &Scheduled) {
    let s = &sh.scenario;
    let (p, q, w, job) = match e.subject {
        Subject::Workflow { p, q, w } => (p, q, w, None),
        Subject::Job { p, q, w, j } => (p, q, w, Some(j)),
    };
    let project = &s.projects[p];
    let event_type = if job.is_some() {
        "job-completed"
    } else {
        "workflow-completed"
    };
    let configs = sh.webhooks.configs.lock().unwrap().clone();
    for c in configs {
        let wants_project = c
            .projects
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|x| slug::canonical(x) == project.slug));
        if !wants_project || !c.events.iter().any(|x| x == event_type) {
            continue;
        }
        let org = &s.orgs[sh.index.orgs[&project.org]];
        let pl = &project.pipelines[q];
        let wf = &pl.workflows[w];
        let mut payload = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "type": event_type,
            "happened_at": Timestamp::from_instant(e.at.instant(), Precision::Micros),
            "webhook": { "id": c.id, "name": c.name },
            "organization": { "id": org.id, "name": org.name },
            "project": { "id": project.id, "name": project.name, "slug": slug::long_form(&project.slug) },
            "pipeline": pipeline_json(pl),
            "workflow": workflow_json(project, pl, wf),
        });
        let subject_id = match job {
            None => {
                payload["workflow"]["status"] = json!(e.status);
                payload["workflow"]["stopped_at"] =
                    json!(Timestamp::from_instant(e.at.instant(), Precision::Seconds));
                wf.id.clone()
            }
            Some(j) => {
                let jb = &wf.jobs[j];
                let state = crate::timeline::job_now(jb, e.at.instant());
                payload["job"] = json!({
                    "id": jb.id, "number": jb.job_number, "name": jb.name, "status": e.status,
                    "started_at": state.started_at, "stopped_at": state.stopped_at,
                });
                jb.id.clone()
            }
        };
        sh.webhooks.events.lock().unwrap().push(payload.clone());
        let body = Bytes::from(serde_json::to_vec(&payload).expect("json"));
        let deliveries = sh.webhooks.deliveries.clone();
        tokio::spawn(deliver(
            c,
            body,
            event_type,
            subject_id,
            payload["id"].as_str().unwrap_or_default().to_owned(),
            deliveries,
        ));
    }
}

async fn deliver(
    c: WebhookConfig,
    body: Bytes,
    event_type: &'static str,
    subject_id: String,
    event_id: String,
    log: Arc<Mutex<Vec<Delivery>>>,
) {
    let signature = c
        .secret
        .as_ref()
        .map(|s| format!("v1={}", sign(s.as_bytes(), &body)));
    for copy in 0..=c.duplicates {
        for attempt in 1..=c.max_attempts.max(1) {
            let result = tokio::time::timeout(
                Duration::from_millis(c.timeout_ms),
                post(&c.url, body.clone(), event_type, signature.as_deref()),
            )
            .await
            .unwrap_or_else(|_| Err("timeout".to_owned()));
            let (status, error) = match result {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(e)),
            };
            let ok = status.is_some_and(|s| (200..300).contains(&s));
            log.lock().unwrap().push(Delivery {
                event_id: event_id.clone(),
                event_type: event_type.to_owned(),
                subject_id: subject_id.clone(),
                url: c.url.clone(),
                copy,
                attempt,
                status,
                error,
            });
            if ok {
                break;
            }
            tracing::debug!(url = %c.url, attempt, "webhook delivery failed, retrying");
            tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
        }
    }
}

async fn post(
    url: &str,
    body: Bytes,
    event_type: &str,
    signature: Option<&str>,
) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad url: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// receivers are supported".into());
    }
    let host = uri.host().ok_or("url without host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json")
        .header("user-agent", "CircleCI-Webhook/1.0")
        .header("circleci-event-type", event_type);
    if let Some(sig) = signature {
        req = req.header("circleci-signature", sig);
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // Drain the body so the connection closes cleanly.
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_vectors() {
        assert_eq!(
            sign(b"secret", b"hello world"),
            "734cc62f32841568f45715aeb9f4d7891324e6d948e4c6c60c0621cdac48623a"
        );
        assert_eq!(
            sign(b"secret", b"foo"),
            "773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4"
        );
        assert!(verify(
            "v1=773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4",
            b"secret",
            b"foo"
        ));
        assert!(!verify(
            "v1=773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4",
            b"secret",
            b"fop"
        ));
    }
}
