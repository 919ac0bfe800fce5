//! Contract `buildsnap:provider@0.2.0` (frozen in `wit/since_v0.2.0/`):
//! its bindings, the host side of its imports, and typed calls of its
//! exports.
//!
//! This is the newest contract, so its generated records are the host's own
//! types (Zed's pattern); `since_v0_1_0` converts to and from them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

use super::exports::{Indexed, IndexedPre};
use crate::runtime::outbound::{CacheState, OutError, OutRequest, OutResponse};
use crate::runtime::state::PluginState;

/// The generated bindings. Their docs live in the WIT (`wit/since_v0.2.0/`),
/// which bindgen copies where it has any; the rest is generated glue, so the
/// lint is allowed here rather than documenting generated code.
#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.2.0",
        imports: { default: async | trappable },
        exports: { default: async },
        // `buildsnap plugin call` reads an export's input from JSON and
        // prints its result as JSON, in these types' own shape.
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

pub use bindings::*;

pub use self::buildsnap::provider::http as wit_http;
pub use self::buildsnap::provider::types;
pub use exports::buildsnap::provider::provider;

/// The contract version this module serves.
pub const VERSION: &str = "0.2.0";

/// The exports by their WIT names, in the order `Live` calls them by (and
/// `buildsnap plugin call` lists them).
pub const EXPORTS: &[&str] = &[
    "describe",
    "token-help-url",
    "validate-credentials",
    "list-projects",
    "project-for-repo",
    "resolve-sha",
    "builds-for-commit",
    "sync",
    "parse-webhook",
];

/// Adds this contract's imports (`types`, `log`, `http`) to `linker`, served
/// by `PluginState`.
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |state| state)
}

impl self::buildsnap::provider::types::Host for PluginState {}

impl self::buildsnap::provider::log::Host for PluginState {
    async fn log(
        &mut self,
        level: self::buildsnap::provider::log::Level,
        message: String,
    ) -> wasmtime::Result<()> {
        use self::buildsnap::provider::log::Level;
        let level = match level {
            Level::Trace => tracing::Level::TRACE,
            Level::Debug => tracing::Level::DEBUG,
            Level::Info => tracing::Level::INFO,
            Level::Warn => tracing::Level::WARN,
            Level::Error => tracing::Level::ERROR,
        };
        self.logs.log(&self.plugin, level, &message);
        Ok(())
    }
}

/// Milliseconds since the Unix epoch, the contract's `epoch-ms`.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn to_out(req: wit_http::Request) -> OutRequest {
    use wit_http::Method;
    let method = match req.method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    };
    OutRequest {
        conditional: req.conditional && method == reqwest::Method::GET,
        method,
        url: req.url,
        headers: req.headers,
        body: req.body,
        timeout: req.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
    }
}

/// A request's answer for the guest. Under 0.2.0 a pause the call cannot
/// wait out is an answer the plugin sees (`error.paused`), unlike 0.1.0,
/// where it ends the call.
fn from_out(result: Result<OutResponse, OutError>) -> Result<wit_http::Response, wit_http::Error> {
    match result {
        Ok(r) => Ok(wit_http::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
            cache_state: match r.cache {
                CacheState::Miss => wit_http::CacheState::Miss,
                CacheState::Fresh => wit_http::CacheState::Fresh,
                CacheState::Revalidated => wit_http::CacheState::Revalidated,
            },
            received_at: epoch_ms(r.received_at),
        }),
        Err(OutError::Paused(paused)) => Err(wit_http::Error::Paused(wit_http::Pause {
            until: epoch_ms(SystemTime::now() + paused.retry_after),
            reason: paused.to_string(),
        })),
        Err(OutError::Denied(why)) => Err(wit_http::Error::Denied(why)),
        Err(OutError::Timeout) => Err(wit_http::Error::Timeout),
        Err(OutError::Connect(why)) => Err(wit_http::Error::Connect(why)),
        Err(OutError::TooLarge(cap)) => Err(wit_http::Error::TooLarge(cap)),
        Err(OutError::Other(why)) => Err(wit_http::Error::Other(why)),
    }
}

fn no_http() -> wit_http::Error {
    wit_http::Error::Denied("HTTP is not available in this call".into())
}

impl wit_http::Host for PluginState {
    async fn send(
        &mut self,
        req: wit_http::Request,
    ) -> wasmtime::Result<Result<wit_http::Response, wit_http::Error>> {
        let Some(http) = self.http.clone() else {
            return Ok(Err(no_http()));
        };
        Ok(from_out(http.send(to_out(req)).await))
    }

