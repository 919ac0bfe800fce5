//! One loaded plugin and the sandboxed execution of its calls.
//!
//! Every call gets a fresh Store (no state survives between calls, so one
//! misbehaving call cannot poison the next), a memory cap, an epoch
//! deadline for running wasm (which also makes the guest yield to tokio
//! every tick, so busy guests never starve the server: see `engine.rs`),
//! and a tokio timeout around everything, which also covers time the
//! guest spends blocked in host HTTP.

use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use url::Url;
use wasmtime::{Engine, Store, Trap};

use super::credential::Credential;
use super::engine::slice_until;
use super::limits::{MemoryCap, PluginLimits};
use super::loader::Provenance;
use super::origin::{AllowList, Origin, has_credentials};
use super::outbound::{AuthHeader, AuthHeaderError, AuthScheme, CallHttp, CallPolicy, Outbound};
use super::pause::{PauseKey, Paused};
use super::state::{LogSink, PluginState, WasiParts};
use super::wit::latest::provider::{RateLimitRule, WebhookConfig};
use super::wit::{CallContext, ProviderError, ProviderInstance, ProviderPre, RateLimit, epoch_ms};

mod error;
mod exports;

pub use error::{CallError, ProviderErrorText};

/// What the host knows about a loaded plugin.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    /// Short lower-case id used in URLs and settings (`circleci`).
    pub id: String,
    /// Display name (`CircleCI`).
    pub name: String,
    /// The plugin's own version (semver), as it declares it.
    pub version: String,
    /// The contract version it was built for (`0.1.0`).
    pub api_version: String,
    /// Where a person creates an API token for this provider, on its
    /// default base URL ([`Plugin::token_help_url`] for another).
    pub token_help_url: String,
    /// Requests of one integration allowed in flight at once (0.1.0
    /// plugins: 8, what their `send-batch` ran).
    pub max_concurrency: u32,
    /// How the provider signals rate limits, beyond a 429's `Retry-After`.
    pub rate_limits: Vec<RateLimitRule>,
    /// The provider's webhooks and how the host verifies them; `None` when
    /// it sends none.
    pub webhooks: Option<WebhookConfig>,
    /// The API base used when an integration sets none.
    pub default_base_url: Url,
    /// How the host sends the integration's token.
    pub auth: AuthScheme,
    /// Every origin the plugin declared it may need, its default included;
    /// a call reaches only those also granted ([`Plugin::ungranted_origins`]).
    pub origins: Vec<Origin>,
    /// Where it came from: `builtin:circleci` or a file path.
    pub source: String,
    /// Bundled or from the plugins folder: whether its default origin is
    /// granted without the operator (see [`Provenance`]).
    pub provenance: Provenance,
    /// Hex SHA-256 of the component's bytes (also its artifact cache key).
    pub sha256: String,
    /// Whether it imports WASI 0.2 (built for wasm32-wasip2).
    pub uses_wasi: bool,
}

/// The integration a call works for. Its credential reaches the HTTP
/// layer only, never the guest.
#[derive(Debug, Clone)]
pub struct Integration {
    /// The org whose integration this is. With the plugin and the base
    /// URL's origin it names the integration's rate-limit pause, shared by
    /// all of its calls (`pause.rs`). `None` for a call outside a stored
    /// integration (validating a token before it is saved): its pause is
    /// its own.
    pub org: Option<String>,
    /// The provider API base; its origin must pass [`Plugin::check_base_url`].
    pub base_url: Url,
    /// Non-secret settings passed to the plugin, as name/value pairs.
    pub settings: Vec<(String, String)>,
    /// The token the host attaches to requests to `base_url`'s origin;
    /// `None` sends requests unauthenticated.
    pub credential: Option<Credential>,
}

/// A plugin ready to serve calls.
pub struct Plugin {
    /// Its descriptor and where it came from.
    pub info: PluginInfo,
    engine: Engine,
    pre: ProviderPre,
    limits: PluginLimits,
    permits: Arc<Semaphore>,
    outbound: Arc<Outbound>,
    grants: Arc<AllowList>,
}

