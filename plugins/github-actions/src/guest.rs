//! The component's glue: the exports, and the imports behind [`Transport`].

use std::sync::Once;

use crate::bindings::buildsnap::provider::{http, log};
use crate::bindings::exports::buildsnap::provider::provider::Guest;
use crate::transport::Transport;
use crate::wit::*;

struct Plugin;

/// HTTP through the host's `http` import.
struct HostHttp;

impl Transport for HostHttp {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        http::send(req)
    }

    fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
        http::send_batch(reqs)
    }
}

/// Route panic messages to the host's log at `error`: the host attaches a
/// plugin's last error lines to the trap, which makes panics readable.
fn export<R>(body: impl FnOnce() -> R) -> R {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            log::log(log::Level::Error, &format!("panic: {info}"));
        }));
    });
    body()
}

impl Guest for Plugin {
    fn describe() -> Descriptor {
        export(crate::describe::descriptor)
    }

    fn token_help_url(ctx: CallContext) -> String {
        export(|| crate::describe::token_help(&ctx))
    }

    fn validate_credentials(ctx: CallContext) -> Result<Account, ProviderError> {
        export(|| crate::account::validate_credentials(&HostHttp, &ctx))
    }

    fn list_projects(ctx: CallContext, query: ProjectQuery) -> Result<ProjectPage, ProviderError> {
        export(|| crate::account::list_projects(&HostHttp, &ctx, &query))
    }

    fn project_for_repo(ctx: CallContext, repo_url: String) -> Option<String> {
        export(|| crate::slug::project_for_repo(&ctx.base_url, &repo_url))
    }

    fn resolve_sha(
        ctx: CallContext,
        project: String,
        prefix: String,
    ) -> Result<ShaResolution, ProviderError> {
        export(|| crate::search::resolve_sha(&HostHttp, &ctx, &project, &prefix))
    }

    fn builds_for_commit(
        ctx: CallContext,
        query: CommitQuery,
    ) -> Result<CommitBuilds, ProviderError> {
        export(|| crate::search::builds_for_commit(&HostHttp, &ctx, &query))
    }

    fn sync(ctx: CallContext, req: SyncRequest) -> Result<SyncPage, ProviderError> {
        export(|| crate::sync::sync(&HostHttp, &ctx, &req))
    }

    fn parse_webhook(ctx: CallContext, req: WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        export(|| crate::webhook::parse(&ctx, &req))
    }
}

crate::bindings::export!(Plugin with_types_in crate::bindings);
