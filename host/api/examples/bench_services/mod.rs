//! The fake host services the API benches serve with (`load`,
//! `replicas`): what they measure is the HTTP API and the store, so the
//! provider side answers at once and never calls out.

use std::time::Duration;

use buildsnap_api::{Account, ProviderToken};
use buildsnap_services::{
    HostServices, ProviderInfo, ValidateError, WebhookAck, WebhookError, WebhookRequest,
};

/// The host services of a bench server: one `circleci` provider that
/// accepts every token, no webhooks, no alert hooks, no provider calls.
pub struct Fake;

#[async_trait::async_trait]
impl HostServices for Fake {
    fn providers(&self) -> Vec<ProviderInfo> {
        vec![ProviderInfo {
            id: "circleci".into(),
            name: "CircleCI".into(),
            version: "0.0.0".into(),
            api_version: "0.1.0".into(),
            token_help_url: "https://example.invalid/tokens".into(),
            status: "ok".into(),
            default_base_url: "https://circleci.com".into(),
        }]
    }
    fn check_base_url(&self, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
    async fn validate(
        &self,
        _: &str,
        _: &str,
        _: &ProviderToken,
    ) -> Result<Account, ValidateError> {
        Ok(bench_account())
    }
    fn deploy_registered(&self, _: &str) {}
    fn integration_disabled(&self, _: &str, _: &str) {}
    async fn webhook_received(
        &self,
        _: &str,
        _: &str,
        _: WebhookRequest,
    ) -> Result<WebhookAck, WebhookError> {
        Err(WebhookError::NotConfigured("bench".into()))
    }
    fn check_alert_url(&self, _: &str) -> Result<(), String> {
        Err("no alert hooks in the bench".into())
    }
    async fn commit_builds(
        &self,
        _: &str,
        project: &str,
        _: Option<&str>,
        _: &str,
        _: Duration,
    ) -> Result<buildsnap_services::CommitBuilds, buildsnap_services::CommitBuildsError> {
        Err(buildsnap_services::CommitBuildsError::NoBuildServer(
            format!("project {project:?} has no build server in the bench"),
        ))
    }
}

/// The account every token validates as.
pub fn bench_account() -> Account {
    Account {
        id: "1".into(),
        login: "bench".into(),
        name: "Bench".into(),
    }
}
