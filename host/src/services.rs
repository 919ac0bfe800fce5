//! The host's side of the API seam: [`HostServices`] implemented over the
//! plugin registry and the capture service. The API calls in; nothing here
//! is called back by capture or the runtime, so the dependencies run one
//! way: API → services → capture → runtime.
//!
//! Every plugin call made for the API is counted here, once
//! (`buildsnap_plugin_calls_total`), with the runtime's outcome label.

use std::sync::Arc;

use buildsnap_services::{
    CommitBuilds, CommitBuildsError, HostServices, PluginFileInfo, ProviderInfo, ValidateError,
    WebhookAck, WebhookError, WebhookRequest,
};
use buildsnap_store::{Account, ProviderToken};
use url::Url;

use crate::capture::Capture;
use crate::runtime::origin::{AllowList, Origin, has_credentials};
use crate::runtime::plugin::ProviderErrorText;
use crate::runtime::wit::ProviderError;
use crate::runtime::{CallError, Credential, Integration, PluginInfo};

/// The services the HTTP API uses, backed by the real plugins and captures.
pub struct Services {
    capture: Arc<Capture>,
    /// Origins the operator granted: alert hooks may only go there.
    grants: AllowList,
}

impl Services {
    /// Services over `capture` (and its registry and metrics); alert hooks
    /// may go to the origins `grants` allows.
    pub fn new(capture: Arc<Capture>, grants: AllowList) -> Services {
        Services { capture, grants }
    }
}

/// Whether a plugin's error means the provider could not be reached (as
/// opposed to answering something we did not like).
fn unreachable(err: &CallError) -> bool {
    match err {
        CallError::Timeout { .. } => true,
        CallError::Provider(e) => match &e.0 {
            ProviderError::Upstream(u) => u.status >= 500,
            ProviderError::RateLimited(_) => true,
            ProviderError::Other(m) => {
                let m = m.to_ascii_lowercase();
                m.contains("connect") || m.contains("timeout") || m.contains("timed out")
            }
            _ => false,
        },
        _ => false,
    }
}

/// The API's reading of a failed validation.
fn validate_error(err: CallError) -> ValidateError {
    match err {
        CallError::Provider(ProviderErrorText(ProviderError::Unauthorized(reason))) => {
            return ValidateError::InvalidCredentials(reason);
        }
        // Checking a token asks the API's own account endpoint: a 404 or a
        // body that is no API answer means the base URL is not that API.
        CallError::Provider(ProviderErrorText(
            ProviderError::NotFound(reason) | ProviderError::InvalidResponse(reason),
        )) => return ValidateError::NotProviderApi(reason),
        _ => {}
    }
    match err {
        CallError::HostNotAllowed(m) => ValidateError::HostNotAllowed(m),
        err if unreachable(&err) => ValidateError::Unreachable(err.to_string()),
        err => ValidateError::Other(err.to_string()),
    }
}

/// What the API says of a provider plugin.
fn provider_info(info: &PluginInfo, status: &str) -> ProviderInfo {
    ProviderInfo {
        id: info.id.clone(),
        name: info.name.clone(),
        version: info.version.clone(),
        api_version: info.api_version.clone(),
        token_help_url: info.token_help_url.clone(),
        status: status.into(),
        default_base_url: info
            .default_base_url
            .as_str()
            .trim_end_matches('/')
            .to_string(),
    }
}

/// The snake_case word serde gives a unit variant.
fn label(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The metrics label of a webhook delivery's outcome.
fn webhook_label(out: &Result<WebhookAck, WebhookError>) -> &'static str {
    match out {
        Ok(_) => "ok",
        Err(WebhookError::BadSignature(_)) => "bad_signature",
        Err(WebhookError::Unsupported(_)) => "unsupported",
        Err(WebhookError::Malformed(_)) => "malformed",
        Err(WebhookError::NotConfigured(_)) => "not_configured",
        Err(WebhookError::Other(_)) => "error",
    }
}

#[async_trait::async_trait]
impl HostServices for Services {
    fn providers(&self) -> Vec<ProviderInfo> {
        let registry = &self.capture.registry;
        let loaded = registry.plugins().map(|p| provider_info(&p.info, "ok"));
        let unloaded = registry
            .unloaded()
            .into_iter()
            .map(|info| provider_info(&info, "not_loaded"));
        loaded.chain(unloaded).collect()
    }

