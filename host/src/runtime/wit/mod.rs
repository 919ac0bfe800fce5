//! The contract versions this host serves, one module per frozen
//! `wit/since_vX.Y.Z/` folder, and the switch that picks one per plugin.
//!
//! A plugin's contract version is read from its exports
//! (`buildsnap:provider/provider@X.Y.Z`), never trusted from a manifest.

use wasmtime::Engine;
use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

use super::state::PluginState;

mod exports;
pub mod since_v0_1_0;
pub mod since_v0_2_0;

pub use latest::epoch_ms;
pub use latest::provider::{
    CommitBuilds, CommitQuery, Descriptor, Horizon, JobUpdate, ProjectPage, ProjectQuery,
    SearchReport, ShaResolution, StopReason, SyncPage, SyncRequest, WebhookError, WebhookEvent,
    WebhookRequest,
};
pub use latest::types::{
    Account, Build, CallContext, Job, JobKind, Project, ProviderError, RateLimit, Status,
};
/// The newest contract: its records are the host's own types.
pub use since_v0_2_0 as latest;

/// How long a rate limit still holds, in milliseconds from now (`None`
/// when the provider did not say).
pub fn wait_ms(r: &RateLimit) -> Option<u64> {
    r.until
        .map(|until| until.saturating_sub(epoch_ms(std::time::SystemTime::now())))
}

/// The WIT package every plugin targets.
pub const PACKAGE: &str = "buildsnap:provider";

/// Contract versions this host can load, newest first.
pub const SUPPORTED_VERSIONS: &[&str] = &[since_v0_2_0::VERSION, since_v0_1_0::VERSION];

/// The interface a plugin must export (without version).
pub const PROVIDER_EXPORT: &str = "buildsnap:provider/provider";

/// A linker with every supported version's imports, and WASI 0.2 when
/// `wasi` is set (for components built for wasm32-wasip2).
pub fn linker(engine: &Engine, wasi: bool) -> wasmtime::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    since_v0_1_0::add_to_linker(&mut linker)?;
    since_v0_2_0::add_to_linker(&mut linker)?;
    if wasi {
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    }
    Ok(linker)
}

/// A component ready to instantiate, per contract version.
#[derive(Clone)]
pub enum ProviderPre {
    /// Contract 0.1.0.
    V0_1_0(since_v0_1_0::Pre),
    /// Contract 0.2.0.
    V0_2_0(since_v0_2_0::Pre),
}

/// A live instance, per contract version.
pub enum ProviderInstance {
    /// Contract 0.1.0.
    V0_1_0(since_v0_1_0::Live),
    /// Contract 0.2.0.
    V0_2_0(since_v0_2_0::Live),
}

impl ProviderPre {
    /// Wraps `pre` for contract `version` (as read from the component's
    /// exports); fails for a version this host does not serve.
    pub fn new(version: &str, pre: InstancePre<PluginState>) -> wasmtime::Result<Self> {
        match version {
            since_v0_1_0::VERSION => Ok(ProviderPre::V0_1_0(since_v0_1_0::Pre::new(pre)?)),
            since_v0_2_0::VERSION => Ok(ProviderPre::V0_2_0(since_v0_2_0::Pre::new(pre)?)),
            other => wasmtime::bail!("contract version {other} is not supported"),
        }
    }

