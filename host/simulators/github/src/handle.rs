//! Starting a simulator and driving it from a test.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SimClock;
use crate::error::SimError;
use crate::faults::{FaultRule, FaultSet};
use crate::log::{Counters, RequestLog, RequestRecord, WaitViolation};
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::scenario::{Index, Scenario};
use crate::state::Shared;
use crate::views::Urls;
use crate::webhooks::{Delivery, Sent, WebhookConfig, Webhooks, deliver};

/// The API version the simulator models.
pub const API_VERSION: &str = "2022-11-28";

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
    /// Serve everything under `/api/v3`, like GitHub Enterprise Server.
    pub enterprise: bool,
    /// Primary rate-limit budget.
    pub rate_limit: RateLimitConfig,
    /// Seed of the generator probabilistic faults draw from.
    pub seed: u64,
    /// Accepted `X-GitHub-Api-Version` values, most recent first.
    pub api_versions: Vec<String>,
    /// Web root for `html_url`s; `https://github.com`, or the simulator itself in
    /// Enterprise mode, when absent.
    pub html_base: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            clock_start: None,
            clock_running: None,
            webhooks: Vec::new(),
            enterprise: false,
            rate_limit: RateLimitConfig::default(),
            seed: 0,
            api_versions: vec![API_VERSION.to_owned()],
            html_base: None,
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
        let bind_err = |source| SimError::Bind {
            addr: opts.listen,
            source,
        };
        let listener = TcpListener::bind(opts.listen).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let root = format!("http://{addr}");
        let urls = if opts.enterprise {
            let html = opts.html_base.clone().unwrap_or_else(|| root.clone());
            Urls {
                api: format!("{root}/api/v3"),
                avatars: format!("{html}/avatars"),
                html,
            }
        } else {
            Urls {
                api: root.clone(),
                html: opts
                    .html_base
                    .clone()
                    .unwrap_or_else(|| "https://github.com".into()),
                avatars: "https://avatars.githubusercontent.com".into(),
            }
        };
        let start = opts
            .clock_start
            .or(scenario.clock.start)
            .unwrap_or_else(Utc::now);
        let clock = SimClock::new(start, opts.clock_running.unwrap_or(scenario.clock.running));
        let faults = FaultSet::seeded(opts.seed);
        for f in &scenario.faults {
            faults.add(f.clone());
        }
        let configs: Vec<WebhookConfig> = scenario
            .webhooks
            .iter()
            .cloned()
            .chain(opts.webhooks)
            .collect();
        let webhooks = Webhooks::new(&scenario, start);
        let shared = Arc::new(Shared {
            index: Index::build(&scenario),
            scenario: Arc::new(scenario),
            clock,
            faults,
            log: RequestLog::default(),
            limiter: RateLimiter::new(opts.rate_limit),
            webhooks,
            urls,
            enterprise: opts.enterprise,
            api_versions: if opts.api_versions.is_empty() {
                vec![API_VERSION.to_owned()]
            } else {
                opts.api_versions
            },
        });
        let (tx, rx) = watch::channel(false);
        let server = tokio::spawn(crate::server::serve(listener, shared.clone(), rx.clone()));
        let dispatcher = tokio::spawn(deliver::dispatcher(shared.clone(), rx));
        for c in configs {
            deliver::subscribe(&shared, c);
        }
        tracing::info!(%addr, enterprise = shared.enterprise, "github-sim listening");
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
    /// Bound address (always loopback).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API root a client uses as its base URL: `http://127.0.0.1:PORT`, or
    /// `http://127.0.0.1:PORT/api/v3` in Enterprise mode. No trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.urls.api.clone()
    }

    /// `http://127.0.0.1:PORT` (where `/_sim/...` lives, also in Enterprise mode).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The web root used in `html_url`s.
    pub fn html_url(&self) -> String {
        self.shared.urls.html.clone()
    }

    /// The scenario being served.
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// The simulated clock (advance or set it to move timelines).
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// Adds a fault rule; returns its id.
    pub fn set_fault(&self, rule: FaultRule) -> u64 {
        self.shared.faults.add(rule)
    }

    /// Removes one fault rule.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.shared.faults.remove(id)
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The primary rate-limit settings.
    pub fn rate_limit(&self) -> RateLimitConfig {
        self.shared.limiter.config()
    }

    /// Replaces the primary rate-limit settings.
    pub fn set_rate_limit(&self, c: RateLimitConfig) {
        self.shared.limiter.set_config(c);
    }

    /// Ends every rate-limit window now.
    pub fn reset_rate_limit(&self) {
        self.shared.limiter.reset();
    }

    /// Subscribes a webhook receiver (it gets a `ping`); returns it with its hook id.
    pub fn add_webhook(&self, c: WebhookConfig) -> WebhookConfig {
        deliver::subscribe(&self.shared, c)
    }

    /// Webhook delivery attempts so far.
    pub fn webhook_deliveries(&self) -> Vec<Delivery> {
        self.shared.webhooks.deliveries()
    }

    /// Webhook bodies sent so far (one per event and subscription).
    pub fn webhook_bodies(&self) -> Vec<Sent> {
        self.shared.webhooks.sent()
    }

    /// Scheduled webhook events not yet due.
    pub fn pending_webhooks(&self) -> usize {
        self.shared.webhooks.pending()
    }

    /// Re-sends a delivery with the same body and `X-GitHub-Delivery`.
    pub fn redeliver(&self, guid: &str) -> bool {
        deliver::redeliver(&self.shared, guid)
    }

    /// All API requests so far (control endpoints excluded).
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

    /// Counters: per route, per status, 304s, rate-limited answers.
    pub fn counters(&self) -> Counters {
        self.shared.log.counters()
    }

    /// Err with the offending pair if a client retried before a secondary limit's
    /// `retry-after` (or a minute without one).
    pub fn assert_retry_after_respected(&self) -> Result<(), Box<WaitViolation>> {
        self.shared.log.assert_retry_after_respected()
    }

    /// Err with the offending pair if a client sent anything before a primary limit's
    /// `x-ratelimit-reset`.
    pub fn assert_reset_respected(&self) -> Result<(), Box<WaitViolation>> {
        self.shared.log.assert_reset_respected()
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
