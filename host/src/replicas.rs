//! What the processes serving from one database tell each other, through
//! the store's events (`buildsnap_store::StoreEvent`: PostgreSQL's
//! `buildsnap` notification channel, or in-process on SQLite), and the
//! rate-limit pauses they share through the store.
//!
//! | event | here |
//! | --- | --- |
//! | `CapturesQueued` | wakes the capture worker: a deploy registered on another replica is claimed without waiting for the poll |
//! | `IntegrationDisabled` | fires the disable: this replica's in-flight calls of that integration end at once |
//! | `PauseChanged` | takes the pause up: this replica holds that integration's requests too |
//! | `Resync` | events may have been lost: wakes the worker and reloads every pause |
//!
//! Events are hints: each action re-reads the store (the worker claims
//! from the queue, a call checks the integration), so one heard twice or
//! one this replica caused itself costs nothing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use buildsnap_store::{RateLimitPause, Store, StoreEvent};
use tokio::sync::Notify;

use crate::capture::Capture;
use crate::capture::budget::Budget;
use crate::capture::disables::Disables;
use crate::runtime::origin::Origin;
use crate::runtime::pause::{PauseKey, PauseStore, Pauses, read_pause_file};

/// The pause file versions before the store kept pauses wrote in the
/// data dir; read once at start ([`take_up_stored_pauses`]) and removed.
pub const OLD_PAUSE_FILE: &str = "rate-limit-pauses.json";

/// The store as the pause map's record ([`PauseStore`]): each pause that
/// starts or grows goes to `rate_limit_pauses`, written by a thread of its
/// own (a pause starts on an async worker, which must not block on the
/// store), and from there to every replica.
pub struct StorePauses {
    writes: Sender<RateLimitPause>,
}

impl StorePauses {
    /// A record over `store`, with its writer thread (which ends when the
    /// record is dropped).
    pub fn start(store: Store) -> std::io::Result<Arc<StorePauses>> {
        let (tx, rx) = std::sync::mpsc::channel::<RateLimitPause>();
        std::thread::Builder::new()
            .name("buildsnap-pause-writer".into())
            .spawn(move || {
                for pause in rx {
                    if let Err(error) = store.record_pause(&pause) {
                        tracing::warn!(%error, org = %pause.org, plugin = %pause.plugin,
                            "cannot record a rate-limit pause: other replicas and a restart will not honour it");
                    }
                }
            })?;
        Ok(Arc::new(StorePauses { writes: tx }))
    }
}

impl PauseStore for StorePauses {
    fn record(&self, key: &PauseKey, until_unix_ms: u64) {
        let pause = RateLimitPause {
            org: key.org.clone(),
            plugin: key.plugin.clone(),
            origin: key.origin.to_string(),
            until_unix_ms: i64::try_from(until_unix_ms).unwrap_or(i64::MAX),
        };
        // Fails only once the writer thread is gone (it never ends first).
        let _ = self.writes.send(pause);
    }
}

/// Takes up a pause read from the store; `false` for an ended one or one
/// whose origin does not parse (written by hand).
fn take_up(pauses: &Pauses, p: &RateLimitPause) -> bool {
    let Ok(origin) = Origin::parse(&p.origin) else {
        return false;
    };
    let key = PauseKey {
        org: p.org.clone(),
        plugin: p.plugin.clone(),
        origin,
    };
    pauses.take_up(key, u64::try_from(p.until_unix_ms).unwrap_or(0))
}

/// Takes up every pause in the store that has not ended; how many
/// lengthened a pause here. Blocking.
pub fn reload_pauses(store: &Store, pauses: &Pauses) -> buildsnap_store::Result<usize> {
    let stored = store.rate_limit_pauses()?;
    Ok(stored.iter().filter(|p| take_up(pauses, p)).count())
}

/// At start: imports the old pause file of `data_dir` into the store (once:
/// the file is removed after), drops ended pauses, and takes up the rest.
/// Returns how many pauses are in force. Blocking. A malformed file stops
/// the start with its name, as it did when it was the record.
pub fn take_up_stored_pauses(
    store: &Store,
    pauses: &Pauses,
    data_dir: &Path,
) -> anyhow::Result<usize> {
    let file = data_dir.join(OLD_PAUSE_FILE);
    if let Some(old) = read_pause_file(&file)? {
        for end in &old {
            store.record_pause(&RateLimitPause {
                org: end.key.org.clone(),
                plugin: end.key.plugin.clone(),
                origin: end.key.origin.to_string(),
                until_unix_ms: i64::try_from(end.until_unix_ms).unwrap_or(i64::MAX),
            })?;
        }
        // Imported: from now on the store is the record.
        std::fs::remove_file(&file).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        })?;
        tracing::info!(entries = old.len(), file = %file.display(), "rate-limit pause file imported into the store and removed");
    }
    store.prune_rate_limit_pauses()?;
    Ok(reload_pauses(store, pauses)?)
}

/// Acts on one event; whether the pauses must be reloaded from the store
/// (`Resync`), which the caller does off any async worker.
pub fn apply(
    event: &StoreEvent,
    notify: &Notify,
    disables: &Disables,
    pauses: &Pauses,
    budget: &Budget,
) -> bool {
    match event {
        StoreEvent::CapturesQueued => notify.notify_one(),
        StoreEvent::IntegrationDisabled { org, provider } => disables.fire(org, provider),
        StoreEvent::CallSlotFreed { org, provider } => budget.slot_freed(org, provider),
        StoreEvent::PauseChanged {
            org,
            plugin,
            origin,
            until_unix_ms,
        } => {
            take_up(
                pauses,
                &RateLimitPause {
                    org: org.clone(),
                    plugin: plugin.clone(),
                    origin: origin.clone(),
                    until_unix_ms: *until_unix_ms,
                },
            );
        }
        StoreEvent::Resync => {
            notify.notify_one();
            budget.slots_resync();
            return true;
        }
        // A variant of a newer store: re-read, as for a resync.
        _ => {
            notify.notify_one();
            budget.slots_resync();
            return true;
        }
    }
    false
}

