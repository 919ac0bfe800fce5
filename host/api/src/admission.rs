//! Connection admission: how many connections are served in full, and the
//! small overflow lane past that cap (see `conn` for what each lane gets).
//! Its own module because the app's builder sizes it and the accept loop
//! uses it, and neither should depend on the other.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default cap on served connections: below a typical 1024 descriptor limit,
/// with room for the overflow lane, the database and plugin files.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

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

#[cfg(test)]
mod tests {
    use super::*;

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
