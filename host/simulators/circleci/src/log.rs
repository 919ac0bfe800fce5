//! Request log, counters and the Retry-After check.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::AuthForm;

/// One request as the simulator saw it.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// Sequence number (monotonic over the simulator's life).
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Route template, e.g. `/api/v2/workflow/{id}/job`.
    pub route: String,
    /// Response status; `None` while pending or when no response was sent (hang).
    pub status: Option<u16>,
    /// Real time since the simulator started when the request arrived.
    #[serde(serialize_with = "ser_ms")]
    pub received_at: Duration,
    /// Real time since start when the response was sent.
    #[serde(serialize_with = "ser_opt_ms")]
    pub responded_at: Option<Duration>,
    /// Simulated clock at arrival.
    pub sim_time: DateTime<Utc>,
    /// Token fingerprint (never the token).
    pub client: Option<String>,
    /// How the token was sent.
    pub auth: Option<AuthForm>,
    /// Fault applied, if any.
    pub fault: Option<&'static str>,
    /// `Retry-After` seconds sent with a 429.
    pub retry_after: Option<u64>,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn ser_opt_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_ms(d, s),
        None => s.serialize_none(),
    }
}

/// A retry that came before the `Retry-After` of an earlier 429 had elapsed.
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "{} {} retried after {:?}, but Retry-After asked for {:?} (429 was request #{}, retry #{})",
    retry.method, retry.path, waited, required, rate_limited.seq, retry.seq
)]
pub struct RetryAfterViolation {
    /// The 429 response.
    pub rate_limited: RequestRecord,
    /// The too-early retry.
    pub retry: RequestRecord,
    /// What Retry-After demanded.
    pub required: Duration,
    /// How long the client actually waited (429 sent -> retry received).
    pub waited: Duration,
}

/// Thread-safe append-only log.
#[derive(Debug)]
pub struct RequestLog {
    start: Instant,
    inner: Mutex<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    first_seq: u64,
    next_seq: u64,
    records: Vec<RequestRecord>,
}

/// Fields known when a request arrives.
pub struct Arrival {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query.
    pub query: Option<String>,
    /// Route template.
    pub route: String,
    /// Simulated time.
    pub sim_time: DateTime<Utc>,
    /// Token fingerprint.
    pub client: Option<String>,
    /// Auth form.
    pub auth: Option<AuthForm>,
}

impl RequestLog {
    /// An empty log whose times are relative to now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            inner: Mutex::new(LogInner::default()),
        }
    }

    /// Records an arrival; returns its sequence number for [`RequestLog::finish`].
    pub fn begin(&self, a: Arrival) -> u64 {
        let mut inner = self.inner.lock().unwrap();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.records.push(RequestRecord {
            seq,
            method: a.method,
            path: a.path,
            query: a.query,
            route: a.route,
            status: None,
            received_at: self.start.elapsed(),
            responded_at: None,
            sim_time: a.sim_time,
            client: a.client,
            auth: a.auth,
            fault: None,
            retry_after: None,
        });
        seq
    }

    /// Notes the fault decided for a request (also for hangs that never finish).
    pub fn note_fault(&self, seq: u64, fault: &'static str) {
        self.update(seq, |r| r.fault = Some(fault));
    }

    /// Completes a record with its response.
    pub fn finish(&self, seq: u64, status: u16, retry_after: Option<u64>) {
        let now = self.start.elapsed();
        self.update(seq, |r| {
            r.status = Some(status);
            r.responded_at = Some(now);
            r.retry_after = retry_after;
        });
    }

    fn update(&self, seq: u64, f: impl FnOnce(&mut RequestRecord)) {
        let mut inner = self.inner.lock().unwrap();
        let Some(i) = seq.checked_sub(inner.first_seq) else {
            return;
        };
        if let Some(r) = inner.records.get_mut(i as usize) {
            f(r);
        }
    }

    /// Copy of all records, oldest first.
    pub fn snapshot(&self) -> Vec<RequestRecord> {
        self.inner.lock().unwrap().records.clone()
    }

    /// Forgets all records (sequence numbers keep counting).
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.first_seq = inner.next_seq;
        inner.records.clear();
    }

    /// Number of requests whose path starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .records
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .count()
    }

    /// Requests per route template.
    pub fn by_route(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in &self.inner.lock().unwrap().records {
            *m.entry(r.route.clone()).or_insert(0) += 1;
        }
        m
    }

    /// Requests per response status (`0` = no response).
    pub fn by_status(&self) -> BTreeMap<u16, usize> {
        let mut m = BTreeMap::new();
        for r in &self.inner.lock().unwrap().records {
            *m.entry(r.status.unwrap_or(0)).or_insert(0) += 1;
        }
        m
    }

    /// Checks that no client repeated a rate-limited request before `Retry-After` elapsed.
    ///
    /// A "repeat" is the next request with the same token, method, path and
    /// query that arrived after the 429 was sent.
    pub fn assert_retry_after_respected(&self) -> Result<(), Box<RetryAfterViolation>> {
        let records = self.snapshot();
        for (i, r) in records.iter().enumerate() {
            let (Some(429), Some(secs), Some(sent)) = (r.status, r.retry_after, r.responded_at)
            else {
                continue;
            };
            let same = |o: &&RequestRecord| {
                o.client == r.client
                    && o.method == r.method
                    && o.path == r.path
                    && o.query == r.query
            };
            let Some(next) = records[i + 1..]
                .iter()
                .filter(same)
                .find(|o| o.received_at >= sent)
            else {
                continue;
            };
            let required = Duration::from_secs(secs);
            let waited = next.received_at - sent;
            if waited < required {
                return Err(Box::new(RetryAfterViolation {
                    rate_limited: r.clone(),
                    retry: next.clone(),
                    required,
                    waited,
                }));
            }
        }
        Ok(())
    }
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::new()
    }
}
