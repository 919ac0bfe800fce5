//! Contract `buildsnap:provider@0.1.0` (frozen in `wit/since_v0.1.0/`):
//! its bindings and the host side of its imports.
//!
//! The generated types of the newest contract are also the host's own
//! record types (Zed style); an older contract, when there is one, gets its
//! own module converting into them.

use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, ComponentNamedList, HasSelf, Lift, Linker, Lower};

use crate::runtime::outbound::{OutError, OutRequest};
use crate::runtime::state::PluginState;

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
///
/// Calls do not go through the generated `PluginPre::instantiate_async`:
/// that type-checks all seven exports on every instantiation, which was
/// about a tenth of a fresh instance + `describe` (docs/performance.md,
/// "Plugin runtime"). Here each call type-checks only the export it
/// calls, still safely (`get_typed_func`), by a precomputed index.
#[derive(Clone)]
pub struct Pre {
    pre: wasmtime::component::InstancePre<PluginState>,
    idx: Indices,
}

#[derive(Clone)]
struct Indices {
    describe: ComponentExportIndex,
    validate_credentials: ComponentExportIndex,
    list_projects: ComponentExportIndex,
    project_for_repo: ComponentExportIndex,
    builds_for_commit: ComponentExportIndex,
    sync: ComponentExportIndex,
    parse_webhook: ComponentExportIndex,
}

impl Pre {
    /// Checks that the component exports the whole interface and resolves
    /// each export's index once.
    pub fn new(pre: wasmtime::component::InstancePre<PluginState>) -> wasmtime::Result<Self> {
        // The generated constructor checks that the component exports the
        // whole interface; keep its error messages.
        PluginPre::new(pre.clone())?;
        let component = pre.component();
        let iface = component
            .get_export_index(None, format!("buildsnap:provider/provider@{VERSION}"))
            .ok_or_else(|| {
                wasmtime::format_err!("no export buildsnap:provider/provider@{VERSION}")
            })?;
        let export = |name: &str| {
            component
                .get_export_index(Some(&iface), name)
                .ok_or_else(|| {
                    wasmtime::format_err!(
                        "no export {name} in buildsnap:provider/provider@{VERSION}"
                    )
                })
        };
        let idx = Indices {
            describe: export("describe")?,
            validate_credentials: export("validate-credentials")?,
            list_projects: export("list-projects")?,
            project_for_repo: export("project-for-repo")?,
            builds_for_commit: export("builds-for-commit")?,
            sync: export("sync")?,
            parse_webhook: export("parse-webhook")?,
        };
        Ok(Pre { pre, idx })
    }

    /// A fresh instance in `store`; exports are type-checked per call, not here.
    pub async fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Live> {
        Ok(Live {
            instance: self.pre.instantiate_async(&mut *store).await?,
            idx: self.idx.clone(),
        })
    }
}

/// One instance of the component.
pub struct Live {
    instance: wasmtime::component::Instance,
    idx: Indices,
}

impl Live {
    async fn call<P, R>(
        &self,
        store: &mut Store<PluginState>,
        idx: &ComponentExportIndex,
        params: P,
    ) -> wasmtime::Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let f = self.instance.get_typed_func::<P, R>(&mut *store, idx)?;
        f.call_async(&mut *store, params).await
    }

    /// Calls the `describe` export.
    pub async fn describe(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<provider::Descriptor> {
        Ok(self
            .call::<(), (provider::Descriptor,)>(store, &self.idx.describe, ())
            .await?
            .0)
    }

    /// Calls the `validate-credentials` export.
    pub async fn validate_credentials(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
    ) -> wasmtime::Result<Result<types::Account, types::ProviderError>> {
        Ok(self
            .call::<(&types::CallContext,), (Result<types::Account, types::ProviderError>,)>(
                store,
                &self.idx.validate_credentials,
                (ctx,),
            )
            .await?
            .0)
    }

    /// Calls the `list-projects` export.
    pub async fn list_projects(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
    ) -> wasmtime::Result<Result<Vec<types::Project>, types::ProviderError>> {
        Ok(self
            .call::<(&types::CallContext,), (Result<Vec<types::Project>, types::ProviderError>,)>(
                store,
                &self.idx.list_projects,
                (ctx,),
            )
            .await?
            .0)
    }

    /// Calls the `project-for-repo` export.
    pub async fn project_for_repo(
        &self,
        store: &mut Store<PluginState>,
        repo_url: &str,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self
            .call::<(&str,), (Option<String>,)>(store, &self.idx.project_for_repo, (repo_url,))
            .await?
            .0)
    }

    /// Calls the `builds-for-commit` export.
    pub async fn builds_for_commit(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        query: &provider::CommitQuery,
    ) -> wasmtime::Result<Result<provider::CommitBuilds, types::ProviderError>> {
        Ok(self
            .call::<(&types::CallContext, &provider::CommitQuery), (Result<provider::CommitBuilds, types::ProviderError>,)>(
                store,
                &self.idx.builds_for_commit,
                (ctx, query),
            )
            .await?
            .0)
    }

    /// Calls the `sync` export.
    pub async fn sync(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        req: &provider::SyncRequest,
    ) -> wasmtime::Result<Result<provider::SyncPage, types::ProviderError>> {
        Ok(self
            .call::<(&types::CallContext, &provider::SyncRequest), (Result<provider::SyncPage, types::ProviderError>,)>(
                store,
                &self.idx.sync,
                (ctx, req),
            )
            .await?
            .0)
    }

    /// Calls the `parse-webhook` export.
    pub async fn parse_webhook(
        &self,
        store: &mut Store<PluginState>,
        ctx: &types::CallContext,
        req: &provider::WebhookRequest,
    ) -> wasmtime::Result<Result<provider::WebhookEvent, provider::WebhookError>> {
        Ok(self
            .call::<(&types::CallContext, &provider::WebhookRequest), (Result<provider::WebhookEvent, provider::WebhookError>,)>(
                store,
                &self.idx.parse_webhook,
                (ctx, req),
            )
            .await?
            .0)
    }
}
