//! The component's glue: the exports, and the host's `http` import behind
//! [`Transport`].

use std::sync::Once;

use crate::bindings::buildsnap::provider::{http, log};
use crate::bindings::exports::buildsnap::provider::provider::Guest;
use crate::provider::{self, Transport};
use crate::wit::*;

struct Plugin;

/// HTTP through the host, which adds the token and enforces the origins.
struct HostHttp;

impl Transport for HostHttp {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        http::send(req)
    }
}

/// Panic messages go to the host's log: the host attaches a plugin's last
/// error lines to the trap it reports.
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
        export(provider::descriptor)
    }

    fn token_help_url(ctx: CallContext) -> String {
        export(|| provider::token_help_url(&ctx))
    }

    fn validate_credentials(ctx: CallContext) -> Result<Account, ProviderError> {
        export(|| provider::validate_credentials(&HostHttp, &ctx))
    }

    fn list_projects(ctx: CallContext, query: ProjectQuery) -> Result<ProjectPage, ProviderError> {
        export(|| provider::list_projects(&HostHttp, &ctx, &query))
    }

    fn project_for_repo(_ctx: CallContext, repo_url: String) -> Option<String> {
        export(|| provider::project_for_repo(&repo_url))
    }

    fn resolve_sha(_: CallContext, _: String, _: String) -> Result<ShaResolution, ProviderError> {
        export(provider::resolve_sha)
    }

    fn builds_for_commit(ctx: CallContext, query: CommitQuery) -> Result<CommitBuilds, ProviderError> {
        export(|| provider::builds_for_commit(&HostHttp, &ctx, &query))
    }

    fn sync(ctx: CallContext, req: SyncRequest) -> Result<SyncPage, ProviderError> {
        export(|| provider::sync(&HostHttp, &ctx, &req))
    }

    fn parse_webhook(_: CallContext, _: WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        export(provider::parse_webhook)
    }
}

crate::bindings::export!(Plugin with_types_in crate::bindings);