    /// A fresh instance in `store`, of the same contract version.
    pub async fn instantiate(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<ProviderInstance> {
        match self {
            ProviderPre::V0_1_0(pre) => Ok(ProviderInstance::V0_1_0(pre.instantiate(store).await?)),
            ProviderPre::V0_2_0(pre) => Ok(ProviderInstance::V0_2_0(pre.instantiate(store).await?)),
        }
    }
}

/// Each export, dispatched by version. `since_v0_1_0` converts its
/// arguments and results to and from the newest types.
impl ProviderInstance {
    /// Calls `describe`: who the plugin is (no HTTP).
    pub async fn describe(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Descriptor> {
        match self {
            ProviderInstance::V0_1_0(p) => p.describe(store).await,
            ProviderInstance::V0_2_0(p) => p.describe(store).await,
        }
    }

    /// Calls `token-help-url`: where a person makes a token for the
    /// integration `ctx` describes (no HTTP).
    pub async fn token_help_url(
        &self,
        store: &mut Store<PluginState>,
        ctx: &CallContext,
    ) -> wasmtime::Result<String> {
        match self {
            ProviderInstance::V0_1_0(p) => p.token_help_url(store).await,
            ProviderInstance::V0_2_0(p) => p.token_help_url(store, ctx).await,
        }
    }

    /// Calls `validate-credentials`: checks the attached credentials and says
    /// whose they are.
    pub async fn validate_credentials(
        &self,
        store: &mut Store<PluginState>,
        ctx: &CallContext,
    ) -> wasmtime::Result<Result<Account, ProviderError>> {
        match self {
            ProviderInstance::V0_1_0(p) => p.validate_credentials(store, ctx).await,
            ProviderInstance::V0_2_0(p) => p.validate_credentials(store, ctx).await,
        }
    }

    /// Calls `list-projects`: one page of the projects the credentials see.
    pub async fn list_projects(
        &self,
        store: &mut Store<PluginState>,
        ctx: &CallContext,
        query: &ProjectQuery,
    ) -> wasmtime::Result<Result<ProjectPage, ProviderError>> {
        match self {
            ProviderInstance::V0_1_0(p) => p.list_projects(store, ctx, query).await,
            ProviderInstance::V0_2_0(p) => p.list_projects(store, ctx, query).await,
        }
    }

    /// Calls `project-for-repo`: the project slug for a repository URL, or
    /// none when it must be configured (no HTTP).
    pub async fn project_for_repo(
        &self,
        store: &mut Store<PluginState>,
        ctx: &CallContext,
        repo_url: &str,
    ) -> wasmtime::Result<Option<String>> {
        match self {
            ProviderInstance::V0_1_0(p) => p.project_for_repo(store, repo_url).await,
            ProviderInstance::V0_2_0(p) => p.project_for_repo(store, ctx, repo_url).await,
        }
    }

    /// Calls `resolve-sha`: the full SHA a prefix names (0.1.0 plugins
    /// cannot: `unsupported`, and they match prefixes themselves).
    pub async fn resolve_sha(
        &self,
        store: &mut Store<PluginState>,
        ctx: &CallContext,
        project: &str,
        prefix: &str,
    ) -> wasmtime::Result<Result<ShaResolution, ProviderError>> {
        match self {
            ProviderInstance::V0_1_0(_) => Ok(Ok(ShaResolution::Unsupported)),
            ProviderInstance::V0_2_0(p) => p.resolve_sha(store, ctx, project, prefix).await,
        }
    }

    /// Calls `builds-for-commit`: every build of the project for a commit,
    /// down to the horizon.
    pub async fn builds_for_commit(
        &self,
        store: &mut Store<PluginState>,
        ctx: &CallContext,
        query: &CommitQuery,
    ) -> wasmtime::Result<Result<CommitBuilds, ProviderError>> {
        match self {
            ProviderInstance::V0_1_0(p) => p.builds_for_commit(store, ctx, query).await,
            ProviderInstance::V0_2_0(p) => p.builds_for_commit(store, ctx, query).await,
        }
    }

    /// Calls `sync`: incremental refresh of recent builds.
    pub async fn sync(
        &self,
        store: &mut Store<PluginState>,
        ctx: &CallContext,
        req: &SyncRequest,
    ) -> wasmtime::Result<Result<SyncPage, ProviderError>> {
        match self {
            ProviderInstance::V0_1_0(p) => p.sync(store, ctx, req).await,
            ProviderInstance::V0_2_0(p) => p.sync(store, ctx, req).await,
        }
    }

    /// Calls `parse-webhook`: maps a pushed event (no HTTP).
    pub async fn parse_webhook(
        &self,
        store: &mut Store<PluginState>,
        ctx: &CallContext,
        req: &WebhookRequest,
    ) -> wasmtime::Result<Result<WebhookEvent, WebhookError>> {
        match self {
            ProviderInstance::V0_1_0(p) => p.parse_webhook(store, ctx, req).await,
            ProviderInstance::V0_2_0(p) => p.parse_webhook(store, ctx, req).await,
        }
    }
}
