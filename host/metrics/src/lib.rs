//! buildsnap's metrics: Prometheus text exposition format 0.0.4, which the
//! HTTP API serves at `GET /metrics`.
//!
//! The crate knows no HTTP library and no plugin runtime: the API bumps the
//! request counters with labels it has already made bounded, the host bumps
//! the plugin-call and capture counters. Both share one `Arc<Metrics>`.
//!
//! Counters are kept in small maps behind mutexes: label sets are bounded
//! (route templates, not raw paths; provider ids; fixed outcome words), and a
//! lock held for one map update is far below the cost of a request.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The service's metrics. Share one `Arc<Metrics>` between the API and the
/// host's workers; the public methods are the hooks the host bumps.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Keyed by `&'static str`: route templates come from the API's route
    /// table and methods from its fixed list of labels, so counting a
    /// request allocates nothing and takes one lock.
    requests: Mutex<RequestStats>,
    plugin_calls: Mutex<BTreeMap<(String, String, String), u64>>,
    captures: Mutex<BTreeMap<String, u64>>,
    capture_queue_depth: AtomicU64,
    in_flight: AtomicI64,
    /// By provider: rate-limit pauses started or extended.
    pauses: Mutex<BTreeMap<String, u64>>,
    /// By (provider, outcome `sent` | `rate_limited`): requests held back
    /// by a pause, and the seconds they were held.
    paused: Mutex<PausedRequests>,
}

