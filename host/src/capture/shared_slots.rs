//! The database side of the call budget, for replicas sharing one
//! PostgreSQL database: an integration's calls in flight stay within its
//! slots whichever replica makes them (`Store::take_call_slot`).
//!
//! A replica first gets a slot of its own lane (`budget.rs`: FIFO,
//! captures first), then one in the database, waiting while all are held
//! elsewhere: it tries again when a release is heard
//! (`StoreEvent::CallSlotFreed`, forwarded by `replicas.rs` to
//! [`SharedSlots::freed`]) and, in case that event is lost, at a poll. The database slot is leased: a task renews it while it is
//! held, and dropping the hold releases it. A replica that dies holding
//! slots frees them when their lease runs out.
//!
//! With SQLite there is one process, whose lanes already are the whole
//! budget, so this is not used (it would add two writes per call).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildsnap_store::{HeldSlot, SlotKind, Store};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Slots taken in the database for `ttl`, renewed every third of it.
pub struct SharedSlots {
    store: Store,
    /// How long a slot stays held without renewal. Short frees a dead
    /// replica's slots sooner; each renewal is one write, so shorter costs
    /// more writes per long call.
    ttl: Duration,
    /// First pause when every slot is held elsewhere; doubles to
    /// [`MAX_POLL`]. Only the fallback for a release not heard (a lost
    /// event, a holder that died): short wins latency then, at the cost of
    /// more writes to a busy integration's slots.
    first_poll: Duration,
    /// Per integration (org, provider): wakes its waiters when one of its
    /// slots is released on any replica.
    releases: Mutex<HashMap<(String, String), Arc<Notify>>>,
}

/// The longest pause between two tries for a database slot.
const MAX_POLL: Duration = Duration::from_secs(1);

impl SharedSlots {
    /// Slots in `store`'s database, leased 30 s and renewed every 10 s.
    pub fn new(store: Store) -> SharedSlots {
        SharedSlots {
            store,
            ttl: Duration::from_secs(30),
            first_poll: Duration::from_millis(50),
            releases: Mutex::default(),
        }
    }

    /// Waits at most `first` before the first poll (tests use long ones,
    /// to see that a release, not a poll, wakes a waiter).
    pub fn with_first_poll(mut self, first: Duration) -> SharedSlots {
        self.first_poll = first;
        self
    }

    /// A slot of `org`'s integration with `provider` was released on some
    /// replica: its waiters here try again now.
    pub fn freed(&self, org: &str, provider: &str) {
        let releases = self.releases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = releases.get(&(org.to_string(), provider.to_string())) {
            n.notify_waiters();
        }
    }

    /// Events may have been missed: every waiter tries again.
    pub fn freed_all(&self) {
        let releases = self.releases.lock().unwrap_or_else(|e| e.into_inner());
        for n in releases.values() {
            n.notify_waiters();
        }
    }

    fn releases_of(&self, org: &str, provider: &str) -> Arc<Notify> {
        self.releases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((org.to_string(), provider.to_string()))
            .or_default()
            .clone()
    }

    /// Leases slots for `ttl` instead (tests use short ones).
    pub fn with_ttl(mut self, ttl: Duration) -> SharedSlots {
        self.ttl = ttl;
        self
    }

    /// One try: a slot if one is free now. A database error counts as
    /// none free (logged): the budget holds rather than being exceeded.
    pub async fn try_take(
        &self,
        org: &str,
        provider: &str,
        slots: usize,
        kind: SlotKind,
    ) -> Option<SharedHold> {
        let (store, org_s, provider_s, ttl) = (
            self.store.clone(),
            org.to_string(),
            provider.to_string(),
            self.ttl,
        );
        let taken = tokio::task::spawn_blocking(move || {
            store.take_call_slot(&org_s, &provider_s, slots, kind, ttl)
        })
        .await;
        match taken {
            Ok(Ok(Some(held))) => Some(SharedHold::start(self.store.clone(), held, self.ttl)),
            Ok(Ok(None)) => None,
            Ok(Err(error)) => {
                tracing::warn!(org, provider, %error, "cannot take a call slot in the database; waiting");
                None
            }
            Err(error) => {
                tracing::warn!(org, provider, %error, "call-slot task failed; waiting");
                None
            }
        }
    }

    /// Waits for a slot: tries again when one of the integration's slots
    /// is released ([`SharedSlots::freed`]), or else after a pause that
    /// doubles from `first_poll` to [`MAX_POLL`].
    pub async fn take(
        &self,
        org: &str,
        provider: &str,
        slots: usize,
        kind: SlotKind,
    ) -> SharedHold {
        let releases = self.releases_of(org, provider);
        let mut pause = self.first_poll;
        loop {
            // Listening before the try, so a release between the try and
            // the wait still wakes this waiter.
            let released = releases.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Some(hold) = self.try_take(org, provider, slots, kind).await {
                return hold;
            }
            tokio::select! {
                () = &mut released => {}
                () = tokio::time::sleep(pause) => pause = (pause * 2).min(MAX_POLL),
            }
        }
    }
}

/// A slot held in the database; renewed while it lives, released on drop.
pub struct SharedHold {
    store: Store,
    held: Option<HeldSlot>,
    renew: JoinHandle<()>,
}

impl SharedHold {
    fn start(store: Store, held: HeldSlot, ttl: Duration) -> SharedHold {
        let renew = {
            let (store, held) = (store.clone(), held.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    let (s, h) = (store.clone(), held.clone());
                    match tokio::task::spawn_blocking(move || s.renew_call_slot(&h, ttl)).await {
                        Ok(Ok(true)) => {}
                        Ok(Ok(false)) => {
                            // Expired (this process stalled past the lease)
                            // and maybe taken: the call in flight finishes,
                            // but the slot is no longer counted for it.
                            tracing::warn!(
                                org = held.org,
                                provider = held.provider,
                                "call slot lost before its call ended"
                            );
                            return;
                        }
                        Ok(Err(error)) => {
                            tracing::warn!(%error, "cannot renew a call slot; retrying");
                        }
                        Err(_) => return,
                    }
                }
            })
        };
        SharedHold {
            store,
            held: Some(held),
            renew,
        }
    }
}

impl SharedHold {
    /// What a replica that dies does: stops renewing and never releases.
    #[cfg(test)]
    pub(crate) fn abandon(mut self) {
        self.renew.abort();
        self.held = None;
    }
}

impl Drop for SharedHold {
    fn drop(&mut self) {
        self.renew.abort();
        let Some(held) = self.held.take() else { return };
        let store = self.store.clone();
        let release = move || {
            if let Err(error) = store.release_call_slot(&held) {
                // Not lost: the lease frees it when it runs out.
                tracing::warn!(%error, "cannot release a call slot; it frees itself at expiry");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(release)),
            Err(_) => release(),
        }
    }
}
