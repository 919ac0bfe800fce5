//! The simulated clock.
//!
//! Simulated time is `base + (real elapsed since base was set, if running)`.
//! Tests usually keep it frozen and call [`SimClock::advance`] to move a
//! simulated build through its states deterministically; a simulator's
//! binary lets it run with real time. Every change wakes the webhook dispatcher.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

#[derive(Debug)]
struct Inner {
    base: DateTime<Utc>,
    set_at: Instant,
    running: bool,
}

/// Shared, cloneable handle to the simulated clock.
#[derive(Clone, Debug)]
pub struct SimClock {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
}

impl SimClock {
    /// A clock at `start`; advancing with real time when `running`.
    pub fn new(start: DateTime<Utc>, running: bool) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                base: start,
                set_at: Instant::now(),
                running,
            })),
            changed: Arc::new(Notify::new()),
        }
    }

    /// Current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        let i = self.inner.lock().unwrap();
        Self::compute(&i)
    }

    fn compute(i: &Inner) -> DateTime<Utc> {
        if i.running {
            i.base + chrono::Duration::from_std(i.set_at.elapsed()).unwrap_or_default()
        } else {
            i.base
        }
    }

    /// Jumps to `t` (backwards too; already-sent webhooks are not re-sent).
    pub fn set(&self, t: DateTime<Utc>) {
        let mut i = self.inner.lock().unwrap();
        i.base = t;
        i.set_at = Instant::now();
        drop(i);
        self.changed.notify_waiters();
    }

    /// Moves simulated time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut i = self.inner.lock().unwrap();
        i.base = Self::compute(&i) + chrono::Duration::from_std(d).unwrap_or_default();
        i.set_at = Instant::now();
        drop(i);
        self.changed.notify_waiters();
    }

    /// Starts or stops following real time (the current instant is kept).
    pub fn set_running(&self, running: bool) {
        let mut i = self.inner.lock().unwrap();
        i.base = Self::compute(&i);
        i.set_at = Instant::now();
        i.running = running;
        drop(i);
        self.changed.notify_waiters();
    }

    /// Whether the clock follows real time.
    pub fn is_running(&self) -> bool {
        self.inner.lock().unwrap().running
    }

    /// Resolves when the clock is next changed by `set`/`advance`/`set_running`.
    pub fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_only_moves_when_told() {
        let start = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = SimClock::new(start, false);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.now(), start);
        c.advance(Duration::from_secs(90));
        assert_eq!(c.now(), start + chrono::Duration::seconds(90));
        c.set(start);
        assert_eq!(c.now(), start);
    }

    #[test]
    fn running_clock_follows_real_time() {
        let start = Utc::now();
        let c = SimClock::new(start, true);
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.now() >= start + chrono::Duration::milliseconds(20));
    }
}
