//! Injected faults: latency, rate limiting, 5xx, hangs, broken JSON,
//! reset connections.
//!
//! Rules match a request by path glob (and optionally method) and can be
//! limited to N applications, or made to apply to a share of the matching
//! requests (`probability`, from a seeded generator so runs repeat). All
//! matching latency rules add up; among the other kinds the first matching
//! rule wins, so a test can stack "slow" with "429 twice".

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One fault switch.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FaultRule {
    /// Glob over the request path (no query); `*` matches any characters including `/`.
    pub path: String,
    /// Only requests with this method (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// What to do.
    pub fault: Fault,
    /// Apply to this many matching requests, then stop; `None` = always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Let this many matching requests through before the rule starts applying.
    #[serde(default)]
    pub skip: u32,
    /// Apply to each matching request with this probability (0 to 1); `None`
    /// = to every one. A request the draw spares does not use up `times`,
    /// and the next rule may take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl FaultRule {
    /// A rule that applies to every request matching `path` forever.
    pub fn always(path: impl Into<String>, fault: Fault) -> Self {
        Self {
            path: path.into(),
            method: None,
            fault,
            times: None,
            skip: 0,
            probability: None,
        }
    }

    /// Whether the rule can be used: a `probability` is a number from 0 to 1.
    pub fn validate(&self) -> Result<(), String> {
        match self.probability {
            Some(p) if !(0.0..=1.0).contains(&p) => Err(format!(
                "fault rule for `{}`: probability must be between 0 and 1, got {p}",
                self.path
            )),
            _ => Ok(()),
        }
    }

    /// A rule that applies to each request matching `path` with
    /// probability `p`.
    pub fn sometimes(path: impl Into<String>, p: f64, fault: Fault) -> Self {
        Self {
            probability: Some(p),
            ..Self::always(path, fault)
        }
    }

    /// A rule that applies to the next `n` requests matching `path`.
    pub fn times(path: impl Into<String>, n: u32, fault: Fault) -> Self {
        Self {
            times: Some(n),
            ..Self::always(path, fault)
        }
    }
}

/// Fault kinds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Delay the response, then answer normally.
    Latency {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// 429 with a `Retry-After` header.
    RateLimit {
        /// Seconds the client must wait.
        retry_after_secs: u64,
        /// Body shape; real CircleCI has used all of them.
        #[serde(default)]
        body: RateLimitBody,
        /// Send `Retry-After` as an HTTP-date instead of seconds.
        #[serde(default)]
        http_date: bool,
    },
    /// A 5xx (or any) status with a canned body.
    ServerError {
        /// HTTP status.
        status: u16,
        /// Body override; default depends on the status.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Accept the request and never answer (or close without answering after `ms`).
    Hang {
        /// Close the connection after this long; `None` = wait until shutdown/client gives up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
    },
    /// 200 with the real body cut in half (Content-Length matches the cut body).
    Truncated,
    /// 200 with a syntactically invalid body (a trailing comma before the final bracket).
    Malformed,
    /// Reset the connection (TCP RST, no response) as soon as the request
    /// has arrived, as a crashing proxy or a dropped NAT entry does.
    Reset,
}

/// Body of a simulated 429.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitBody {
    /// `{"message":"Rate limit exceeded."}` (the spec's shape).
    #[default]
    Json,
    /// `Rate limited.` as text/plain (seen in the wild).
    PlainText,
    /// `{}` (seen in the wild).
    EmptyObject,
}

impl Fault {
    /// Short label for logs and the request log.
    pub fn label(&self) -> &'static str {
        match self {
            Fault::Latency { .. } => "latency",
            Fault::RateLimit { .. } => "rate_limit",
            Fault::ServerError { .. } => "server_error",
            Fault::Hang { .. } => "hang",
            Fault::Truncated => "truncated",
            Fault::Malformed => "malformed",
            Fault::Reset => "reset",
        }
    }
}

/// What the fault layer decided for one request.
#[derive(Debug, Default)]
pub struct Decision {
    /// Total latency to add.
    pub delay: Duration,
    /// The non-latency fault to apply, if any.
    pub fault: Option<Fault>,
}

#[derive(Debug)]
struct Active {
    id: u64,
    rule: FaultRule,
    seen: u32,
    applied: u32,
}

/// Thread-safe set of active rules.
#[derive(Debug, Default)]
pub struct FaultSet {
    rules: Mutex<Vec<Active>>,
    next_id: Mutex<u64>,
    /// State of the generator behind `probability` (SplitMix64).
    draws: Mutex<u64>,
}

