//! The contract's exports as the host calls them: one method per export,
//! each in a sandboxed call (`Plugin::call`) with the integration's
//! context.

use super::{CallError, Integration, Plugin};
use crate::runtime::wit::{
    self, Account, CallContext, CommitBuilds, CommitQuery, Descriptor, ProjectPage, ProjectQuery,
    ShaResolution, SyncPage, SyncRequest, WebhookError, WebhookEvent, WebhookRequest, epoch_ms,
};

impl Plugin {
    /// The plugin's own description. Runs without HTTP.
    pub async fn describe(&self) -> Result<Descriptor, CallError> {
        self.call(None, async |i, s| i.describe(s).await).await
    }

    /// Checks the integration's credential and says whose it is.
    pub async fn validate_credentials(
        &self,
        integration: &Integration,
    ) -> Result<Account, CallError> {
        let ctx = Self::context(integration);
        self.flatten(
            integration,
            self.call(Some(integration), async |i, s| {
                i.validate_credentials(s, &ctx).await
            })
            .await,
        )
    }

    /// Where a person creates a token for `integration` (on its own
    /// server, for an Enterprise base URL). Runs without HTTP.
    pub async fn token_help_url(&self, integration: &Integration) -> Result<String, CallError> {
        let ctx = Self::context(integration);
        self.call(None, async |i, s| i.token_help_url(s, &ctx).await)
            .await
    }

    /// One page of the projects the integration's credential can see.
    pub async fn list_projects(
        &self,
        integration: &Integration,
        query: &ProjectQuery,
    ) -> Result<ProjectPage, CallError> {
        let ctx = Self::context(integration);
        self.flatten(
            integration,
            self.call(Some(integration), async |i, s| {
                i.list_projects(s, &ctx, query).await
            })
            .await,
        )
    }

    /// Every project the credential can see, page after page (at most 100
    /// pages of 100: a bound on what one list may cost).
    pub async fn all_projects(
        &self,
        integration: &Integration,
    ) -> Result<Vec<wit::Project>, CallError> {
        let mut all = Vec::new();
        let mut cursor = None;
        for _ in 0..100 {
            let page = self
                .list_projects(
                    integration,
                    &ProjectQuery {
                        search: None,
                        cursor: cursor.take(),
                        limit: 100,
                    },
                )
                .await?;
            all.extend(page.projects);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(all)
    }

    /// The project slug for a repository URL, or `None` when it must be
    /// configured. Runs without HTTP. `base_url` is the integration's
    /// (a GitHub Enterprise host's repositories are its own); `None` means
    /// the plugin's default.
    pub async fn project_for_repo(
        &self,
        base_url: Option<&str>,
        repo_url: &str,
    ) -> Result<Option<String>, CallError> {
        let ctx = CallContext {
            now: epoch_ms(std::time::SystemTime::now()),
            base_url: base_url
                .unwrap_or(self.info.default_base_url.as_str())
                .trim_end_matches('/')
                .to_string(),
            settings: Vec::new(),
        };
        self.call(None, async |i, s| {
            i.project_for_repo(s, &ctx, repo_url).await
        })
        .await
    }

    /// The full SHA a prefix names in `project`, as the provider resolves it.
    pub async fn resolve_sha(
        &self,
        integration: &Integration,
        project: &str,
        prefix: &str,
    ) -> Result<ShaResolution, CallError> {
        let ctx = Self::context(integration);
        self.flatten(
            integration,
            self.call(Some(integration), async |i, s| {
                i.resolve_sha(s, &ctx, project, prefix).await
            })
            .await,
        )
    }

    /// Every build of the query's project for one commit, down to its horizon.
    pub async fn builds_for_commit(
        &self,
        integration: &Integration,
        query: &CommitQuery,
    ) -> Result<CommitBuilds, CallError> {
        let ctx = Self::context(integration);
        self.flatten(
            integration,
            self.call(Some(integration), async |i, s| {
                i.builds_for_commit(s, &ctx, query).await
            })
            .await,
        )
    }

    /// One page of the incremental refresh of recent builds.
    pub async fn sync(
        &self,
        integration: &Integration,
        req: &SyncRequest,
    ) -> Result<SyncPage, CallError> {
        let ctx = Self::context(integration);
        self.flatten(
            integration,
            self.call(Some(integration), async |i, s| i.sync(s, &ctx, req).await)
                .await,
        )
    }

    /// Webhook parsing gets no HTTP: verifying a signature needs none.
    pub async fn parse_webhook(
        &self,
        integration: &Integration,
        req: &WebhookRequest,
    ) -> Result<Result<WebhookEvent, WebhookError>, CallError> {
        let ctx = Self::context(integration);
        self.call(None, async |i, s| i.parse_webhook(s, &ctx, req).await)
            .await
    }
}
