//! Rate-limit pauses, one per integration, shared by all of its calls.
//!
//! When the provider answers 429 or 503 with `Retry-After` (or declares
//! its reset with `RateLimit-Reset` / `X-RateLimit-Reset`), the limit is
//! the integration's, not the request's: the provider counts every request
//! made with the token. So the host pauses the whole integration: every
//! request of every call of that integration (other captures, the sync)
//! waits until the pause ends before it is sent. A request whose call has
//! not enough time left to wait fails the call as rate-limited instead
//! (the capture queue then retries it after the pause).
//!
//! An integration is (org, plugin, base-URL origin): the process owns one
//! [`Pauses`] map (in [`super::outbound::Outbound`]) and each call looks its
//! [`Pause`] up when its Store is made.
//!
//! A pause outlives the process and is shared with the other processes on
//! the same database: with [`Pauses::record_to`] (which `serve` sets to the
//! store's `rate_limit_pauses` table) every pause that starts or grows is
//! written down as a wall-clock time; a pause another replica recorded, or
//! one recorded before a restart (after a crash or a SIGKILL, seconds after
//! the 429), is taken up with [`Pauses::take_up`] and waited out here too.
//! The pause file of older versions is read once by [`read_pause_file`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::origin::Origin;
use super::wit::latest::provider::{RateLimitRule, ResetSource};

/// What the pause map reports, for metrics. Implemented by the host's
/// Prometheus metrics (`buildsnap_metrics::Metrics`).
pub trait PauseObserver: Send + Sync {
    /// A response started or extended a pause of `plugin`'s integration.
    fn paused(&self, plugin: &str, pause: Duration);
    /// A request was held back `waited`, and then sent (`sent`) or its call
    /// failed as rate-limited because it could not wait that long.
    fn held(&self, plugin: &str, waited: Duration, sent: bool);
}

/// The integration a pause belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PauseKey {
    /// The org of the integration.
    pub org: String,
    /// The plugin (provider) id.
    pub plugin: String,
    /// The base URL's origin (the provider's server).
    pub origin: Origin,
}

/// Where pauses are kept beyond this process's memory, for the other
/// processes on the same state and for the next start. Implemented by the
/// host over the store (`serve`); the runtime does not know the store.
pub trait PauseStore: Send + Sync {
    /// `key`'s pause now ends at `until_unix_ms` (Unix milliseconds).
    /// Called on the thread whose response started or grew the pause,
    /// often an async worker: it must not block (hand the write off). A
    /// failure cannot be reported back; log it (the pause still holds
    /// here).
    fn record(&self, key: &PauseKey, until_unix_ms: u64);
}

/// Every integration's pause. One per process.
#[derive(Default)]
pub struct Pauses {
    lanes: Mutex<HashMap<PauseKey, Arc<Pause>>>,
    observer: OnceLock<Arc<dyn PauseObserver>>,
    sink: OnceLock<Arc<dyn PauseStore>>,
}

/// A pause's end as the store and the old pause file hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseEnd {
    /// The integration paused.
    pub key: PauseKey,
    /// When the pause ends, Unix milliseconds.
    pub until_unix_ms: u64,
}

/// One entry of the pause file older versions wrote.
#[derive(Serialize, Deserialize)]
struct Entry {
    org: String,
    plugin: String,
    origin: String,
    until_unix_ms: u64,
}

/// Unix milliseconds of `t` (0 before 1970, saturating far ahead).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The pauses in the file `rate-limit-pauses.json` that versions before
/// the store kept them wrote in the data dir (`None`: no file), ended ones
/// included (the store drops those). Entries whose origin does not parse
/// are skipped. An unreadable or malformed file is an error naming it.
pub fn read_pause_file(path: &Path) -> Result<Option<Vec<PauseEnd>>, PauseFileError> {
    let fail = |reason: String| PauseFileError {
        path: path.to_path_buf(),
        reason,
    };
    let entries: Vec<Entry> = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e.to_string())),
    };
    Ok(Some(
        entries
            .into_iter()
            .filter_map(|e| {
                Some(PauseEnd {
                    key: PauseKey {
                        origin: Origin::parse(&e.origin).ok()?,
                        org: e.org,
                        plugin: e.plugin,
                    },
                    until_unix_ms: e.until_unix_ms,
                })
            })
            .collect(),
    ))
}

