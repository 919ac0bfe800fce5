//! One provider-call budget per integration (org, provider), shared by
//! captures and the background sync, captures first.
//!
//! Each integration has `permits` slots for concurrent plugin calls (every
//! call makes its own burst of requests with the same token, and the
//! provider's rate limit is per token). A capture waits for a slot in FIFO
//! order. The sync takes a slot only when no capture is waiting and at
//! least one slot stays free for captures, and asks again before each call,
//! so it yields to captures between calls.
//!
//! A provider that asks for fewer concurrent requests (its descriptor's
//! `max-concurrency`; GitHub asks for one) gets fewer slots per
//! integration. With one slot the sync cannot keep a slot free, so it runs
//! when no capture waits and the slot is free.
//!
//! Replicas on one PostgreSQL database share each integration's slots
//! ([`Budget::with_shared`], `shared_slots.rs`): a call holds a slot of its
//! replica's lane and one in the database, so the integration's calls in
//! flight stay within its slots across all replicas. Within a replica the
//! order above holds; across replicas captures are served as slots free
//! up, and a sync still never takes the last free slot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildsnap_store::SlotKind;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::shared_slots::{SharedHold, SharedSlots};

struct Lane {
    slots: Arc<Semaphore>,
    captures_waiting: AtomicUsize,
    changed: Notify,
}

/// The budgets of every integration.
pub struct Budget {
    permits: usize,
    /// Fewer slots for these providers (their `max-concurrency`). A lane
    /// takes its size when first used: a cap set later (a plugin loaded
    /// while serving) applies to the integrations not yet served, and a
    /// changed cap of one already served to the next start.
    caps: Mutex<HashMap<String, usize>>,
    lanes: Mutex<HashMap<(String, String), Arc<Lane>>>,
    /// The slots replicas share, when there are replicas (PostgreSQL).
    shared: Option<SharedSlots>,
}

/// A capture counted in its lane's `captures_waiting` while it lives.
struct Waiting<'a>(&'a Lane);

