//! Disable signals: the API tells the capture service that an integration
//! was disabled, and every in-flight provider call of that integration
//! (capture searches, syncs) ends at once, without polling the database.
//!
//! Each (org, provider) has a generation counter in a `watch` channel. A
//! disable bumps it; a call subscribes before it starts and ends when the
//! counter moves. A later re-enable needs nothing: the next call subscribes
//! afresh and waits for the next bump.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// The disable generations of every integration a call has listened to.
#[derive(Debug, Default)]
pub struct Disables {
    /// Bounded by the number of integrations; entries are never removed so
    /// a subscriber always has a live sender.
    generations: Mutex<HashMap<(String, String), watch::Sender<u64>>>,
}

impl Disables {
    /// Signals that `org`'s integration with `provider` was disabled: every
    /// listener of it wakes.
    pub fn fire(&self, org: &str, provider: &str) {
        let map = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = map.get(&(org.to_string(), provider.to_string())) {
            tx.send_modify(|g| *g += 1);
        }
        // No entry: no call of this integration ever listened, so there is
        // nobody to wake; calls that start later read the stored state.
    }

    /// Starts listening for the next disable of (org, provider). Listening
    /// begins now, when this is called, not when the receiver is awaited.
    pub fn listen(&self, org: &str, provider: &str) -> watch::Receiver<u64> {
        let mut map = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((org.to_string(), provider.to_string()))
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }
}

/// Resolves at the next disable `rx` hears of.
pub async fn disabled(mut rx: watch::Receiver<u64>) {
    if rx.changed().await.is_err() {
        // The sender lives as long as the map, which outlives every call;
        // if it ever went, no disable could be heard again: never resolve.
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_disable_wakes_listeners_of_that_integration_only() {
        let d = Disables::default();
        let acme = d.listen("acme", "circleci");
        let other = d.listen("globex", "circleci");
        d.fire("acme", "circleci");
        tokio::time::timeout(Duration::from_secs(5), disabled(acme))
            .await
            .expect("the acme listener wakes");
        assert!(!other.has_changed().unwrap(), "globex is not disabled");
    }

    #[tokio::test]
    async fn listeners_after_a_disable_wait_for_the_next_one() {
        let d = Disables::default();
        let first = d.listen("acme", "circleci");
        d.fire("acme", "circleci");
        assert!(first.has_changed().unwrap());
        // Re-enabled, a new call listens: the old disable does not end it.
        let second = d.listen("acme", "circleci");
        assert!(!second.has_changed().unwrap());
        d.fire("acme", "circleci");
        assert!(second.has_changed().unwrap());
    }

    #[test]
    fn a_disable_nobody_listens_to_is_a_no_op() {
        let d = Disables::default();
        d.fire("acme", "circleci");
        let rx = d.listen("acme", "circleci");
        assert!(!rx.has_changed().unwrap());
    }
}
