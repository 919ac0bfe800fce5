//! Request log, counters and the checks that clients waited when told to.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which limit an answer enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limited {
    /// The primary budget ran out: wait until `x-ratelimit-reset`.
    Primary,
    /// A secondary limit: wait `retry-after`, or at least a minute without it.
    Secondary,
}

/// How long GitHub asks clients to wait after a secondary limit without `retry-after`.
pub const SECONDARY_DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// One request as the simulator saw it.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// Sequence number (monotonic over the simulator's life).
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path without query, as sent (with `/api/v3` in Enterprise mode).
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Route template, e.g. `/repos/{owner}/{repo}/actions/runs/{run_id}/jobs`.
    pub route: String,
    /// Response status; `None` while pending or when no response was sent (hang, reset).
    pub status: Option<u16>,
    /// Wall-clock arrival, milliseconds since the Unix epoch.
    pub received_unix_ms: u64,
    /// Wall-clock response time, milliseconds since the Unix epoch.
    pub responded_unix_ms: Option<u64>,
    /// Simulated clock at arrival.
    pub sim_time: DateTime<Utc>,
    /// Token fingerprint (never the token); `None` for anonymous requests.
    pub client: Option<String>,
    /// Whether the request carried `If-None-Match` or `If-Modified-Since`.
    pub conditional: bool,
    /// Fault applied, if any.
    pub fault: Option<&'static str>,
    /// The limit this answer enforced, if any.
    pub limited: Option<Limited>,
    /// `retry-after` seconds sent with a secondary limit.
    pub retry_after: Option<u64>,
    /// `x-ratelimit-reset` sent with a primary limit.
    pub reset: Option<u64>,
}

/// Counters over the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Requests logged.
    pub total: usize,
    /// Per route template.
    pub by_route: BTreeMap<String, usize>,
    /// Per status (`0` = no response).
    pub by_status: BTreeMap<u16, usize>,
    /// 304 answers (not counted against the primary budget).
    pub not_modified: usize,
    /// Answers that enforced the primary limit.
    pub primary_limited: usize,
    /// Answers that enforced a secondary limit.
    pub secondary_limited: usize,
}

/// A request sent before the wait an earlier limited answer asked for had passed.
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "{} {} came {:?} after a {:?} limit (request #{}), which asked for {:?} (request #{})",
    early.method, early.path, waited, limited.limited, limited.seq, required, early.seq
)]
pub struct WaitViolation {
    /// The limited answer.
    pub limited: RequestRecord,
    /// The request that came too early.
    pub early: RequestRecord,
    /// What the answer asked for.
    pub required: Duration,
    /// How long the client actually waited (answer sent -> request received).
    pub waited: Duration,
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
    /// Conditional request.
    pub conditional: bool,
}

/// How an answer ended, for [`RequestLog::finish`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// Status sent.
    pub status: u16,
    /// Limit enforced.
    pub limited: Option<Limited>,
    /// `retry-after` sent.
    pub retry_after: Option<u64>,
    /// `x-ratelimit-reset` of a primary limit.
    pub reset: Option<u64>,
}

/// Thread-safe append-only log.
#[derive(Debug, Default)]
pub struct RequestLog {
    inner: Mutex<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    first_seq: u64,
    next_seq: u64,
    records: Vec<RequestRecord>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl RequestLog {
    /// Records an arrival; returns its sequence number.
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
            received_unix_ms: unix_ms(),
            responded_unix_ms: None,
            sim_time: a.sim_time,
            client: a.client,
            conditional: a.conditional,
            fault: None,
            limited: None,
            retry_after: None,
            reset: None,
        });
        seq
    }

    /// Notes the fault decided for a request (also for hangs that never finish).
    pub fn note_fault(&self, seq: u64, fault: &'static str) {
        self.update(seq, |r| r.fault = Some(fault));
    }

    /// Completes a record with its answer.
    pub fn finish(&self, seq: u64, o: Outcome) {
        let now = unix_ms();
        self.update(seq, |r| {
            r.status = Some(o.status);
            r.responded_unix_ms = Some(now);
            r.limited = o.limited;
            r.retry_after = o.retry_after;
            r.reset = o.reset;
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
        let inner = self.inner.lock().unwrap();
        inner
            .records
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .count()
    }

    /// Counters over every record.
    pub fn counters(&self) -> Counters {
        let mut c = Counters::default();
        for r in &self.inner.lock().unwrap().records {
            c.total += 1;
            *c.by_route.entry(r.route.clone()).or_insert(0) += 1;
            *c.by_status.entry(r.status.unwrap_or(0)).or_insert(0) += 1;
            c.not_modified += usize::from(r.status == Some(304));
            c.primary_limited += usize::from(r.limited == Some(Limited::Primary));
            c.secondary_limited += usize::from(r.limited == Some(Limited::Secondary));
        }
        c
    }

    /// Checks that no client repeated a request after a secondary limit before its
    /// `retry-after` (or, without one, a minute) had passed. A repeat is the next request
    /// with the same token, method, path and query.
    pub fn assert_retry_after_respected(&self) -> Result<(), Box<WaitViolation>> {
        let records = self.snapshot();
        for (i, r) in records.iter().enumerate() {
            let (Some(Limited::Secondary), Some(sent)) = (r.limited, r.responded_unix_ms) else {
                continue;
            };
            let required = r
                .retry_after
                .map_or(SECONDARY_DEFAULT_WAIT, Duration::from_secs);
            let next = records[i + 1..].iter().find(|o| {
                o.client == r.client
                    && o.method == r.method
                    && o.path == r.path
                    && o.query == r.query
                    && o.received_unix_ms >= sent
            });
            check(r, next, sent, required)?;
        }
        Ok(())
    }

    /// Checks that no client sent anything after a primary limit before the
    /// `x-ratelimit-reset` it was given.
    pub fn assert_reset_respected(&self) -> Result<(), Box<WaitViolation>> {
        let records = self.snapshot();
        for (i, r) in records.iter().enumerate() {
            let (Some(Limited::Primary), Some(sent), Some(reset)) =
                (r.limited, r.responded_unix_ms, r.reset)
            else {
                continue;
            };
            let required = Duration::from_millis((reset * 1000).saturating_sub(sent));
            let next = records[i + 1..]
                .iter()
                .find(|o| o.client == r.client && o.received_unix_ms >= sent);
            check(r, next, sent, required)?;
        }
        Ok(())
    }
}

fn check(
    limited: &RequestRecord,
    next: Option<&RequestRecord>,
    sent: u64,
    required: Duration,
) -> Result<(), Box<WaitViolation>> {
    let Some(next) = next else { return Ok(()) };
    let waited = Duration::from_millis(next.received_unix_ms - sent);
    if waited < required {
        return Err(Box::new(WaitViolation {
            limited: limited.clone(),
            early: next.clone(),
            required,
            waited,
        }));
    }
    Ok(())
}
