//! Store events: what a committed write tells the processes that share the
//! database, so that they act at once instead of at their next poll.
//!
//! A write that causes an event emits it inside its own transaction
//! (`Tx::emit`): on PostgreSQL that is `SELECT pg_notify('buildsnap', …)`,
//! which the server delivers to every listening session only when (and
//! if) the transaction commits, so a write that is rolled back, or an
//! attempt of a SERIALIZABLE transaction that is run again, tells nobody;
//! every replica (this one included) hears it through its listener
//! ([`crate::PgListener`]). On SQLite (one process) the events of a write
//! are kept aside and handed to this process's subscribers once, after the
//! commit.
//!
//! Events are hints, never the state: a subscriber re-reads the store. A
//! lost one costs a wait for the next poll; [`StoreEvent::Resync`] says
//! events may have been lost (a listener reconnected), so re-read
//! everything an event would have said.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};

use serde::{Deserialize, Serialize};

/// The PostgreSQL notification channel the store's events go through
/// (`LISTEN buildsnap`).
pub const CHANNEL: &str = "buildsnap";

/// PostgreSQL refuses a notification payload of 8000 bytes or more. An
/// event whose JSON would be longer (names near their limits) is sent as
/// [`StoreEvent::Resync`] instead: every listener re-reads, nothing is lost.
pub(crate) const MAX_PAYLOAD: usize = 7_900;

/// Something a committed write changed that other processes on the same
/// database should act on now. Sent as a small JSON object tagged by
/// `event` (`{"event":"captures_queued"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StoreEvent {
    /// Capture jobs became due (a deploy was registered with a queued
    /// capture, or `wake_captures` made waiting ones due): wake the worker.
    CapturesQueued,
    /// `org`'s integration with `provider` was disabled: end its in-flight
    /// provider calls.
    IntegrationDisabled {
        /// The org's slug.
        org: String,
        /// The provider (plugin) id.
        provider: String,
    },
    /// A rate-limit pause of (org, plugin, origin) was recorded or grew:
    /// hold that integration's requests until `until_unix_ms`.
    PauseChanged {
        /// The org's slug.
        org: String,
        /// The plugin (provider) id.
        plugin: String,
        /// The provider server's origin (`https://circleci.com`).
        origin: String,
        /// When the pause ends, Unix milliseconds.
        until_unix_ms: i64,
    },
    /// A provider-call slot of `org`'s integration with `provider` was
    /// released (`Store::release_call_slot`): a replica waiting for one of
    /// its slots tries again now instead of at its next poll. The one event
    /// sent per provider call; a few hundred bytes of `NOTIFY` each.
    CallSlotFreed {
        /// The org's slug.
        org: String,
        /// The provider (plugin) id.
        provider: String,
    },
    /// Events may have been missed (the listener lost its connection and
    /// is back, or a notification could not be read): re-read the state
    /// the other events stand for (wake the worker, reload the pauses).
    Resync,
}

impl StoreEvent {
    /// The notification payload of this event: its JSON, or `Resync`'s
    /// when that would be too long for PostgreSQL.
    pub(crate) fn payload(&self) -> String {
        let json = serde_json::to_string(self).expect("a store event serializes");
        if json.len() > MAX_PAYLOAD {
            return serde_json::to_string(&StoreEvent::Resync).expect("resync serializes");
        }
        json
    }

    /// The event a notification payload carries. One this build does not
    /// know (sent by a newer replica) or cannot read is a `Resync`: re-read
    /// rather than miss what it meant.
    pub(crate) fn from_payload(payload: &str) -> StoreEvent {
        serde_json::from_str(payload).unwrap_or_else(|error| {
            tracing::debug!(%error, payload, "unreadable store event: resyncing");
            StoreEvent::Resync
        })
    }
}

/// The subscribers of one store (or one listener): each gets every event.
///
/// std channels, not tokio's: the store is synchronous and does not
/// depend on an async runtime. Unbounded: events come at most once per
/// write that causes them (a deploy, a disable, a 429, a provider call's
/// end), every subscriber drains its receiver at once, and one that stops
/// reading is removed when its receiver is dropped.
#[derive(Default)]
pub(crate) struct Hub {
    subscribers: Mutex<Vec<Sender<StoreEvent>>>,
}

impl Hub {
    /// A receiver of every event sent from now on.
    pub(crate) fn subscribe(&self) -> Receiver<StoreEvent> {
        let (tx, rx) = channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    /// Hands `event` to every subscriber; forgets those whose receiver is gone.
    pub(crate) fn send(&self, event: &StoreEvent) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| s.send(event.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_unknown_ones_resync() {
        let events = [
            StoreEvent::CapturesQueued,
            StoreEvent::IntegrationDisabled {
                org: "acme".into(),
                provider: "circleci".into(),
            },
            StoreEvent::PauseChanged {
                org: "acme".into(),
                plugin: "circleci".into(),
                origin: "https://circleci.com".into(),
                until_unix_ms: 1_750_000_000_000,
            },
            StoreEvent::CallSlotFreed {
                org: "acme".into(),
                provider: "circleci".into(),
            },
            StoreEvent::Resync,
        ];
        for e in events {
            assert_eq!(StoreEvent::from_payload(&e.payload()), e);
        }
        assert_eq!(
            StoreEvent::CapturesQueued.payload(),
            r#"{"event":"captures_queued"}"#
        );
        assert_eq!(
            StoreEvent::from_payload(r#"{"event":"from_the_future"}"#),
            StoreEvent::Resync
        );
        assert_eq!(StoreEvent::from_payload("not json"), StoreEvent::Resync);
        let long = StoreEvent::IntegrationDisabled {
            org: "a".repeat(MAX_PAYLOAD),
            provider: "circleci".into(),
        };
        assert_eq!(long.payload(), StoreEvent::Resync.payload());
    }

    #[test]
    fn every_subscriber_gets_each_event_and_gone_ones_are_dropped() {
        let hub = Hub::default();
        let a = hub.subscribe();
        let b = hub.subscribe();
        hub.send(&StoreEvent::CapturesQueued);
        assert_eq!(a.try_recv(), Ok(StoreEvent::CapturesQueued));
        assert_eq!(b.try_recv(), Ok(StoreEvent::CapturesQueued));
        drop(b);
        hub.send(&StoreEvent::Resync);
        assert_eq!(a.try_recv(), Ok(StoreEvent::Resync));
        assert_eq!(hub.subscribers.lock().unwrap().len(), 1);
        drop(a);
        hub.send(&StoreEvent::Resync);
        assert!(hub.subscribers.lock().unwrap().is_empty());
    }
}