/// Entries kept before expired ones are dropped (one per integration that
/// made a call; the sweep keeps a process with many orgs bounded).
const SWEEP_AT: usize = 1024;

impl Pauses {
    /// An empty map without an observer.
    pub fn new() -> Pauses {
        Pauses::default()
    }

    /// Reports pauses to `observer` from now on (the first one set wins).
    pub fn observe(&self, observer: Arc<dyn PauseObserver>) {
        let _ = self.observer.set(observer);
    }

    /// Records every pause that starts or grows in `sink` from now on
    /// (the first one set wins; `false` for a later one). Call it before
    /// the first call: pauses made before are not recorded.
    pub fn record_to(&self, sink: Arc<dyn PauseStore>) -> bool {
        self.sink.set(sink).is_ok()
    }

    /// Takes up a pause recorded elsewhere (another replica, a previous
    /// run): `key`'s requests wait until `until_unix_ms` unless already
    /// paused longer. Not recorded again (it came from the record) nor
    /// reported as a new pause. Returns whether it lengthened the pause.
    pub fn take_up(&self, key: PauseKey, until_unix_ms: u64) -> bool {
        let until = SystemTime::UNIX_EPOCH + Duration::from_millis(until_unix_ms);
        match until.duration_since(SystemTime::now()) {
            Ok(left) => self.get(key).lengthen(left).is_some(),
            Err(_) => false,
        }
    }

    /// The pause of `key`'s integration, shared by all of its calls.
    pub fn get(&self, key: PauseKey) -> Arc<Pause> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        if lanes.len() >= SWEEP_AT {
            let now = Instant::now();
            // Only pauses nobody holds and that are over: a held one is
            // still shared with running calls.
            lanes.retain(|_, p| Arc::strong_count(p) > 1 || p.until().is_some_and(|u| u > now));
        }
        let sink = self.sink.get().map(|j| (j.clone(), key.clone()));
        let plugin = key.plugin.clone();
        lanes
            .entry(key)
            .or_insert_with(|| {
                let mut pause = Pause::new(plugin, self.observer.get().cloned());
                pause.sink = sink;
                Arc::new(pause)
            })
            .clone()
    }

    /// A pause shared with no other call (a call outside any stored
    /// integration, such as validating a token before it is saved).
    pub fn private(&self, plugin: &str) -> Arc<Pause> {
        Arc::new(Pause::new(plugin.into(), self.observer.get().cloned()))
    }
}

/// One integration's pause: until when its requests must not be sent.
pub struct Pause {
    plugin: String,
    until: Mutex<Option<Instant>>,
    observer: Option<Arc<dyn PauseObserver>>,
    /// Where the pause is written down (shared integrations only).
    sink: Option<(Arc<dyn PauseStore>, PauseKey)>,
}

/// The pause file of an older version cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("rate-limit pauses file {}: {reason}", path.display())]
pub struct PauseFileError {
    /// The pauses file.
    pub path: PathBuf,
    /// Why it could not be read.
    pub reason: String,
}

/// A request could not wait for the pause within its call's time: the call
/// fails as rate-limited. `retry_after` is what is left of the pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the integration is paused by the provider's rate limit for {retry_after:?} more, longer than the call has left"
)]
pub struct Paused {
    /// What is left of the pause when the call gave up.
    pub retry_after: Duration,
}

impl Pause {
    fn new(plugin: String, observer: Option<Arc<dyn PauseObserver>>) -> Pause {
        Pause {
            plugin,
            until: Mutex::new(None),
            observer,
            sink: None,
        }
    }

