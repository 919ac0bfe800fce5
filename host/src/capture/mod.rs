//! Deploy build snapshots: the capture worker, the local index of provider
//! builds, the background sync and webhook intake. Design and rules:
//! `docs/capture.md`. The freeze and summary rules are the domain's
//! (`buildsnap_domain::{freeze, summary}`).
//!
//! | file | does |
//! | --- | --- |
//! | `worker` | the durable queue's consumer: claims jobs, captures, retries |
//! | `index` | plugin records ↔ index records; when the index alone suffices |
//! | `retry` | what a failed call means; backoff |
//! | `explain` | why a snapshot is empty or failed, in words |
//! | `budget` | provider-call slots per integration, captures first |
//! | `shared_slots` | the budget's slots held in the database, across replicas |
//! | `commit_now` | a commit's builds now (not frozen), for the gate |
//! | `disables` | a disable ends the integration's in-flight calls at once |
//! | `leases` | work that runs only while this replica holds its lease |
//! | `sync` | background incremental sync of build projects in use |
//! | `webhooks` | verified pushed events into the index |

pub mod budget;
pub mod commit_now;
pub mod disables;
pub mod explain;
pub mod index;
pub mod leases;
pub mod resolve;
pub mod retry;
pub mod shared_slots;
pub mod sync;
pub mod webhook_verify;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use buildsnap_metrics::Metrics;
use buildsnap_store::Store;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::runtime::Registry;

/// Tuning of captures and sync. `Default` is what `serve` uses.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// Captures running at once (one worker task per process).
    pub concurrency: usize,
    /// Attempts of a capture (transient failures) before it ends in `error`.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (with jitter) up to `backoff_max`.
    pub backoff_base: Duration,
    /// Longest retry delay. Higher spares a struggling provider; lower
    /// finishes a capture sooner once the provider recovers.
    pub backoff_max: Duration,
    /// How many pipelines a commit search may look at.
    pub search_max_pipelines: u32,
    /// Background sync period; zero turns the sync off.
    pub sync_interval: Duration,
    /// How many pipelines one sync may look at (per project).
    pub sync_max_pipelines: u32,
    /// How far back the sync looks, and how old an unfinished build may be
    /// to be refreshed.
    pub sync_max_age: Duration,
    /// Unfinished builds refreshed per sync call.
    pub sync_refresh_limit: u32,
    /// Concurrent provider calls per integration (captures + sync).
    pub calls_per_integration: usize,
    /// How long a stop waits for in-flight captures before leaving them queued.
    pub shutdown_grace: Duration,
    /// How long a claimed capture job (and a build project's sync) stays
    /// this replica's without a renewal; renewed every third of it while
    /// the work runs. Shorter: work whose replica died (killed, machine
    /// lost) is taken over by another replica sooner, at the cost of more
    /// renewal writes, and of work being taken from a replica stalled for
    /// longer than the lease (it then stops and writes nothing).
    /// `serve` gives it to the store (`Store::with_capture_lease`), whose
    /// claims and renewals use it.
    pub lease: Duration,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            concurrency: 4,
            max_attempts: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            search_max_pipelines: 2_000,
            sync_interval: Duration::from_secs(300),
            sync_max_pipelines: 200,
            sync_max_age: Duration::from_secs(7 * 24 * 3600),
            sync_refresh_limit: 50,
            calls_per_integration: 4,
            shutdown_grace: Duration::from_secs(5),
            lease: buildsnap_store::DEFAULT_CAPTURE_LEASE,
        }
    }
}

/// What the worker, the sync and webhook intake share.
pub struct Capture {
    /// Where snapshots, the job queue and the build index live.
    pub store: Store,
    /// The loaded provider plugins the captures call.
    pub registry: Arc<Registry>,
    /// Counters and histograms the capture work reports into.
    pub metrics: Arc<Metrics>,
    /// Wakes the worker (deploy registered, webhook news).
    pub notify: Arc<Notify>,
    /// Provider-call slots per integration, shared by captures and sync.
    pub budget: budget::Budget,
    /// Disable signals per integration (fired by the API's DELETE).
    pub disables: disables::Disables,
    /// The tuning this service was started with.
    pub config: CaptureConfig,
    /// One search at a time per (org, provider, project, sha): a second
    /// capture of the same commit waits, then finds the first one's answer
    /// in the index instead of searching again.
    searches: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Capture {
    /// The shared state for `config`; nothing runs until [`Capture::start`].
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
        config: CaptureConfig,
    ) -> Arc<Capture> {
        let budget = registry
            .plugins()
            .fold(budget::Budget::new(config.calls_per_integration), |b, p| {
                b.with_cap(&p.info.id, p.info.max_concurrency as usize)
            });
        // Replicas share a PostgreSQL database, and with it each
        // integration's slots; one SQLite process owns all of them.
        let budget = if store.is_postgres() {
            budget.with_shared(shared_slots::SharedSlots::new(store.clone()))
        } else {
            budget
        };
        Arc::new(Capture {
            store,
            registry,
            metrics,
            notify: Arc::new(Notify::new()),
            budget,
            disables: disables::Disables::default(),
            config,
            searches: Default::default(),
        })
    }