    async fn send_batch(
        &mut self,
        reqs: Vec<wit_http::Request>,
    ) -> wasmtime::Result<Vec<Result<wit_http::Response, wit_http::Error>>> {
        let Some(http) = self.http.clone() else {
            return Ok(reqs.iter().map(|_| Err(no_http())).collect());
        };
        let answers = http
            .send_batch(reqs.into_iter().map(to_out).collect())
            .await;
        Ok(answers.into_iter().map(from_out).collect())
    }
}

/// The component, ready to instantiate, with its export indices resolved
/// once at load.
#[derive(Clone)]
pub struct Pre(IndexedPre);

impl Pre {
    /// Checks that the component exports the whole interface and resolves
    /// each export's index once.
    pub fn new(pre: wasmtime::component::InstancePre<PluginState>) -> wasmtime::Result<Self> {
        // The generated constructor checks the exports' types; keep its
        // error messages.
        PluginPre::new(pre.clone())?;
        Ok(Pre(IndexedPre::new(pre, VERSION, EXPORTS)?))
    }

    /// A fresh instance in `store`.
    pub async fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Live> {
        Ok(Live(self.0.instantiate(store).await?))
    }
}

/// One instance of the component.
pub struct Live(Indexed);

type Res<T> = Result<T, types::ProviderError>;

impl Live {
    /// Calls `describe`.
    pub async fn describe(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<provider::Descriptor> {
        Ok(self
            .0
            .call::<(), (provider::Descriptor,)>(store, 0, ())
            .await?
            .0)
    }

    /// Calls `token-help-url`.
    pub async fn token_help_url(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
    ) -> wasmtime::Result<String> {
        Ok(self
            .0
            .call::<(&types::CallContext,), (String,)>(store, 1, (ctx,))
            .await?
            .0)
    }

    /// Calls `validate-credentials`.
    pub async fn validate_credentials(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
    ) -> wasmtime::Result<Res<types::Account>> {
        Ok(self
            .0
            .call::<(&types::CallContext,), (Res<types::Account>,)>(store, 2, (ctx,))
            .await?
            .0)
    }

    /// Calls `list-projects`.
    pub async fn list_projects(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        query: &provider::ProjectQuery,
    ) -> wasmtime::Result<Res<provider::ProjectPage>> {
        Ok(self
            .0
            .call::<(&types::CallContext, &provider::ProjectQuery), (Res<provider::ProjectPage>,)>(
                store,
                3,
                (ctx, query),
            )
            .await?
            .0)
    }

    /// Calls `project-for-repo`.
    pub async fn project_for_repo(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        repo_url: &str,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self
            .0
            .call::<(&types::CallContext, &str), (Option<String>,)>(store, 4, (ctx, repo_url))
            .await?
            .0)
    }

    /// Calls `resolve-sha`.
    pub async fn resolve_sha(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        project: &str,
        prefix: &str,
    ) -> wasmtime::Result<Res<provider::ShaResolution>> {
        Ok(self
            .0
            .call::<(&types::CallContext, &str, &str), (Res<provider::ShaResolution>,)>(
                store,
                5,
                (ctx, project, prefix),
            )
            .await?
            .0)
    }

    /// Calls `builds-for-commit`.
    pub async fn builds_for_commit(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        query: &provider::CommitQuery,
    ) -> wasmtime::Result<Res<provider::CommitBuilds>> {
        Ok(self
            .0
            .call::<(&types::CallContext, &provider::CommitQuery), (Res<provider::CommitBuilds>,)>(
                store,
                6,
                (ctx, query),
            )
            .await?
            .0)
    }

    /// Calls `sync`.
    pub async fn sync(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        req: &provider::SyncRequest,
    ) -> wasmtime::Result<Res<provider::SyncPage>> {
        Ok(self
            .0
            .call::<(&types::CallContext, &provider::SyncRequest), (Res<provider::SyncPage>,)>(
                store,
                7,
                (ctx, req),
            )
            .await?
            .0)
    }

    /// Calls `parse-webhook`.
    pub async fn parse_webhook(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        req: &provider::WebhookRequest,
    ) -> wasmtime::Result<Result<provider::WebhookEvent, provider::WebhookError>> {
        Ok(self
            .0
            .call::<
                (&types::CallContext, &provider::WebhookRequest),
                (Result<provider::WebhookEvent, provider::WebhookError>,),
            >(store, 8, (ctx, req))
            .await?
            .0)
    }
}