/// How often the forwarding thread looks at its stop flag while no event
/// comes: the longest [`Forwarder::stop`] waits.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// The thread handing the store's events to the capture service and the
/// pause map ([`apply`]).
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Forwarder {
    /// Subscribes to `capture`'s store (on PostgreSQL this starts the
    /// listener: blocking, so call it off the async workers) and starts
    /// forwarding.
    pub fn start(capture: Arc<Capture>) -> anyhow::Result<Forwarder> {
        let rx = capture.store.subscribe()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("buildsnap-store-events".into())
                .spawn(move || forward(&capture, &rx, &stop))?
        };
        Ok(Forwarder {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops forwarding and waits for the thread (a fraction of a second).
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for Forwarder {
    /// A forwarder dropped without [`Forwarder::stop`] (a start that
    /// failed) still ends its thread, without waiting for it.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn forward(capture: &Capture, rx: &Receiver<StoreEvent>, stop: &AtomicBool) {
    let pauses = capture.registry.pauses();
    while !stop.load(Ordering::SeqCst) {
        let event = match rx.recv_timeout(STOP_CHECK) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        tracing::debug!(?event, "store event");
        if apply(
            &event,
            &capture.notify,
            &capture.disables,
            pauses,
            &capture.budget,
        ) && let Err(error) = reload_pauses(&capture.store, pauses)
        {
            tracing::warn!(%error, "cannot reload the rate-limit pauses after a resync");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Instant, SystemTime};

    use super::*;
    use crate::runtime::pause::unix_ms;

    fn key(org: &str) -> PauseKey {
        PauseKey {
            org: org.into(),
            plugin: "circleci".into(),
            origin: Origin::parse("https://circleci.com").unwrap(),
        }
    }

    fn store(dir: &Path) -> Store {
        Store::open(
            dir,
            buildsnap_store::SecretKey::load_or_create(dir, None).unwrap(),
        )
        .unwrap()
    }

    fn left(pauses: &Pauses, org: &str) -> Option<Duration> {
        pauses
            .get(key(org))
            .until()
            .map(|u| u.saturating_duration_since(Instant::now()))
    }

    #[tokio::test]
    async fn each_event_reaches_its_target() {
        let (notify, disables, pauses) = (Notify::new(), Disables::default(), Pauses::new());
        let budget = Budget::new(2);
        assert!(!apply(
            &StoreEvent::CapturesQueued,
            &notify,
            &disables,
            &pauses,
            &budget
        ));
        tokio::time::timeout(Duration::from_secs(1), notify.notified())
            .await
            .expect("the worker is woken");

        let mut rx = disables.listen("acme", "circleci");
        apply(
            &StoreEvent::IntegrationDisabled {
                org: "acme".into(),
                provider: "circleci".into(),
            },
            &notify,
            &disables,
            &pauses,
            &budget,
        );
        assert!(rx.has_changed().unwrap(), "the disable fired");
        rx.mark_unchanged();

        let until = unix_ms(SystemTime::now()) + 30_000;
        apply(
            &StoreEvent::PauseChanged {
                org: "acme".into(),
                plugin: "circleci".into(),
                origin: "https://circleci.com".into(),
                until_unix_ms: i64::try_from(until).unwrap(),
            },
            &notify,
            &disables,
            &pauses,
            &budget,
        );
        let l = left(&pauses, "acme").expect("paused here too");
        assert!(l > Duration::from_secs(29), "{l:?}");
        assert_eq!(left(&pauses, "other"), None);

        assert!(
            apply(&StoreEvent::Resync, &notify, &disables, &pauses, &budget),
            "a resync reloads the pauses"
        );
        tokio::time::timeout(Duration::from_secs(1), notify.notified())
            .await
            .expect("a resync wakes the worker");
    }

    /// A pause one process records reaches the store, and the other
    /// process takes it up on reload; the old file is imported once.
    #[test]
    fn pauses_go_through_the_store_and_the_old_file_is_imported() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let until = unix_ms(SystemTime::now()) + 40_000;
        std::fs::write(
            dir.path().join(OLD_PAUSE_FILE),
            format!(
                r#"[{{"org":"old","plugin":"circleci","origin":"https://circleci.com","until_unix_ms":{until}}},
                    {{"org":"ended","plugin":"circleci","origin":"https://circleci.com","until_unix_ms":1}}]"#
            ),
        )
        .unwrap();
        let first = Pauses::new();
        first.record_to(StorePauses::start(s.clone()).unwrap());
        assert_eq!(
            take_up_stored_pauses(&s, &first, dir.path()).unwrap(),
            1,
            "the file's pause that has not ended"
        );
        assert!(!dir.path().join(OLD_PAUSE_FILE).exists(), "removed");
        assert!(left(&first, "old").unwrap() > Duration::from_secs(39));

        first.get(key("acme")).extend(Duration::from_secs(20));
        // Written by the record's thread.
        let deadline = Instant::now() + Duration::from_secs(5);
        while s.rate_limit_pauses().unwrap().len() < 2 {
            assert!(Instant::now() < deadline, "the pause reached the store");
            std::thread::sleep(Duration::from_millis(10));
        }
        let second = Pauses::new();
        assert_eq!(
            take_up_stored_pauses(&s, &second, dir.path()).unwrap(),
            2,
            "old and acme; no file left to import"
        );
        assert!(left(&second, "acme").unwrap() > Duration::from_secs(19));
        assert_eq!(left(&second, "ended"), None);
    }
}
