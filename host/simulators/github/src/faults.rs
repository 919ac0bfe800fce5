//! Injected faults: latency, secondary rate limits, 5xx, stalls, reset connections,
//! broken JSON.
//!
//! Rules match a request by path glob (and optionally method) and can be limited to N
//! applications or fire with a probability drawn from a seeded generator, so a random
//! fault schedule is reproducible. All matching latency rules add up; among the other
//! kinds the first matching rule wins, so a test can stack "slow" with "403 twice".
//! The primary rate limit is not a fault: it is the budget in [`crate::ratelimit`].

use std::sync::Mutex;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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
    /// Apply to each matching request with this probability (0..=1), drawn from the
    /// simulator's seeded generator; always when absent.
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
    /// A secondary rate limit: 403 (or 429) with GitHub's message, `retry-after` when set,
    /// and the primary `x-ratelimit-*` headers unchanged (remaining is not 0).
    SecondaryRateLimit {
        /// 403 or 429.
        #[serde(default = "default_secondary_status")]
        status: u16,
        /// `retry-after` seconds; GitHub sometimes omits it (wait at least a minute then).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
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
    /// Reset the TCP connection (RST, not FIN) instead of answering.
    Reset,
    /// 200 with the real body cut in half (Content-Length matches the cut body).
    Truncated,
    /// 200 with a syntactically invalid body (a trailing comma before the final bracket).
    Malformed,
}

fn default_secondary_status() -> u16 {
    403
}

impl Fault {
    /// Short label for logs and the request log.
    pub fn label(&self) -> &'static str {
        match self {
            Fault::Latency { .. } => "latency",
            Fault::SecondaryRateLimit { .. } => "secondary_rate_limit",
            Fault::ServerError { .. } => "server_error",
            Fault::Hang { .. } => "hang",
            Fault::Reset => "reset",
            Fault::Truncated => "truncated",
            Fault::Malformed => "malformed",
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
#[derive(Debug)]
pub struct FaultSet {
    rules: Mutex<Vec<Active>>,
    next_id: Mutex<u64>,
    rng: Mutex<ChaCha8Rng>,
}

impl Default for FaultSet {
    fn default() -> Self {
        Self::seeded(0)
    }
}

impl FaultSet {
    /// An empty set whose probabilistic rules draw from a generator seeded with `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self {
            rules: Mutex::default(),
            next_id: Mutex::default(),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

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
                && !self.rng.lock().unwrap().random_bool(p.clamp(0.0, 1.0))
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
        assert!(glob_match("/repos/*", "/repos/o/r"));
        assert!(glob_match("*/jobs", "/repos/o/r/actions/runs/1/jobs"));
        assert!(glob_match(
            "/repos/*/runs/*/jobs",
            "/repos/o/r/actions/runs/1/jobs"
        ));
        assert!(!glob_match(
            "/repos/*/runs/*/jobs",
            "/repos/o/r/actions/runs/1"
        ));
        assert!(glob_match("/user", "/user"));
        assert!(!glob_match("/user", "/user/repos"));
    }

    #[test]
    fn probabilistic_rules_repeat_with_the_seed() {
        let draw = |seed| {
            let set = FaultSet::seeded(seed);
            set.add(FaultRule {
                probability: Some(0.5),
                ..FaultRule::always("*", Fault::Reset)
            });
            (0..64)
                .map(|_| set.decide("GET", "/x").fault.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let hits = draw(7).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "{hits}");
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
