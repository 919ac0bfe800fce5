//! Contract `buildsnap:provider@0.1.0` (frozen in `wit/since_v0.1.0/`):
//! its bindings, the host side of its imports, and its exports called with
//! the newest contract's types (the host's own), converted here both ways.
//!
//! What 0.1.0 cannot say gets the value that means what 0.1.0 meant:
//! attempt 1 and no parent, no job updates, `max-concurrency` 8 (0.1.0's
//! `send-batch` ran 8 at a time), only 429s as rate limits, webhooks
//! verified by the plugin (`by-plugin`, the current secret only), no SHA
//! resolution (`unsupported`), and `list-projects` paged by the host.

use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

use super::exports::{Indexed, IndexedPre};
use super::since_v0_2_0 as latest;
use crate::runtime::outbound::{OutError, OutRequest};
use crate::runtime::state::PluginState;

mod convert;

use convert::*;

/// The generated bindings. Their docs live in the WIT (`wit/since_v0.1.0/`),
/// which bindgen copies where it has any; the rest is generated glue, so the
/// lint is allowed here rather than documenting generated code.
#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

pub use bindings::*;

pub use self::buildsnap::provider::types;
pub use exports::buildsnap::provider::provider;

/// The contract version this module serves.
pub const VERSION: &str = "0.1.0";

/// The exports, in the order `Live` calls them by.
const EXPORTS: &[&str] = &[
    "describe",
    "validate-credentials",
    "list-projects",
    "project-for-repo",
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

use self::buildsnap::provider::http as wit_http;

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
        method,
        url: req.url,
        headers: req.headers,
        body: req.body,
        timeout: req.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
        conditional: false,
    }
}

/// A request's answer for the guest. A rate-limit pause longer than the
/// call has left is not an answer: it ends the call (a host error the
/// guest cannot catch), which the plugin layer reports as rate-limited
/// with the pause's remaining time, whatever the plugin would have made of
/// it.
fn from_out(
    result: Result<crate::runtime::outbound::OutResponse, OutError>,
) -> wasmtime::Result<Result<wit_http::Response, wit_http::Error>> {
    Ok(match result {
        Ok(r) => Ok(wit_http::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }),
        Err(OutError::Paused(paused)) => return Err(wasmtime::Error::new(paused)),
        Err(OutError::Denied(why)) => Err(wit_http::Error::Denied(why)),
        Err(OutError::Timeout) => Err(wit_http::Error::Timeout),
        Err(OutError::Connect(why)) => Err(wit_http::Error::Connect(why)),
        Err(OutError::TooLarge(cap)) => Err(wit_http::Error::TooLarge(cap)),
        Err(OutError::Other(why)) => Err(wit_http::Error::Other(why)),
    })
}

impl wit_http::Host for PluginState {
    async fn send(
        &mut self,
        req: wit_http::Request,
    ) -> wasmtime::Result<Result<wit_http::Response, wit_http::Error>> {
        let Some(http) = self.http.clone() else {
            return Ok(Err(wit_http::Error::Denied(
                "HTTP is not available in this call".into(),
            )));
        };
        from_out(http.send(to_out(req)).await)
    }