impl Plugin {
    pub(crate) fn new(
        info: PluginInfo,
        engine: Engine,
        pre: ProviderPre,
        limits: PluginLimits,
        outbound: Arc<Outbound>,
        grants: Arc<AllowList>,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(limits.max_concurrent_calls.max(1)));
        Plugin {
            info,
            engine,
            pre,
            limits,
            permits,
            outbound,
            grants,
        }
    }

    /// The plugin's id (`circleci`).
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// Whether `base_url` may be used for an integration of this plugin:
    /// it carries no credentials, and its origin is granted by the operator
    /// or is the default origin of a bundled plugin.
    pub fn check_base_url(&self, base_url: &Url) -> Result<Origin, CallError> {
        // First, and without echoing the URL: it holds a password.
        if has_credentials(base_url) {
            return Err(CallError::HostNotAllowed(
                "base_url must not contain credentials (user:password@): the provider token belongs in the integration's token, which the host sends in the provider's auth header".into(),
            ));
        }
        let origin = Origin::of(base_url).ok_or_else(|| {
            CallError::HostNotAllowed(format!("`{base_url}` is not an http(s) URL"))
        })?;
        if self.grants.grants(&origin, self.granted_default().as_ref()) {
            return Ok(origin);
        }
        let folder = if self.info.provenance == Provenance::PluginsFolder {
            " (it comes from the plugins folder, so not even its default origin is granted without the operator)"
        } else {
            ""
        };
        Err(CallError::HostNotAllowed(format!(
            "base_url origin {origin} is not allowed for {}{folder}: the operator must grant it with BUILDSNAP_ALLOW_HOSTS (e.g. BUILDSNAP_ALLOW_HOSTS={}://{}:{})",
            self.info.name, origin.scheme, origin.host, origin.port
        )))
    }

    /// The plugin's default origin when it is granted by being the
    /// default (bundled plugins only).
    fn granted_default(&self) -> Option<Origin> {
        (self.info.provenance == Provenance::Bundled).then(|| default_origin(&self.info))
    }

    /// Origins the plugin declared that its calls may not reach: not
    /// granted by the operator and not a bundled plugin's default. Logged
    /// at load time so that the operator sees what to grant.
    pub fn ungranted_origins(&self) -> Vec<Origin> {
        let own = self.granted_default();
        self.info
            .origins
            .iter()
            .filter(|o| !self.grants.grants(o, own.as_ref()))
            .cloned()
            .collect()
    }

    fn context(integration: &Integration) -> CallContext {
        CallContext {
            now: epoch_ms(std::time::SystemTime::now()),
            base_url: integration
                .base_url
                .as_str()
                .trim_end_matches('/')
                .to_string(),
            settings: integration.settings.clone(),
        }
    }

    fn new_store(
        &self,
        integration: Option<&Integration>,
        deadline: Instant,
    ) -> Result<Store<PluginState>, CallError> {
        let http = match integration {
            None => None,
            Some(integration) => {
                let origin = self.check_base_url(&integration.base_url)?;
                let auth = match &integration.credential {
                    Some(token) => Some(
                        AuthHeader::new(origin.clone(), &self.info.auth, token.clone())
                            .map_err(|e| self.auth_header_error(e))?,
                    ),
                    None => None,
                };
                let pauses = self.outbound.pauses();
                let pause = match &integration.org {
                    Some(org) => pauses.get(PauseKey {
                        org: org.clone(),
                        plugin: self.info.id.clone(),
                        origin: origin.clone(),
                    }),
                    None => pauses.private(&self.info.id),
                };
                let mut declared = self.info.origins.clone();
                declared.push(origin);
                let policy = CallPolicy {
                    plugin: self.info.id.as_str().into(),
                    declared,
                    granted_default: self.granted_default(),
                    grants: self.grants.clone(),
                    auth,
                    rate_limits: self.info.rate_limits.clone().into(),
                    max_concurrency: self.info.max_concurrency.max(1) as usize,
                    cache_scope: integration.org.as_ref().map(|org| {
                        cache_scope(
                            org,
                            &self.info.id,
                            &integration.base_url,
                            integration.credential.as_ref(),
                        )
                    }),
                };
                Some(CallHttp {
                    outbound: self.outbound.clone(),
                    policy: Arc::new(policy),
                    deadline,
                    sent: Arc::new(AtomicU32::new(0)),
                    pause,
                })
            }
        };
        let state = PluginState {
            plugin: self.info.id.as_str().into(),
            memory: MemoryCap::new(self.limits.memory_bytes),
            http,
            logs: LogSink::default(),
            wasi: self.info.uses_wasi.then(WasiParts::new),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        // Yield at every tick, trap at the deadline (engine.rs says why).
        slice_until(&mut store, deadline);
        Ok(store)
    }

    /// Run `f` on a fresh instance under every limit.
    async fn call<T>(
        &self,
        integration: Option<&Integration>,
        f: impl AsyncFnOnce(&ProviderInstance, &mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let timeout = self.limits.call_timeout;
        let started = Instant::now();
        let deadline = started + timeout;
        // Waiting for a permit counts against the call's time, so a queue
        // of calls behind a stuck plugin fails instead of piling up.
        let _permit = tokio::time::timeout(timeout, self.permits.acquire())
            .await
            .map_err(|_| CallError::Timeout {
                plugin: self.info.id.clone(),
                after: timeout,
            })?
            .expect("plugin semaphore is never closed");
        let mut store = self.new_store(integration, deadline)?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome = tokio::time::timeout(remaining, async {
            let instance = self.pre.instantiate(&mut store).await?;
            f(&instance, &mut store).await
        })
        .await;
        let state = store.data_mut();
        state.flush_stdio();
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(self.classify(err, state)),
            Err(_elapsed) => Err(CallError::Timeout {
                plugin: self.info.id.clone(),
                after: timeout,
            }),
        }
    }

    /// A token that cannot be sent is the integration's credential being
    /// unusable: reported as unauthorized (with the reason, not the
    /// token), so the API answers "invalid credentials" and captures stop
    /// as they do for a revoked token, not as a refused origin.
    fn auth_header_error(&self, err: AuthHeaderError) -> CallError {
        match err {
            AuthHeaderError::TokenNotSendable => CallError::Provider(ProviderErrorText(
                ProviderError::Unauthorized(err.to_string()),
            )),
            AuthHeaderError::BadName(_) => CallError::Trap {
                plugin: self.info.id.clone(),
                message: err.to_string(),
            },
        }
    }

    /// A call's result with the provider's error as a [`CallError`]. A
    /// plugin's own `rate-limited` with an `until` (a limit only the body
    /// names) pauses the whole integration until then, as a rule match
    /// would: the next call of any kind waits too. At most an hour.
    fn flatten<T>(
        &self,
        integration: &Integration,
        result: Result<Result<T, ProviderError>, CallError>,
    ) -> Result<T, CallError> {
        match result? {
            Ok(v) => Ok(v),
            Err(e) => {
                if let ProviderError::RateLimited(r) = &e
                    && let Some(until) = r.until
                    && let Some(org) = &integration.org
                    && let Ok(origin) = self.check_base_url(&integration.base_url)
                {
                    let now = epoch_ms(std::time::SystemTime::now());
                    let wait = Duration::from_millis(until.saturating_sub(now))
                        .min(super::pause::MAX_RULE_PAUSE);
                    self.outbound
                        .pauses()
                        .get(PauseKey {
                            org: org.clone(),
                            plugin: self.info.id.clone(),
                            origin,
                        })
                        .extend(wait);
                }
                Err(CallError::Provider(ProviderErrorText(e)))
            }
        }
    }

    fn classify(&self, err: wasmtime::Error, state: &PluginState) -> CallError {
        let plugin = self.info.id.clone();
        if state.memory.hit {
            return CallError::MemoryLimit {
                plugin,
                limit_mib: self.limits.memory_bytes >> 20,
            };
        }
        // Ended by the host because the integration is paused for longer
        // than the call had: rate-limited, to be retried after the pause.
        if let Some(paused) = err.downcast_ref::<Paused>() {
            return CallError::Provider(ProviderErrorText(ProviderError::RateLimited(RateLimit {
                until: Some(epoch_ms(std::time::SystemTime::now() + paused.retry_after)),
                message: paused.to_string(),
            })));
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Timeout {
                plugin,
                after: self.limits.call_timeout,
            },
            Some(Trap::UnreachableCodeReached) => CallError::Panic {
                plugin,
                message: state.logs.error_text().unwrap_or_else(|| {
                    "aborted without a message (install a panic hook that logs it)".into()
                }),
            },
            _ => CallError::Trap {
                plugin,
                message: format!("{err:#}"),
            },
        }
    }
}

fn default_origin(info: &PluginInfo) -> Origin {
    Origin::of(&info.default_base_url).expect("validated when the plugin was loaded")
}

/// The conditional cache's scope of one integration: org, plugin, base URL
/// and the first 16 hex digits of the token's SHA-256 (so a new token
/// never gets answers kept for the old one; the digest reveals nothing).
fn cache_scope(org: &str, plugin: &str, base: &Url, token: Option<&Credential>) -> String {
    use sha2::{Digest, Sha256};
    let digest = token
        .map(|t| hex::encode(&Sha256::digest(t.expose().as_bytes())[..8]))
        .unwrap_or_default();
    format!("{org}\u{1f}{plugin}\u{1f}{base}\u{1f}{digest}")
}
