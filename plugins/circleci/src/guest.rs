//! The component's glue: the exports, over the host's HTTP and the heap
//! of `buildsnap_pdk` (feature `talc`).

use buildsnap_pdk::guest::guard as export;
use buildsnap_pdk::transport::HostHttp;

use crate::wit::*;

struct Plugin;

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

buildsnap_pdk::export_provider!(Plugin);