    /// When the pause ends (`None`: never paused).
    pub fn until(&self) -> Option<Instant> {
        *self.until.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pauses until `now + wait` unless already paused longer. A pause only
    /// grows: an answer with a shorter `Retry-After` (another request's,
    /// counted from a little later) never ends a longer one early.
    pub fn extend(&self, wait: Duration) {
        if let Some(end) = self.lengthen(wait) {
            if let Some((sink, key)) = &self.sink {
                sink.record(key, unix_ms(end));
            }
            if let Some(o) = &self.observer {
                o.paused(&self.plugin, wait);
            }
        }
    }

    /// Pauses until `now + wait` unless already paused longer; the new end
    /// as a wall-clock time when it moved.
    fn lengthen(&self, wait: Duration) -> Option<SystemTime> {
        if wait.is_zero() {
            return None;
        }
        let end = Instant::now() + wait;
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.is_none_or(|u| u < end) {
            *until = Some(end);
            Some(SystemTime::now() + wait)
        } else {
            None
        }
    }

    /// Waits until the pause is over, or fails at once when it would end
    /// after `deadline` less `margin` (the time the request itself needs).
    /// Loops because the pause can grow while a request waits.
    pub async fn wait(&self, deadline: Instant, margin: Duration) -> Result<(), Paused> {
        let started = Instant::now();
        loop {
            let now = Instant::now();
            let Some(until) = self.until().filter(|u| *u > now) else {
                if now > started {
                    self.report(now - started, true);
                }
                return Ok(());
            };
            if until + margin > deadline {
                self.report(now - started, false);
                return Err(Paused {
                    retry_after: until - now,
                });
            }
            tokio::time::sleep_until(until.into()).await;
        }
    }

    fn report(&self, waited: Duration, sent: bool) {
        // A request that found no pause was not held: not reported.
        if (waited > Duration::from_millis(1) || !sent)
            && let Some(o) = &self.observer
        {
            o.held(&self.plugin, waited, sent);
        }
    }
}

/// How long a response tells the integration to stop sending: for a 429 or
/// a 503, its `Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3),
/// else a declared reset (`RateLimit-Reset` / `X-RateLimit-Reset`, seconds
/// from now, or a Unix time when the number is that large, as GitHub
/// sends it). `None` for any other answer, and for one without either.
pub fn declared_pause(
    status: u16,
    headers: &[(String, String)],
    now: SystemTime,
) -> Option<Duration> {
    if !matches!(status, 429 | 503) {
        return None;
    }
    if let Some(wait) = super::outbound::retry_after(headers, now) {
        return Some(wait);
    }
    let value = ["ratelimit-reset", "x-ratelimit-reset"]
        .iter()
        .find_map(|n| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        })?;
    // A delta is seconds to wait; a count past 2001 is a Unix time.
    const UNIX_TIME_FROM: u64 = 1_000_000_000;
    if value >= UNIX_TIME_FROM {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(value);
        return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
    }
    Some(Duration::from_secs(value))
}

/// The longest pause one rule can ask for: GitHub's limit window. A wrong
/// or hostile header cannot silence an integration for longer.
pub const MAX_RULE_PAUSE: Duration = Duration::from_secs(3600);

/// How long the first of `rules` that matches this answer pauses the
/// integration; `None` when none matches. A rule matches when the status
/// is one of its statuses and every header test holds (names without
/// regard to case, values trimmed).
pub fn rule_pause(
    rules: &[RateLimitRule],
    status: u16,
    headers: &[(String, String)],
    now: SystemTime,
) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let rule = rules.iter().find(|r| {
        r.statuses.contains(&status)
            && r.headers.iter().all(|t| match (header(&t.name), &t.value) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(v), Some(want)) => v == want.trim(),
            })
    })?;
    let fallback = Duration::from_millis(rule.fallback_ms);
    let read = match &rule.reset {
        ResetSource::EpochHeader(name) => {
            header(name)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|secs| {
                    (SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
                        .duration_since(now)
                        .unwrap_or(Duration::ZERO)
                })
        }
        ResetSource::DelayHeader(name) => {
            header(name).and_then(|v| super::outbound::delay_value(v, now))
        }
        ResetSource::None => None,
    };
    Some(read.unwrap_or(fallback).min(MAX_RULE_PAUSE))
}

