//! Connection admission and accept back-off.
//!
//! A cap on the connections being served keeps the process below its file
//! descriptor limit (a typical 1024): past it, `accept` fails with EMFILE,
//! and then not even `/healthz` gets through. Connections over the cap are
//! not left waiting in the kernel's backlog either: a small overflow lane
//! accepts them and answers at once, `/healthz` as usual (so a probe sees a
//! live server) and anything else with 503 `overloaded`, then closes. Only
//! when the overflow lane is full too is a connection closed unanswered.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default cap on served connections: below a typical 1024 descriptor limit,
/// with room for the overflow lane, the database and plugin files.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Where an accepted connection goes. The permit is held for as long as the
/// connection lives.
pub(crate) enum Slot {
    /// Within the cap: served in full.
    Served(#[allow(dead_code)] OwnedSemaphorePermit),
    /// Over the cap: one quick answer, then closed.
    Overflow(#[allow(dead_code)] OwnedSemaphorePermit),
    /// Over the cap and the overflow lane: closed at once.
    Refused,
}

/// The two lanes' capacities.
#[derive(Clone)]
pub(crate) struct Admission {
    served: Arc<Semaphore>,
    overflow: Arc<Semaphore>,
}

impl Admission {
    /// `max` served connections; the overflow lane gets an eighth of that,
    /// at least 8 and at most 64.
    pub(crate) fn new(max: usize) -> Admission {
        let max = max.max(1);
        Admission {
            served: Arc::new(Semaphore::new(max)),
            overflow: Arc::new(Semaphore::new((max / 8).clamp(8, 64))),
        }
    }

    /// The lane of a connection just accepted.
    pub(crate) fn admit(&self) -> Slot {
        if let Ok(p) = self.served.clone().try_acquire_owned() {
            return Slot::Served(p);
        }
        match self.overflow.clone().try_acquire_owned() {
            Ok(p) => Slot::Overflow(p),
            Err(_) => Slot::Refused,
        }
    }
}

/// Back-off after failed accepts (EMFILE, ENFILE, ENOBUFS): the failing
/// connection stays in the backlog, so retrying at once would spin. The
/// wait doubles from 10 ms to 500 ms; only the first failure of a burst is
/// logged, and the first success after one says how many there were.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    failures: u64,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_millis(500);

    /// After a failed accept: how long to wait, and whether to log it.
    pub(crate) fn failed(&mut self) -> (Duration, bool) {
        let shift = self.failures.min(16) as u32;
        self.failures += 1;
        let wait = Self::FIRST.saturating_mul(1 << shift).min(Self::MAX);
        (wait, self.failures == 1)
    }

    /// After a successful accept: the failures of the burst it ends, if any.
    pub(crate) fn succeeded(&mut self) -> Option<u64> {
        let n = std::mem::take(&mut self.failures);
        (n > 0).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_is_logged_once_and_backs_off() {
        let mut b = AcceptBackoff::default();
        let outcomes: Vec<_> = (0..200).map(|_| b.failed()).collect();
        assert_eq!(outcomes.iter().filter(|(_, log)| *log).count(), 1);
        assert!(outcomes[0].1);
        assert_eq!(outcomes[0].0, Duration::from_millis(10));
        assert_eq!(outcomes[1].0, Duration::from_millis(20));
        assert_eq!(outcomes[199].0, Duration::from_millis(500));
        // 200 failures take far longer than 200 × 50 ms would suggest a spin.
        let waited: Duration = outcomes.iter().map(|(d, _)| *d).sum();
        assert!(waited > Duration::from_secs(90), "{waited:?}");
        assert_eq!(b.succeeded(), Some(200));
        assert_eq!(b.succeeded(), None);
        // The next burst is logged again, from the short wait.
        assert_eq!(b.failed(), (Duration::from_millis(10), true));
    }

    #[test]
    fn connections_past_the_cap_overflow_then_are_refused() {
        let a = Admission::new(16);
        let served: Vec<_> = (0..16).map(|_| a.admit()).collect();
        assert!(served.iter().all(|s| matches!(s, Slot::Served(_))));
        let over: Vec<_> = (0..8).map(|_| a.admit()).collect();
        assert!(over.iter().all(|s| matches!(s, Slot::Overflow(_))));
        assert!(matches!(a.admit(), Slot::Refused));
        drop(served);
        assert!(matches!(a.admit(), Slot::Served(_)));
    }
}
