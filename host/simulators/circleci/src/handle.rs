//! Starting a simulator and driving it from a test.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SimClock;
use crate::error::SimError;
use crate::faults::{FaultRule, FaultSet};
use crate::log::{RequestLog, RequestRecord, RetryAfterViolation};
use crate::pagination::PageTokens;
use crate::scenario::{Index, Scenario};
use crate::state::Shared;
use crate::webhooks::{Delivery, WebhookConfig, Webhooks};

/// Start-up options.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Listen address; must be loopback. Default `127.0.0.1:0` (any free port).
    pub listen: SocketAddr,
    /// Override the scenario's clock start.
    pub clock_start: Option<DateTime<Utc>>,
    /// Override whether the clock follows real time.
    pub clock_running: Option<bool>,
    /// Webhook subscriptions in addition to the scenario's.
    pub webhooks: Vec<WebhookConfig>,
    /// Accept the deprecated `?circle-token=` query parameter.
    pub allow_query_token: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            clock_start: None,
            clock_running: None,
            webhooks: Vec::new(),
            allow_query_token: false,
        }
    }
}

/// Entry point.
pub struct Simulator;

impl Simulator {
    /// Validates the scenario, binds the listener and starts serving.
    pub async fn start(mut scenario: Scenario, opts: SimOptions) -> Result<SimHandle, SimError> {
        if !opts.listen.ip().is_loopback() {
            return Err(SimError::NotLoopback(opts.listen));
        }
        scenario.normalise();
        scenario.validate()?;
        let start = opts
            .clock_start
            .or(scenario.clock.start.as_ref().map(|t| t.instant()))
            .unwrap_or_else(Utc::now);
        let clock = SimClock::new(start, opts.clock_running.unwrap_or(scenario.clock.running));
        let faults = FaultSet::default();
        for f in &scenario.faults {
            faults.add(f.clone());
        }
        let configs = scenario
            .webhooks
            .iter()
            .cloned()
            .chain(opts.webhooks)
            .collect();
        let webhooks = Webhooks::new(&scenario, configs, start);
        let expired: HashSet<String> = scenario.expired_workflows.iter().cloned().collect();
        let shared = Arc::new(Shared {
            index: Index::build(&scenario),
            scenario: Arc::new(scenario),
            clock,
            faults,
            log: RequestLog::new(),
            expired: Mutex::new(expired),
            pages: PageTokens::new(),
            allow_query_token: opts.allow_query_token,
            webhooks,
        });
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: opts.listen,
            source,
        })?;
        let (tx, rx) = watch::channel(false);
        let server = tokio::spawn(crate::server::serve(listener, shared.clone(), rx.clone()));
        let dispatcher = tokio::spawn(crate::webhooks::dispatcher(shared.clone(), rx));
        tracing::info!(%addr, "circleci-sim listening");
        Ok(SimHandle {
            addr,
            shared,
            shutdown: tx,
            tasks: vec![server, dispatcher],
        })
    }
}

/// A running simulator. Dropping it stops the server as well (tasks are aborted).
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// Bound address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash); CircleCI paths start with `/api/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The scenario being served.
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// The simulated clock (advance/set it to move timelines).
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// Adds a fault rule; returns its id. Panics on a rule that
    /// [`FaultRule::validate`] refuses (a probability outside 0..=1).
    pub fn set_fault(&self, rule: FaultRule) -> u64 {
        if let Err(why) = rule.validate() {
            panic!("{why}");
        }
        self.shared.faults.add(rule)
    }

    /// Restarts the generator behind `probability` rules from `seed`.
    pub fn seed_faults(&self, seed: u64) {
        self.shared.faults.seed(seed);
    }

    /// Removes one fault rule.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.shared.faults.remove(id)
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Makes the workflow and job endpoints of these workflows answer 404 (retention).
    pub fn expire_workflows<I: IntoIterator<Item = S>, S: Into<String>>(&self, ids: I) {
        self.shared
            .expired
            .lock()
            .unwrap()
            .extend(ids.into_iter().map(Into::into));
    }

    /// Subscribes a webhook receiver at run time.
    pub fn add_webhook(&self, c: WebhookConfig) {
        self.shared.webhooks.add(c);
    }

    /// Webhook delivery attempts so far.
    pub fn webhook_deliveries(&self) -> Vec<Delivery> {
        self.shared.webhooks.deliveries()
    }

    /// Webhook payloads fired so far.
    pub fn webhook_events(&self) -> Vec<Value> {
        self.shared.webhooks.events()
    }

    /// All API requests so far (admin endpoints excluded).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.snapshot()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// Number of requests whose path starts with `path_prefix`.
    pub fn count(&self, path_prefix: &str) -> usize {
        self.shared.log.count(path_prefix)
    }

    /// Requests per route template (`/api/v2/workflow/{id}/job`, ...).
    pub fn count_by_route(&self) -> BTreeMap<String, usize> {
        self.shared.log.by_route()
    }

    /// Requests per response status (0 = no response).
    pub fn count_by_status(&self) -> BTreeMap<u16, usize> {
        self.shared.log.by_status()
    }

    /// Err with the offending (429, retry) pair if a client retried too early.
    pub fn assert_retry_after_respected(&self) -> Result<(), Box<RetryAfterViolation>> {
        self.shared.log.assert_retry_after_respected()
    }

    /// Waits (real time) until `pred` holds for the delivery log, or the timeout passes.
    pub async fn wait_for_deliveries(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Delivery]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if pred(&self.webhook_deliveries()) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops accepting, drops open connections and waits for the tasks.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}