    fn plugin_files(&self) -> Vec<PluginFileInfo> {
        self.capture
            .registry
            .files()
            .into_iter()
            .map(|f| PluginFileInfo {
                path: f.path,
                state: label(&f.state),
                provider: f.provider,
                version: f.version,
                sha256: f.sha256,
                serving_sha256: f.serving_sha256,
                cache: f.cache.map(|c| label(&c)),
                changed_at: f.changed_at,
                last_error: f.last_error,
            })
            .collect()
    }

    async fn token_help_url(&self, provider: &str, base_url: &str) -> Option<String> {
        let plugin = self.capture.registry.get(provider)?;
        let Ok(base) = url::Url::parse(base_url) else {
            return Some(plugin.info.token_help_url.clone());
        };
        let integration = crate::runtime::Integration {
            org: None,
            base_url: base,
            settings: Vec::new(),
            credential: None,
        };
        // The plugin's answer for that server; its default page when the
        // plugin cannot say (a trap, a 0.1.0 plugin's fixed URL).
        Some(
            plugin
                .token_help_url(&integration)
                .await
                .unwrap_or_else(|_| plugin.info.token_help_url.clone()),
        )
    }

    fn check_base_url(&self, provider: &str, base_url: &str) -> Result<(), String> {
        let plugin = self
            .capture
            .registry
            .get(provider)
            .ok_or_else(|| format!("unknown provider `{provider}`"))?;
        let url =
            Url::parse(base_url).map_err(|e| format!("invalid base_url `{base_url}`: {e}"))?;
        plugin
            .check_base_url(&url)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn check_alert_url(&self, url: &str) -> Result<(), String> {
        let parsed = Url::parse(url).map_err(|e| format!("invalid url: {e}"))?;
        if has_credentials(&parsed) {
            return Err("the url must not carry a user name or password".into());
        }
        let origin = Origin::of(&parsed).ok_or("the url must be http:// or https://")?;
        if self.grants.allows(&origin) {
            Ok(())
        } else {
            Err(format!(
                "{origin} is not granted: alert hooks may only go to origins the operator lists in BUILDSNAP_ALLOW_HOSTS"
            ))
        }
    }

    async fn validate(
        &self,
        provider: &str,
        base_url: &str,
        token: &ProviderToken,
    ) -> Result<Account, ValidateError> {
        let plugin = self
            .capture
            .registry
            .get(provider)
            .ok_or_else(|| ValidateError::Other(format!("unknown provider `{provider}`")))?;
        let base_url = Url::parse(base_url)
            .map_err(|e| ValidateError::Other(format!("invalid base_url: {e}")))?;
        // No org yet: the token is not saved, so its pause is its own.
        let integration = Integration {
            org: None,
            base_url,
            settings: Vec::new(),
            credential: Some(Credential::new(token.expose())),
        };
        let result = plugin.validate_credentials(&integration).await;
        self.capture.metrics.record_plugin_call(
            provider,
            "validate_credentials",
            CallError::result_label(&result),
        );
        result
            .map(|a| Account {
                id: a.id,
                login: a.login,
                name: a.name,
            })
            .map_err(validate_error)
    }

    fn deploy_registered(&self, _org: &str) {
        self.capture.notify.notify_one();
    }

    fn integration_disabled(&self, org: &str, provider: &str) {
        self.capture.disables.fire(org, provider);
    }

    async fn webhook_received(
        &self,
        provider: &str,
        org: &str,
        req: WebhookRequest,
    ) -> Result<WebhookAck, WebhookError> {
        let out = crate::capture::webhooks::receive(&self.capture, provider, org, req).await;
        self.capture
            .metrics
            .record_plugin_call(provider, "parse_webhook", webhook_label(&out));
        out
    }

    async fn commit_builds(
        &self,
        org: &str,
        project: &str,
        code_deployment: Option<&str>,
        sha: &str,
        max_age: std::time::Duration,
    ) -> Result<CommitBuilds, CommitBuildsError> {
        self.capture
            .commit_builds_now(org, project, code_deployment, sha, max_age)
            .await
    }
}
