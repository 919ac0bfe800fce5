//! The PostgreSQL side of store events: a thread holding a connection of
//! its own that `LISTEN`s on the `buildsnap` channel and hands every
//! notification to its subscribers as a [`StoreEvent`].
//!
//! A notification sent while no session listens is lost, so after losing
//! its connection (a server restart, `pg_terminate_backend`, a network
//! cut) the listener reconnects with a growing pause and then emits
//! [`StoreEvent::Resync`]: its subscribers re-read what the missed events
//! would have told them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;

use super::connect::Target;

use crate::events::{CHANNEL, Hub, StoreEvent};
use crate::{Result, StoreError};

/// How long the thread waits for a notification before looking at its
/// stop flag again: the longest a dropped listener's thread lingers.
const TICK: Duration = Duration::from_millis(200);

/// A connection silent this long is probed with `SELECT 1`: a cut that
/// the kernel has not noticed (no FIN, no RST) would otherwise leave the
/// listener deaf until TCP gives up, minutes later. Costs one round trip
/// per interval per replica.
const PROBE_AFTER: Duration = Duration::from_secs(10);

/// The first pause before reconnecting, and the longest: doubling from one
/// to the other, so that a restarting server is not hammered while a
/// short blip costs a fraction of a second.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// The `application_name` of the listener's connection, so an operator
/// (or a test) can find it in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "buildsnap-listener";

/// Listens for the store events of one PostgreSQL database, on a thread
/// and connection of its own. Events committed by any process on that
/// database (this one included) reach every [`PgListener::subscribe`]r.
///
/// Needs no [`Store`](crate::Store): it takes no lock and touches no
/// table, so it can run beside a store of another process. Dropping it
/// stops the thread (within a fraction of a second) and closes the
/// connection.
pub struct PgListener {
    hub: Arc<Hub>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for PgListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgListener").finish_non_exhaustive()
    }
}

impl PgListener {
    /// Connects to `url` (a `postgres://` URL or `key=value` string),
    /// `LISTEN`s, and starts the thread. Listening has begun when this
    /// returns: an event committed after it is heard. The first connection
    /// failing is an error; later losses are reconnected from the thread.
    pub fn start(url: &str) -> Result<PgListener> {
        let config = super::connect::config(url)?;
        Self::start_with(config, Arc::new(Hub::default()))
    }

    /// [`PgListener::start`] on a parsed `config`, sending to `hub`.
    pub(crate) fn start_with(mut config: Target, hub: Arc<Hub>) -> Result<PgListener> {
        config.config.application_name(APPLICATION_NAME);
        let client = connect(&config)?;
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (hub, stop) = (hub.clone(), stop.clone());
            // Detached: it ends by itself once `stop` is set.
            std::thread::Builder::new()
                .name("buildsnap-pg-listener".into())
                .spawn(move || run(client, &config, &hub, &stop))
                .map_err(|e| StoreError::Invalid(format!("cannot start the listener: {e}")))?;
        }
        Ok(PgListener { hub, stop })
    }

    /// A receiver of every event heard from now on.
    pub fn subscribe(&self) -> Receiver<StoreEvent> {
        self.hub.subscribe()
    }
}

impl Drop for PgListener {
    /// Tells the thread to stop, without waiting for it: the last handle
    /// of a store may be dropped on an async worker, which must not block.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A connection listening on the channel.
fn connect(config: &Target) -> Result<Client> {
    let mut client = super::connect::client(config)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

/// The thread: hears until the connection is lost, reconnects, resyncs;
/// until told to stop.
fn run(mut client: Client, config: &Target, hub: &Hub, stop: &AtomicBool) {
    loop {
        match hear(&mut client, hub, stop) {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "store event listener lost its PostgreSQL connection; reconnecting")
            }
        }
        let mut pause = RECONNECT_FIRST;
        client = loop {
            if !sleep_unless_stopped(pause, stop) {
                return;
            }
            match connect(config) {
                Ok(c) => break c,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?pause, "store event listener cannot reconnect");
                    pause = (pause * 2).min(RECONNECT_MAX);
                }
            }
        };
        tracing::info!("store event listener reconnected: resyncing");
        hub.send(&StoreEvent::Resync);
    }
}

/// Hands every notification on `client` to `hub` until `stop` is set
/// (`Ok`) or the connection fails (`Err`).
fn hear(client: &mut Client, hub: &Hub, stop: &AtomicBool) -> Result<()> {
    let mut heard = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let next = client.notifications().timeout_iter(TICK).next()?;
        match next {
            Some(n) if n.channel() == CHANNEL => {
                hub.send(&StoreEvent::from_payload(n.payload()));
                heard = Instant::now();
            }
            Some(_) => heard = Instant::now(),
            None if client.is_closed() => {
                return Err(StoreError::Invalid(
                    "the listener's connection closed".into(),
                ));
            }
            None if heard.elapsed() >= PROBE_AFTER => {
                client.simple_query("SELECT 1")?;
                heard = Instant::now();
            }
            None => {}
        }
    }
    Ok(())
}

/// Sleeps `d` in ticks; `false` when `stop` was set meanwhile.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(TICK));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::{SecretKey, Store};

    fn disabled(org: &str) -> StoreEvent {
        StoreEvent::IntegrationDisabled {
            org: org.into(),
            provider: "circleci".into(),
        }
    }

    /// Only the committed attempt of a write is heard: one that failed
    /// after emitting, and one that was run again after a serialization
    /// failure (raised by the server, so the pool's retry is the real one),
    /// deliver nothing.
    #[test]
    fn only_the_committed_attempt_is_heard() {
        let Some(cluster) = buildsnap_pg_cluster::PgCluster::start().unwrap() else {
            return;
        };
        let url = cluster.create_database("listen_committed_only").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open_postgres(&url, SecretKey::load_or_create(dir.path(), None).unwrap())
                .unwrap();
        let listener = PgListener::start(&url).unwrap();
        let rx = listener.subscribe();

        let failed = store.db.write(|tx| {
            tx.emit(&disabled("failed"))?;
            Err::<(), _>(StoreError::Invalid("given up".into()))
        });
        assert!(failed.is_err());

        let attempts = AtomicU32::new(0);
        store
            .db
            .write(|tx| {
                let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                tx.emit(&disabled(&format!("attempt{n}")))?;
                if n == 1 {
                    tx.execute(
                        "DO $$ BEGIN RAISE EXCEPTION 'collided' USING ERRCODE = '40001'; END $$",
                        &[],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(attempts.load(Ordering::SeqCst), 2, "the write was retried");

        let got = rx.recv_timeout(Duration::from_secs(2)).unwrap();
        assert_eq!(got, disabled("attempt2"));
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "nothing else is heard"
        );
    }
}