impl PauseObserver for buildsnap_metrics::Metrics {
    fn paused(&self, plugin: &str, _pause: Duration) {
        self.record_provider_pause(plugin);
    }
    fn held(&self, plugin: &str, waited: Duration, sent: bool) {
        self.record_paused_request(plugin, waited.as_secs_f64(), sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::wit::latest::provider::HeaderTest;

    /// GitHub's two rules as its plugin declares them.
    fn github_rules() -> Vec<RateLimitRule> {
        vec![
            RateLimitRule {
                statuses: vec![403, 429],
                headers: vec![HeaderTest {
                    name: "x-ratelimit-remaining".into(),
                    value: Some("0".into()),
                }],
                reset: ResetSource::EpochHeader("x-ratelimit-reset".into()),
                fallback_ms: 60_000,
            },
            RateLimitRule {
                statuses: vec![403, 429],
                headers: vec![HeaderTest {
                    name: "retry-after".into(),
                    value: None,
                }],
                reset: ResetSource::DelayHeader("retry-after".into()),
                fallback_ms: 60_000,
            },
        ]
    }

    fn hs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_rule_matches_on_status_and_every_header_test() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        let rules = github_rules();
        let limited = hs(&[
            ("X-RateLimit-Remaining", " 0 "),
            ("x-ratelimit-reset", "1750000042"),
        ]);
        assert_eq!(
            rule_pause(&rules, 403, &limited, now),
            Some(Duration::from_secs(42))
        );
        // A 403 that is a permission error (budget left) is no rate limit.
        let denied = hs(&[
            ("x-ratelimit-remaining", "4999"),
            ("x-ratelimit-reset", "1750000042"),
        ]);
        assert_eq!(rule_pause(&rules, 403, &denied, now), None);
        // Not one of the rule's statuses.
        assert_eq!(rule_pause(&rules, 404, &limited, now), None);
        // The second rule: a secondary limit's retry-after.
        assert_eq!(
            rule_pause(&rules, 403, &hs(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        // A reset in the past: no wait. Unreadable: the fallback.
        let past = hs(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1749999000"),
        ]);
        assert_eq!(rule_pause(&rules, 429, &past, now), Some(Duration::ZERO));
        let junk = hs(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "soon"),
        ]);
        assert_eq!(
            rule_pause(&rules, 403, &junk, now),
            Some(Duration::from_secs(60))
        );
        // A reset a day away is capped at an hour.
        let far = hs(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1750086400"),
        ]);
        assert_eq!(rule_pause(&rules, 403, &far, now), Some(MAX_RULE_PAUSE));
        assert_eq!(rule_pause(&[], 403, &limited, now), None);
    }
    use std::sync::atomic::{AtomicU32, Ordering};

    fn key(org: &str) -> PauseKey {
        PauseKey {
            org: org.into(),
            plugin: "circleci".into(),
            origin: Origin::parse("https://circleci.com").unwrap(),
        }
    }