    /// Takes up a change of the loaded plugins (a reload of the plugins
    /// folder): a provider loaded since gets its `max-concurrency` cap, and
    /// queued captures are woken, since those waiting for a plugin to come
    /// back may now run.
    pub fn plugins_changed(&self) {
        for plugin in self.registry.plugins() {
            self.budget
                .set_cap(&plugin.info.id, plugin.info.max_concurrency as usize);
        }
        self.notify.notify_one();
    }

    /// Holds the single-flight lock of one commit search for as long as the
    /// returned guard lives.
    pub(crate) async fn search_lock(&self, key: String) -> SearchGuard<'_> {
        let lock = self
            .searches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let guard = lock.clone().lock_owned().await;
        SearchGuard {
            capture: self,
            key,
            lock,
            _guard: guard,
        }
    }

    /// Starts the worker and (unless the interval is zero) the sync loop.
    pub fn start(self: &Arc<Self>) -> CaptureHandle {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(worker::run(self.clone(), stopped.clone()))];
        if !self.config.sync_interval.is_zero() {
            tasks.push(tokio::spawn(sync::run(self.clone(), stopped)));
        }
        CaptureHandle { stop, tasks }
    }

    /// Whether `org`'s integration with `provider` is enabled now. A store
    /// error counts as enabled: the writes that follow re-check in their
    /// own transactions, so nothing is stored for a disabled integration,
    /// while a hiccup does not drop a capture.
    pub(crate) async fn enabled(&self, org: &str, provider: &str) -> bool {
        let (o, p) = (org.to_string(), provider.to_string());
        db(&self.store, move |s| s.integration(&o, &p))
            .await
            .map(|i| i.enabled)
            .unwrap_or(true)
    }

    /// The base URL of `org`'s integration with `provider`, when it set
    /// one; `None` (the plugin's default) otherwise or on a store error.
    pub(crate) async fn base_url(&self, org: &str, provider: &str) -> Option<String> {
        let (o, p) = (org.to_string(), provider.to_string());
        db(&self.store, move |s| s.integration(&o, &p))
            .await
            .ok()
            .and_then(|i| i.base_url)
    }

    /// Resolves once the integration is disabled, so an in-flight call can
    /// be dropped at once. It listens from the moment it is called; the
    /// stored state is read once after that, for a disable that came before.
    pub(crate) fn until_disabled(
        &self,
        org: &str,
        provider: &str,
    ) -> impl std::future::Future<Output = ()> + Send + '_ {
        let rx = self.disables.listen(org, provider);
        let (org, provider) = (org.to_string(), provider.to_string());
        async move {
            if !self.enabled(&org, &provider).await {
                return;
            }
            disables::disabled(rx).await
        }
    }
}

/// The running background work; [`CaptureHandle::stop`] ends it.
pub struct CaptureHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl CaptureHandle {
    /// Stops the worker and the sync: no new work starts; in-flight
    /// captures get the shutdown grace to finish, the rest go back to the
    /// queue for the next start.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Runs a blocking store call off the async threads.
pub(crate) async fn db<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> buildsnap_store::Result<T> + Send + 'static,
) -> buildsnap_store::Result<T> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .unwrap_or_else(|e| {
            Err(buildsnap_store::StoreError::Invalid(format!(
                "store task failed: {e}"
            )))
        })
}

/// See [`Capture::search_lock`]; removes its map entry when the last user leaves.
pub(crate) struct SearchGuard<'a> {
    capture: &'a Capture,
    key: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for SearchGuard<'_> {
    fn drop(&mut self) {
        let mut map = self
            .capture
            .searches
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Ours, the map's and the guard's: nobody else waits for it.
        if Arc::strong_count(&self.lock) <= 3 {
            map.remove(&self.key);
        }
    }
}