impl<'a> Waiting<'a> {
    fn new(lane: &'a Lane) -> Self {
        lane.captures_waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(lane)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.captures_waiting.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// A held slot; dropping it frees the slot.
pub struct Slot {
    /// Declared first so it is released first: the database slot goes
    /// before the lane's permit lets the next local call ask for one.
    _shared: Option<SharedHold>,
    _permit: OwnedSemaphorePermit,
    lane: Arc<Lane>,
}

impl Slot {
    /// Drops the slot as a replica that died would: its database slot
    /// stays held until it expires.
    #[cfg(test)]
    fn abandon(mut self) {
        if let Some(shared) = self._shared.take() {
            shared.abandon();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.lane.changed.notify_waiters();
    }
}

impl Budget {
    /// `permits` concurrent calls per integration (at least 2: one slot is
    /// always kept for captures).
    pub fn new(permits: usize) -> Budget {
        Budget {
            permits: permits.max(2),
            caps: Mutex::default(),
            lanes: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Also holds every call's slot in the database, shared with the other
    /// replicas of the same database.
    pub fn with_shared(mut self, shared: SharedSlots) -> Budget {
        self.shared = Some(shared);
        self
    }

    /// A call slot of (org, provider) was released on some replica
    /// (a store event): this replica's waiters for one try again. Without
    /// shared slots (SQLite) there is nothing to wake.
    pub fn slot_freed(&self, org: &str, provider: &str) {
        if let Some(shared) = &self.shared {
            shared.freed(org, provider);
        }
    }

    /// Events may have been missed: every waiter for a shared slot tries
    /// again.
    pub fn slots_resync(&self) {
        if let Some(shared) = &self.shared {
            shared.freed_all();
        }
    }

    /// At most `cap` slots per integration of `provider` (at least 1).
    pub fn with_cap(self, provider: &str, cap: usize) -> Budget {
        self.set_cap(provider, cap);
        self
    }

    /// Sets `provider`'s cap unless one is set (see the note on `caps`).
    pub fn set_cap(&self, provider: &str, cap: usize) {
        self.caps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(provider.to_string())
            .or_insert(cap.max(1));
    }

    /// Slots per integration of `provider`.
    pub fn slots(&self, provider: &str) -> usize {
        self.caps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(provider)
            .map_or(self.permits, |&cap| cap.min(self.permits))
    }

    fn lane(&self, org: &str, provider: &str) -> Arc<Lane> {
        self.lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((org.to_string(), provider.to_string()))
            .or_insert_with(|| {
                Arc::new(Lane {
                    slots: Arc::new(Semaphore::new(self.slots(provider))),
                    captures_waiting: AtomicUsize::new(0),
                    changed: Notify::new(),
                })
            })
            .clone()
    }

    /// A slot for a capture (priority: the sync stops taking slots while
    /// any capture waits).
    pub async fn capture(&self, org: &str, provider: &str) -> Slot {
        let lane = self.lane(org, provider);
        // Counted as waiting until it holds a slot, or until the wait is
        // dropped (a capture abandoned at a disable): the guard's drop
        // uncounts it either way, so the sync is never held off by a
        // capture that stopped waiting.
        let waiting = Waiting::new(&lane);
        let permit = lane
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("budget semaphore is never closed");
        let shared = match &self.shared {
            Some(shared) => Some(
                shared
                    .take(org, provider, self.slots(provider), SlotKind::Capture)
                    .await,
            ),
            None => None,
        };
        drop(waiting);
        Slot {
            _shared: shared,
            _permit: permit,
            lane,
        }
    }

    /// A slot for the sync: only when no capture is waiting and another
    /// slot stays free for the next capture (with a single slot: when it
    /// is free).
    pub async fn sync(&self, org: &str, provider: &str) -> Slot {
        let lane = self.lane(org, provider);
        let keep_free = self.slots(provider).min(2);
        // How long to wait before the next try: 100 ms, doubling to 1 s
        // while the database says every slot is held elsewhere (each try
        // there is a write).
        let mut pause = Duration::from_millis(100);
        loop {
            let notified = lane.changed.notified();
            if lane.captures_waiting.load(Ordering::SeqCst) == 0
                && lane.slots.available_permits() >= keep_free
                && let Ok(permit) = lane.slots.clone().try_acquire_owned()
            {
                let shared = match &self.shared {
                    None => None,
                    Some(shared) => {
                        match shared
                            .try_take(org, provider, self.slots(provider), SlotKind::Sync)
                            .await
                        {
                            Some(hold) => Some(hold),
                            None => {
                                drop(permit);
                                pause = (pause * 2).min(Duration::from_secs(1));
                                let _ = tokio::time::timeout(pause, notified).await;
                                continue;
                            }
                        }
                    }
                };
                return Slot {
                    _shared: shared,
                    _permit: permit,
                    lane: lane.clone(),
                };
            }
            // Woken by a slot freed or a capture served; the timeout covers
            // a wake-up that raced with the check above.
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    /// Captures waiting for a slot of this integration.
    pub fn captures_waiting(&self, org: &str, provider: &str) -> usize {
        self.lane(org, provider)
            .captures_waiting
            .load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::shared_slots::SharedSlots;

    /// At most `permits` captures of one integration hold slots at once,
    /// the waiting ones are served in arrival order, and another
    /// integration's captures do not wait behind them.
    #[tokio::test]
    async fn captures_hold_at_most_the_permits_and_are_served_first_come_first_served() {
        let budget = Arc::new(Budget::new(2));
        let a = budget.capture("o", "p").await;
        let b = budget.capture("o", "p").await;
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..4 {
            let (bu, sv) = (budget.clone(), served.clone());
            waiting.push(tokio::spawn(async move {
                let slot = bu.capture("o", "p").await;
                sv.lock().unwrap().push(n);
                slot
            }));
            // Arrival order is the order they start waiting in.
            while budget.captures_waiting("o", "p") < n + 1 {
                tokio::task::yield_now().await;
            }
        }
        // Full: nobody of this integration gets a slot; another one does.
        assert!(served.lock().unwrap().is_empty());
        let other = tokio::time::timeout(Duration::from_secs(1), budget.capture("o2", "p"))
            .await
            .expect("another integration has its own slots");
        drop(a);
        let first = waiting.remove(0).await.unwrap();
        assert_eq!(*served.lock().unwrap(), [0]);
        drop(b);
        drop(first);
        let second = waiting.remove(0).await.unwrap();
        let third = waiting.remove(0).await.unwrap();
        // Both slots held: the fourth still waits, whatever time it gets.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*served.lock().unwrap(), [0, 1, 2]);
        assert_eq!(budget.captures_waiting("o", "p"), 1);
        drop(second);
        let fourth = waiting.remove(0).await.unwrap();
        assert_eq!(
            *served.lock().unwrap(),
            [0, 1, 2, 3],
            "first come, first served"
        );
        drop((third, fourth));
        drop(other);
    }

    #[tokio::test]
    async fn sync_yields_to_captures_and_leaves_a_slot() {
        let budget = Arc::new(Budget::new(2));
        let a = budget.capture("o", "p").await;
        // One slot left: the sync may not take the last one.
        let b2 = budget.clone();
        let sync = tokio::spawn(async move { b2.sync("o", "p").await });
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(!sync.is_finished(), "sync took the last free slot");
        // A capture still gets it at once.
        let b = tokio::time::timeout(Duration::from_millis(100), budget.capture("o", "p"))
            .await
            .expect("capture served");
        drop(a);
        drop(b);
        let s = tokio::time::timeout(Duration::from_secs(1), sync)
            .await
            .expect("sync served once free")
            .unwrap();
        // Other integrations are independent.
        let _other = tokio::time::timeout(Duration::from_millis(100), budget.capture("o2", "p"))
            .await
            .unwrap();
        drop(s);
        assert_eq!(budget.captures_waiting("o", "p"), 0);
    }

    #[tokio::test]
    async fn a_provider_capped_at_one_gets_one_slot_shared_with_the_sync() {
        let budget = Arc::new(Budget::new(4).with_cap("gha", 1));
        assert_eq!((budget.slots("gha"), budget.slots("circleci")), (1, 4));
        let held = budget.capture("o", "gha").await;
        let second = tokio::time::timeout(Duration::from_millis(50), budget.capture("o", "gha"));
        assert!(second.await.is_err(), "one call at a time");
        // The abandoned wait is no longer counted.
        assert_eq!(budget.captures_waiting("o", "gha"), 0);
        let sync = tokio::time::timeout(Duration::from_millis(50), budget.sync("o", "gha"));
        assert!(sync.await.is_err(), "the sync waits for the slot too");
        drop(held);
        let sync = tokio::time::timeout(Duration::from_secs(1), budget.sync("o", "gha"))
            .await
            .expect("with one slot the sync runs once it is free");
        drop(sync);
    }

    /// A release wakes the other replica's waiter at once, through the
    /// store's event, not at its next poll: with a first poll a minute
    /// away, B still gets A's freed slot within seconds.
    #[tokio::test]
    async fn a_release_wakes_the_other_replicas_waiter() {
        use std::sync::atomic::{AtomicBool, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let store = buildsnap_store::Store::open(
            dir.path(),
            buildsnap_store::SecretKey::generate().unwrap(),
        )
        .unwrap();
        let replica = || {
            Arc::new(Budget::new(2).with_shared(
                SharedSlots::new(store.clone()).with_first_poll(Duration::from_secs(60)),
            ))
        };
        let (a, b) = (replica(), replica());
        // What replicas.rs does with the store's events, for B.
        let events = store.subscribe().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let forwarder = {
            let (b, stop) = (b.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(buildsnap_store::StoreEvent::CallSlotFreed { org, provider }) =
                        events.recv_timeout(Duration::from_millis(50))
                    {
                        b.slot_freed(&org, &provider);
                    }
                }
            })
        };
        let a1 = a.capture("o", "p").await;
        let _a2 = a.capture("o", "p").await;
        let b2 = b.clone();
        let waiting = tokio::spawn(async move { b2.capture("o", "p").await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "every slot is A's");
        drop(a1);
        let got = tokio::time::timeout(Duration::from_secs(10), waiting).await;
        assert!(got.is_ok(), "the release woke B before its poll");
        stop.store(true, Ordering::SeqCst);
        forwarder.join().unwrap();
    }

    /// Two replicas (two budgets on one store) never hold more of an
    /// integration's slots together than it has; a freed slot goes to the
    /// other replica's waiting capture; a sync there leaves the last slot
    /// free; a replica that died holding slots frees them at expiry.
    #[tokio::test]
    async fn replicas_share_the_slots_through_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = buildsnap_store::Store::open(
            dir.path(),
            buildsnap_store::SecretKey::generate().unwrap(),
        )
        .unwrap();
        let ttl = Duration::from_millis(600);
        let replica =
            || Arc::new(Budget::new(2).with_shared(SharedSlots::new(store.clone()).with_ttl(ttl)));
        let (a, b) = (replica(), replica());
        let a1 = a.capture("o", "p").await;
        let a2 = a.capture("o", "p").await;
        let b2 = b.clone();
        let waiting = tokio::spawn(async move { b2.capture("o", "p").await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !waiting.is_finished(),
            "B's lane is free, the database full"
        );
        assert_eq!(store.call_slots_held("o", "p").unwrap(), 2);
        // Held past several renewals: still held, nobody got in.
        tokio::time::sleep(ttl * 2).await;
        assert!(!waiting.is_finished(), "renewed slots stay held");
        drop(a1);
        let b1 = tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .expect("A's freed slot goes to B")
            .unwrap();
        // One slot free now would be the last: B's sync waits for it.
        drop(a2);
        let b3 = b.clone();
        let sync = tokio::spawn(async move { b3.sync("o", "p").await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !sync.is_finished(),
            "the sync left the last slot to captures"
        );
        drop(b1);
        let s = tokio::time::timeout(Duration::from_secs(3), sync)
            .await
            .expect("the sync runs with two free")
            .unwrap();
        drop(s);
        // A replica that dies holding slots: its renewals stop with it.
        let dead = replica();
        let d1 = dead.capture("o", "p").await;
        let d2 = dead.capture("o", "p").await;
        d1.abandon();
        d2.abandon();
        drop(dead);
        assert_eq!(store.call_slots_held("o", "p").unwrap(), 2);
        let got = tokio::time::timeout(ttl * 4, a.capture("o", "p")).await;
        assert!(got.is_ok(), "a dead holder's slots free themselves");
    }
}