    #[test]
    fn declared_pauses() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let h = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        let s = Duration::from_secs;
        assert_eq!(declared_pause(429, &h("Retry-After", "2"), now), Some(s(2)));
        assert_eq!(declared_pause(503, &h("retry-after", "9"), now), Some(s(9)));
        let date = httpdate::fmt_http_date(now + s(30));
        assert_eq!(
            declared_pause(429, &h("retry-after", &date), now),
            Some(s(30))
        );
        assert_eq!(
            declared_pause(429, &h("x-ratelimit-reset", "12"), now),
            Some(s(12))
        );
        assert_eq!(
            declared_pause(429, &h("RateLimit-Reset", "2000000040"), now),
            Some(s(40))
        );
        // Only rate-limit answers pause; a 500's header is the request's.
        assert_eq!(declared_pause(500, &h("retry-after", "2"), now), None);
        assert_eq!(declared_pause(200, &h("retry-after", "2"), now), None);
        assert_eq!(declared_pause(429, &[], now), None);
    }

    #[test]
    fn one_pause_per_integration() {
        let pauses = Pauses::new();
        let a = pauses.get(key("acme"));
        assert!(Arc::ptr_eq(&a, &pauses.get(key("acme"))));
        assert!(!Arc::ptr_eq(&a, &pauses.get(key("other"))));
        assert!(!Arc::ptr_eq(&a, &pauses.private("circleci")));
    }

    /// A store that keeps what it is told.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<(PauseKey, u64)>>);
    impl PauseStore for Recorded {
        fn record(&self, key: &PauseKey, until_unix_ms: u64) {
            self.0.lock().unwrap().push((key.clone(), until_unix_ms));
        }
    }

    #[test]
    fn pauses_are_recorded_and_taken_up_elsewhere() {
        let record = Arc::new(Recorded::default());
        let first = Pauses::new();
        assert!(first.record_to(record.clone()));
        first.get(key("acme")).extend(Duration::from_secs(30));
        // A shorter one is no change: not recorded.
        first.get(key("acme")).extend(Duration::from_secs(10));
        first.get(key("gone")).extend(Duration::from_millis(1));
        let written = record.0.lock().unwrap().clone();
        assert_eq!(written.len(), 2, "{written:?}");
        let (k, acme_end) = written[0].clone();
        assert_eq!(k, key("acme"));
        let ahead = acme_end - unix_ms(SystemTime::now());
        assert!((29_000..=30_000).contains(&ahead), "{ahead}");
        std::thread::sleep(Duration::from_millis(5));
        // Another process (or the next one) takes up what is left of them.
        let second = Pauses::new();
        let other = Arc::new(Recorded::default());
        second.record_to(other.clone());
        for (k, end) in written {
            second.take_up(k, end);
        }
        let left = second.get(key("acme")).until().unwrap() - Instant::now();
        assert!(left > Duration::from_secs(29), "{left:?}");
        assert!(second.get(key("gone")).until().is_none(), "ended: ignored");
        assert!(second.get(key("other")).until().is_none());
        assert!(
            !second.take_up(key("acme"), acme_end - 5_000),
            "a shorter one"
        );
        assert!(
            other.0.lock().unwrap().is_empty(),
            "taken up, not recorded again"
        );
    }

    #[test]
    fn the_old_pause_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rate-limit-pauses.json");
        assert_eq!(read_pause_file(&path).unwrap(), None);
        std::fs::write(
            &path,
            r#"[{"org":"acme","plugin":"circleci","origin":"https://circleci.com","until_unix_ms":42},
                {"org":"acme","plugin":"circleci","origin":"not an origin","until_unix_ms":43}]"#,
        )
        .unwrap();
        assert_eq!(
            read_pause_file(&path).unwrap(),
            Some(vec![PauseEnd {
                key: key("acme"),
                until_unix_ms: 42
            }])
        );
        std::fs::write(&path, "not json").unwrap();
        let err = read_pause_file(&path).unwrap_err();
        assert!(err.to_string().contains("rate-limit-pauses.json"), "{err}");
    }

    #[derive(Default)]
    struct Count {
        paused: AtomicU32,
        sent: AtomicU32,
        refused: AtomicU32,
    }
    impl PauseObserver for Count {
        fn paused(&self, _: &str, _: Duration) {
            self.paused.fetch_add(1, Ordering::SeqCst);
        }
        fn held(&self, _: &str, _: Duration, sent: bool) {
            let c = if sent { &self.sent } else { &self.refused };
            c.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn waits_grow_and_refuse_past_the_deadline() {
        let pauses = Pauses::new();
        let count = Arc::new(Count::default());
        pauses.observe(count.clone());
        let p = pauses.get(key("acme"));
        let far = Instant::now() + Duration::from_secs(10);
        // Not paused: no wait, nothing reported.
        p.wait(far, Duration::ZERO).await.unwrap();
        p.extend(Duration::from_millis(200));
        // A shorter pause never ends the longer one.
        p.extend(Duration::from_millis(10));
        assert_eq!(count.paused.load(Ordering::SeqCst), 1);
        let started = Instant::now();
        p.wait(far, Duration::ZERO).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(190),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(count.sent.load(Ordering::SeqCst), 1);
        // A call that cannot wait long enough is refused at once.
        p.extend(Duration::from_secs(5));
        let soon = Instant::now() + Duration::from_secs(1);
        let err = p.wait(soon, Duration::ZERO).await.unwrap_err();
        assert!(err.retry_after > Duration::from_secs(4), "{err:?}");
        assert_eq!(count.refused.load(Ordering::SeqCst), 1);
    }
}