/// (provider, outcome) → (requests, seconds held).
type PausedRequests = BTreeMap<(String, &'static str), (u64, f64)>;

#[derive(Debug, Default)]
struct RequestStats {
    /// By (route, method, status).
    count: BTreeMap<(&'static str, &'static str, u16), u64>,
    /// By route: seconds summed, and requests.
    seconds: BTreeMap<&'static str, (f64, u64)>,
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts one HTTP request by route template, method and status.
    /// `method` must come from a fixed set (extension methods mapped to one
    /// word): as labels, client-chosen words would grow the metrics without
    /// bound.
    pub fn record_request(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        seconds: f64,
    ) {
        let mut r = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *r.count.entry((route, method, status)).or_default() += 1;
        let e = r.seconds.entry(route).or_default();
        e.0 += seconds;
        e.1 += 1;
    }

    /// Counts one plugin call: `call` is the export (`validate_credentials`,
    /// `builds_for_commit`, ...), `outcome` a short fixed word (`ok`,
    /// `provider_error`, `timeout`, `trap`, ...; the host's
    /// `CallError::outcome_label`). Recorded by the host, once per call.
    pub fn record_plugin_call(&self, provider: &str, call: &str, outcome: &str) {
        *self
            .plugin_calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((provider.into(), call.into(), outcome.into()))
            .or_default() += 1;
    }

    /// Counts one finished capture by outcome (`complete`, `error`, `retry`).
    pub fn record_capture(&self, outcome: &str) {
        *self
            .captures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(outcome.into())
            .or_default() += 1;
    }

    /// Sets the capture queue depth gauge (jobs queued or running).
    pub fn set_capture_queue_depth(&self, depth: u64) {
        self.capture_queue_depth.store(depth, Ordering::Relaxed);
    }

    /// Counts a rate-limit pause of one of `provider`'s integrations,
    /// started or extended by a 429/503 that said how long to wait.
    pub fn record_provider_pause(&self, provider: &str) {
        *self
            .pauses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(provider.into())
            .or_default() += 1;
    }

    /// Counts a request held back `seconds` by its integration's pause:
    /// `sent` after the pause, or not sent because its call had not that
    /// long left (the call failed as rate-limited).
    pub fn record_paused_request(&self, provider: &str, seconds: f64, sent: bool) {
        let outcome = if sent { "sent" } else { "rate_limited" };
        let mut m = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry((provider.into(), outcome)).or_default();
        e.0 += 1;
        e.1 += seconds;
    }

    /// Moves the gauge of HTTP requests being answered by `d` (+1 when one
    /// starts, -1 when it ends).
    pub fn in_flight_add(&self, d: i64) {
        self.in_flight.fetch_add(d, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut o = String::new();
        o.push_str("# HELP buildsnap_http_requests_total HTTP requests by route template, method and status.\n");
        o.push_str("# TYPE buildsnap_http_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((r, m, s), n) in &requests.count {
            let _ = writeln!(
                o,
                "buildsnap_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{s}\"}} {n}",
                esc(r),
                esc(m)
            );
        }
        o.push_str("# HELP buildsnap_http_request_duration_seconds Time spent answering requests, by route template.\n");
        o.push_str("# TYPE buildsnap_http_request_duration_seconds summary\n");
        for (r, (sum, count)) in &requests.seconds {
            let _ = writeln!(
                o,
                "buildsnap_http_request_duration_seconds_sum{{route=\"{}\"}} {sum}",
                esc(r)
            );
            let _ = writeln!(
                o,
                "buildsnap_http_request_duration_seconds_count{{route=\"{}\"}} {count}",
                esc(r)
            );
        }
        o.push_str("# HELP buildsnap_http_requests_in_flight Requests being answered.\n");
        o.push_str("# TYPE buildsnap_http_requests_in_flight gauge\n");
        let _ = writeln!(
            o,
            "buildsnap_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        o.push_str("# HELP buildsnap_plugin_calls_total Provider plugin calls by provider, call and outcome.\n");
        o.push_str("# TYPE buildsnap_plugin_calls_total counter\n");
        for ((p, c, out), n) in self
            .plugin_calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                o,
                "buildsnap_plugin_calls_total{{provider=\"{}\",call=\"{}\",outcome=\"{}\"}} {n}",
                esc(p),
                esc(c),
                esc(out)
            );
        }
        o.push_str("# HELP buildsnap_captures_total Finished snapshot captures by outcome.\n");
        o.push_str("# TYPE buildsnap_captures_total counter\n");
        for (out, n) in self
            .captures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                o,
                "buildsnap_captures_total{{outcome=\"{}\"}} {n}",
                esc(out)
            );
        }
        o.push_str("# HELP buildsnap_provider_pauses_total Rate-limit pauses of an integration started or extended (a 429/503 with Retry-After or a declared reset), by provider.\n");
        o.push_str("# TYPE buildsnap_provider_pauses_total counter\n");
        for (p, n) in self.pauses.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                o,
                "buildsnap_provider_pauses_total{{provider=\"{}\"}} {n}",
                esc(p)
            );
        }
        let paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        o.push_str("# HELP buildsnap_provider_paused_requests_total Requests held back by their integration's rate-limit pause, by provider and outcome (sent after it, or rate_limited: the call had not that long).\n");
        o.push_str("# TYPE buildsnap_provider_paused_requests_total counter\n");
        for ((p, out), (n, _)) in paused.iter() {
            let _ = writeln!(
                o,
                "buildsnap_provider_paused_requests_total{{provider=\"{}\",outcome=\"{out}\"}} {n}",
                esc(p)
            );
        }
        o.push_str("# HELP buildsnap_provider_paused_seconds_total Seconds requests were held back by rate-limit pauses, by provider and outcome.\n");
        o.push_str("# TYPE buildsnap_provider_paused_seconds_total counter\n");
        for ((p, out), (_, secs)) in paused.iter() {
            let _ = writeln!(
                o,
                "buildsnap_provider_paused_seconds_total{{provider=\"{}\",outcome=\"{out}\"}} {secs}",
                esc(p)
            );
        }
        drop(paused);
        o.push_str("# HELP buildsnap_capture_queue_depth Capture jobs queued or running.\n");
        o.push_str("# TYPE buildsnap_capture_queue_depth gauge\n");
        let _ = writeln!(
            o,
            "buildsnap_capture_queue_depth {}",
            self.capture_queue_depth.load(Ordering::Relaxed)
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let m = Metrics::new();
        m.record_request("/api/v1/orgs/{org}/deploys", "GET", 200, 0.5);
        m.record_request("/api/v1/orgs/{org}/deploys", "GET", 200, 0.25);
        m.record_plugin_call("circleci", "validate", "ok");
        m.record_capture("complete");
        m.set_capture_queue_depth(7);
        m.record_provider_pause("circleci");
        m.record_paused_request("circleci", 1.5, true);
        m.record_paused_request("circleci", 0.5, true);
        m.record_paused_request("circleci", 0.25, false);
        let t = m.render();
        assert!(
            t.contains("buildsnap_provider_pauses_total{provider=\"circleci\"} 1"),
            "{t}"
        );
        assert!(
            t.contains(
                "buildsnap_provider_paused_requests_total{provider=\"circleci\",outcome=\"sent\"} 2"
            ),
            "{t}"
        );
        assert!(t.contains("buildsnap_provider_paused_requests_total{provider=\"circleci\",outcome=\"rate_limited\"} 1"), "{t}");
        assert!(
            t.contains(
                "buildsnap_provider_paused_seconds_total{provider=\"circleci\",outcome=\"sent\"} 2"
            ),
            "{t}"
        );
        assert!(t.contains("buildsnap_http_requests_total{route=\"/api/v1/orgs/{org}/deploys\",method=\"GET\",status=\"200\"} 2"), "{t}");
        assert!(t.contains("buildsnap_http_request_duration_seconds_sum{route=\"/api/v1/orgs/{org}/deploys\"} 0.75"), "{t}");
        assert!(t.contains(
            "buildsnap_plugin_calls_total{provider=\"circleci\",call=\"validate\",outcome=\"ok\"} 1"
        ));
        assert!(t.contains("buildsnap_captures_total{outcome=\"complete\"} 1"));
        assert!(t.contains("buildsnap_capture_queue_depth 7"));
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
