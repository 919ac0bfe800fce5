//! The component's glue: the exports, over the host's HTTP (`buildsnap_pdk`).

use buildsnap_pdk::guest::guard as export;
use buildsnap_pdk::transport::HostHttp;

use crate::wit::*;

struct Plugin;

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

buildsnap_pdk::export_provider!(Plugin);
