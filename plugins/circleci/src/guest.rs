//! The component's glue: the exports, and the imports behind [`Transport`].

use std::sync::Once;

use crate::bindings::buildsnap::provider::http;
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
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::logging::log(Level::Error, &format!("panic: {info}"));
        }));
    });
}

/// Every export runs through here: the panic hook first, and the heap told
/// when the result is ready (see `heap::result_ready`).
fn export<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(not(target_feature = "atomics"))]
    crate::heap::call_starts();
    install_panic_hook();
    let result = body();
    #[cfg(not(target_feature = "atomics"))]
    crate::heap::result_ready();
    result
}

impl Guest for Plugin {
    fn describe() -> Descriptor {
        export(crate::describe::descriptor)
    }

    fn token_help_url(ctx: CallContext) -> String {
        export(|| crate::describe::token_help_url(&ctx))
    }

    fn validate_credentials(ctx: CallContext) -> Result<Account, ProviderError> {
        export(|| crate::account::validate_credentials(&HostHttp, &ctx))
    }

    fn list_projects(ctx: CallContext, query: ProjectQuery) -> Result<ProjectPage, ProviderError> {
        export(|| crate::account::list_projects(&HostHttp, &ctx, &query))
    }

    fn project_for_repo(_ctx: CallContext, repo_url: String) -> Option<String> {
        // CircleCI slugs name the VCS host's kind (`gh`, `bb`), not the
        // CircleCI host, so a server install derives them the same way.
        export(|| crate::slug::for_repo_url(&repo_url))
    }

    fn resolve_sha(
        _ctx: CallContext,
        _project: String,
        _prefix: String,
    ) -> Result<ShaResolution, ProviderError> {
        // CircleCI cannot look a commit up: the search matches prefixes
        // against each pipeline's commit itself.
        export(|| Ok(ShaResolution::Unsupported))
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