/// The next draw in [0, 1) of a SplitMix64 generator.
fn next_unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl FaultSet {
    /// Adds a rule; returns its id for [`FaultSet::remove`].
    pub fn add(&self, rule: FaultRule) -> u64 {
        let mut next = self.next_id.lock().unwrap();
        *next += 1;
        let id = *next;
        self.rules.lock().unwrap().push(Active {
            id,
            rule,
            seen: 0,
            applied: 0,
        });
        id
    }

    /// Restarts the generator behind `probability` rules from `seed`, so a
    /// run's faults repeat (default seed 0).
    pub fn seed(&self, seed: u64) {
        *self.draws.lock().unwrap() = seed;
    }

    /// Removes one rule; returns whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.rules.lock().unwrap();
        let before = rules.len();
        rules.retain(|a| a.id != id);
        rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// Active rules with their ids and how often each has fired.
    pub fn list(&self) -> Vec<(u64, FaultRule, u32)> {
        self.rules
            .lock()
            .unwrap()
            .iter()
            .map(|a| (a.id, a.rule.clone(), a.applied))
            .collect()
    }

    /// Decides the faults for one request and consumes rule budgets.
    pub fn decide(&self, method: &str, path: &str) -> Decision {
        let mut decision = Decision::default();
        for a in self.rules.lock().unwrap().iter_mut() {
            let method_ok = a
                .rule
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            if !method_ok || !glob_match(&a.rule.path, path) {
                continue;
            }
            let is_latency = matches!(a.rule.fault, Fault::Latency { .. });
            if !is_latency && decision.fault.is_some() {
                continue; // an earlier rule already owns this request; keep this rule's budget
            }
            a.seen += 1;
            if a.seen <= a.rule.skip || a.rule.times.is_some_and(|n| a.applied >= n) {
                continue;
            }
            if let Some(p) = a.rule.probability
                && next_unit(&mut self.draws.lock().unwrap()) >= p
            {
                continue;
            }
            a.applied += 1;
            match &a.rule.fault {
                Fault::Latency { ms } => decision.delay += Duration::from_millis(*ms),
                other => decision.fault = Some(other.clone()),
            }
        }
        decision
    }
}

pub use sim_kit::glob::glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("/api/v2/*", "/api/v2/me"));
        assert!(glob_match("*/job", "/api/v2/workflow/abc/job"));
        assert!(glob_match(
            "/api/v2/workflow/*/job",
            "/api/v2/workflow/abc/job"
        ));
        assert!(!glob_match(
            "/api/v2/workflow/*/job",
            "/api/v2/workflow/abc"
        ));
        assert!(glob_match("/api/v2/me", "/api/v2/me"));
        assert!(!glob_match("/api/v2/me", "/api/v2/me/collaborations"));
    }

    #[test]
    fn probability_applies_to_a_seeded_share() {
        let run = |seed| {
            let set = FaultSet::default();
            set.seed(seed);
            set.add(FaultRule::sometimes("*", 0.2, Fault::Reset));
            set.add(FaultRule::times("*", 3, Fault::Truncated));
            (0..10_000)
                .map(|_| set.decide("GET", "/x").fault)
                .collect::<Vec<_>>()
        };
        let a = run(7);
        let resets = a.iter().filter(|f| **f == Some(Fault::Reset)).count();
        assert!((1_800..2_200).contains(&resets), "{resets}");
        // A spared request falls through to the next rule.
        assert_eq!(
            a.iter().filter(|f| **f == Some(Fault::Truncated)).count(),
            3
        );
        assert_eq!(a, run(7), "same seed, same faults");
        assert_ne!(a, run(8));
    }

    #[test]
    fn budgets_skip_and_stacking() {
        let set = FaultSet::default();
        set.add(FaultRule::always("*", Fault::Latency { ms: 5 }));
        set.add(FaultRule {
            skip: 1,
            ..FaultRule::times("/a", 2, Fault::Truncated)
        });
        set.add(FaultRule::times("/a", 1, Fault::Malformed));
        // 1st: truncated rule skips it, malformed applies.
        let d = set.decide("GET", "/a");
        assert_eq!(
            (d.delay, d.fault),
            (Duration::from_millis(5), Some(Fault::Malformed))
        );
        // 2nd and 3rd: truncated; 4th: nothing left.
        assert_eq!(set.decide("GET", "/a").fault, Some(Fault::Truncated));
        assert_eq!(set.decide("GET", "/a").fault, Some(Fault::Truncated));
        assert_eq!(set.decide("GET", "/a").fault, None);
        assert_eq!(set.decide("GET", "/b").fault, None);
    }
}