    async fn send_batch(
        &mut self,
        reqs: Vec<wit_http::Request>,
    ) -> wasmtime::Result<Vec<Result<wit_http::Response, wit_http::Error>>> {
        let Some(http) = self.http.clone() else {
            let denied = || {
                Err(wit_http::Error::Denied(
                    "HTTP is not available in this call".into(),
                ))
            };
            return Ok(reqs.iter().map(|_| denied()).collect());
        };
        let answers = http
            .send_batch(reqs.into_iter().map(to_out).collect())
            .await;
        answers.into_iter().map(from_out).collect()
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

/// One instance of the component, called with the newest contract's types.
pub struct Live(Indexed);

type Res<T> = Result<T, types::ProviderError>;
type LatestRes<T> = Result<T, latest::types::ProviderError>;

impl Live {
    async fn describe_v1(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<provider::Descriptor> {
        Ok(self
            .0
            .call::<(), (provider::Descriptor,)>(store, 0, ())
            .await?
            .0)
    }

    /// Calls `describe`.
    pub async fn describe(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<latest::provider::Descriptor> {
        Ok(descriptor(self.describe_v1(store).await?))
    }

    /// 0.1.0 has no `token-help-url`: the descriptor's field, whatever the
    /// integration.
    pub async fn token_help_url(&self, store: &mut Store<PluginState>) -> wasmtime::Result<String> {
        Ok(self.describe_v1(store).await?.token_help_url)
    }

    /// Calls `validate-credentials`.
    pub async fn validate_credentials(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
    ) -> wasmtime::Result<LatestRes<latest::types::Account>> {
        let ctx = context(ctx);
        let r = self
            .0
            .call::<(&types::CallContext,), (Res<types::Account>,)>(store, 1, (&ctx,))
            .await?
            .0;
        Ok(r.map(account).map_err(error))
    }

    /// Calls `list-projects` and serves the query's page from the whole
    /// list 0.1.0 returns: filtered by the search text, the cursor an
    /// offset into what is left.
    pub async fn list_projects(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
        query: &latest::provider::ProjectQuery,
    ) -> wasmtime::Result<LatestRes<latest::provider::ProjectPage>> {
        let ctx = context(ctx);
        let r = self
            .0
            .call::<(&types::CallContext,), (Res<Vec<types::Project>>,)>(store, 2, (&ctx,))
            .await?
            .0;
        Ok(
            r.map(|all| project_page(all.into_iter().map(project).collect(), query))
                .map_err(error),
        )
    }

    /// Calls `project-for-repo` (0.1.0 takes no context).
    pub async fn project_for_repo(
        &self,
        store: &mut Store<PluginState>,
        repo_url: &str,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self
            .0
            .call::<(&str,), (Option<String>,)>(store, 3, (repo_url,))
            .await?
            .0)
    }

    /// Calls `builds-for-commit`.
    pub async fn builds_for_commit(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
        query: &latest::provider::CommitQuery,
    ) -> wasmtime::Result<LatestRes<latest::provider::CommitBuilds>> {
        let ctx = context(ctx);
        let query = provider::CommitQuery {
            project: query.project.clone(),
            sha: query.sha.clone(),
            branch: query.branch.clone(),
            horizon: horizon(&query.horizon),
        };
        let r = self
            .0
            .call::<(&types::CallContext, &provider::CommitQuery), (Res<provider::CommitBuilds>,)>(
                store,
                4,
                (&ctx, &query),
            )
            .await?
            .0;
        Ok(r.map(|c| latest::provider::CommitBuilds {
            builds: c.builds.into_iter().map(build).collect(),
            report: report(c.report),
        })
        .map_err(error))
    }

    /// Calls `sync`.
    pub async fn sync(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
        req: &latest::provider::SyncRequest,
    ) -> wasmtime::Result<LatestRes<latest::provider::SyncPage>> {
        let ctx = context(ctx);
        let req = provider::SyncRequest {
            project: req.project.clone(),
            cursor: req.cursor.clone(),
            horizon: horizon(&req.horizon),
            refresh: req.refresh.clone(),
        };
        let r = self
            .0
            .call::<(&types::CallContext, &provider::SyncRequest), (Res<provider::SyncPage>,)>(
                store,
                5,
                (&ctx, &req),
            )
            .await?
            .0;
        Ok(r.map(|p| latest::provider::SyncPage {
            builds: p.builds.into_iter().map(build).collect(),
            next_cursor: p.next_cursor,
        })
        .map_err(error))
    }

    /// Calls `parse-webhook` with the current secret (0.1.0 knows one).
    pub async fn parse_webhook(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
        req: &latest::provider::WebhookRequest,
    ) -> wasmtime::Result<Result<latest::provider::WebhookEvent, latest::provider::WebhookError>>
    {
        let ctx = context(ctx);
        let req = provider::WebhookRequest {
            headers: req.headers.clone(),
            body: req.body.clone(),
            secret: req.secrets.first().cloned().unwrap_or_default(),
        };
        let r = self
            .0
            .call::<
                (&types::CallContext, &provider::WebhookRequest),
                (Result<provider::WebhookEvent, provider::WebhookError>,),
            >(store, 6, (&ctx, &req))
            .await?
            .0;
        Ok(match r {
            Ok(e) => Ok(latest::provider::WebhookEvent {
                id: e.id,
                kind: e.kind,
                project: e.project,
                builds: e.builds.into_iter().map(build).collect(),
                jobs: Vec::new(),
            }),
            Err(provider::WebhookError::BadSignature(m)) => {
                Err(latest::provider::WebhookError::BadSignature(m))
            }
            Err(provider::WebhookError::Unsupported(m)) => {
                Err(latest::provider::WebhookError::Unsupported(m))
            }
            Err(provider::WebhookError::Malformed(m)) => {
                Err(latest::provider::WebhookError::Malformed(m))
            }
        })
    }
}
