//! GitHub's primary rate limit: a request budget per user per window, with the
//! `x-ratelimit-*` headers on every answer.
//!
//! The window runs on real (wall-clock) time, not the simulated clock: clients compare
//! `x-ratelimit-reset` (epoch seconds) with their own clock, so a simulated reset would
//! be meaningless to them. Tests use a small budget and a short window, or
//! [`RateLimiter::reset`]. A 304 answer is refunded, as GitHub does not count it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Budget settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Requests per window for an authenticated user (GitHub: 5,000 per hour).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Requests per window without a token (GitHub: 60 per hour per address).
    #[serde(default = "default_anonymous")]
    pub anonymous_limit: u32,
    /// Window length in seconds, counted from the first request of the window.
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// Status of an over-budget answer: GitHub uses 403 and 429.
    #[serde(default = "default_status")]
    pub exhausted_status: u16,
}

fn default_limit() -> u32 {
    5000
}
fn default_anonymous() -> u32 {
    60
}
fn default_window() -> u64 {
    3600
}
fn default_status() -> u16 {
    403
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            limit: default_limit(),
            anonymous_limit: default_anonymous(),
            window_secs: default_window(),
            exhausted_status: default_status(),
        }
    }
}

/// The budget of one client as the headers report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// `x-ratelimit-limit`.
    pub limit: u32,
    /// `x-ratelimit-remaining`.
    pub remaining: u32,
    /// `x-ratelimit-used`.
    pub used: u32,
    /// `x-ratelimit-reset`: epoch second at which the window ends.
    pub reset: u64,
}

impl Budget {
    /// Whether nothing is left until `reset`.
    pub fn exhausted(&self) -> bool {
        self.remaining == 0
    }

    /// The five headers GitHub sends with every answer.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset.to_string()),
            ("x-ratelimit-used", self.used.to_string()),
            ("x-ratelimit-resource", "core".to_owned()),
        ]
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    reset: u64,
    used: u32,
}

/// Per-client windows (keyed by login, `""` for anonymous clients).
#[derive(Debug, Default)]
pub struct RateLimiter {
    config: Mutex<RateLimitConfig>,
    windows: Mutex<HashMap<String, Window>>,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

impl RateLimiter {
    /// A limiter with these settings.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config: Mutex::new(config),
            windows: Mutex::default(),
        }
    }

    /// Current settings.
    pub fn config(&self) -> RateLimitConfig {
        self.config.lock().unwrap().clone()
    }

    /// Replaces the settings (running windows keep their reset time).
    pub fn set_config(&self, c: RateLimitConfig) {
        *self.config.lock().unwrap() = c;
    }

    /// Ends every window now: the next request of each client starts a fresh budget.
    pub fn reset(&self) {
        self.windows.lock().unwrap().clear();
    }

    fn with_window<T>(&self, key: &str, f: impl FnOnce(&mut Window, u32) -> T) -> T {
        let cfg = self.config();
        let limit = if key.is_empty() {
            cfg.anonymous_limit
        } else {
            cfg.limit
        };
        let now = now_ms();
        let mut windows = self.windows.lock().unwrap();
        let w = windows
            .entry(key.to_owned())
            .or_insert(Window { reset: 0, used: 0 });
        if u128::from(w.reset) * 1000 <= now {
            // Round the end up to a whole second: waiting until `reset` is then enough.
            let end = now + u128::from(cfg.window_secs.max(1)) * 1000;
            *w = Window {
                reset: end.div_ceil(1000) as u64,
                used: 0,
            };
        }
        f(w, limit)
    }

    fn budget(w: &Window, limit: u32) -> Budget {
        let used = w.used.min(limit);
        Budget {
            limit,
            remaining: limit - used,
            used,
            reset: w.reset,
        }
    }

    /// The client's budget without spending any.
    pub fn peek(&self, key: &str) -> Budget {
        self.with_window(key, |w, limit| Self::budget(w, limit))
    }

    /// Spends one request and returns the budget after it.
    pub fn charge(&self, key: &str) -> Budget {
        self.with_window(key, |w, limit| {
            w.used = w.used.saturating_add(1);
            Self::budget(w, limit)
        })
    }

    /// Gives one request back (a 304 answer).
    pub fn refund(&self, key: &str) -> Budget {
        self.with_window(key, |w, limit| {
            w.used = w.used.saturating_sub(1);
            Self::budget(w, limit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_runs_out_and_refunds() {
        let rl = RateLimiter::new(RateLimitConfig {
            limit: 2,
            ..RateLimitConfig::default()
        });
        let first = rl.charge("alice");
        assert_eq!((first.remaining, first.used), (1, 1));
        assert!(u128::from(first.reset) * 1000 > now_ms());
        assert_eq!(rl.charge("alice").remaining, 0);
        assert!(rl.peek("alice").exhausted());
        assert!(!rl.peek("bob").exhausted(), "budgets are per client");
        assert_eq!(rl.refund("alice").remaining, 1);
        rl.reset();
        assert_eq!(rl.peek("alice").remaining, 2);
        assert_eq!(rl.peek("").limit, 60);
    }
}
