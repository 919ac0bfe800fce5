//! The API's view of the plugins ([`buildsnap_api::Providers`]),
//! implemented over the runtime's [`Registry`].

use std::sync::Arc;

use buildsnap_api::{
    Account, ProviderInfo, ProviderToken, Providers, ValidateError, WebhookAck, WebhookError,
    WebhookRequest,
};
use url::Url;

use crate::capture::Capture;
use crate::runtime::wit::ProviderError;
use crate::runtime::{CallError, Credential, Integration, Registry};

/// Plugins as the HTTP API sees them.
pub struct PluginProviders {
    registry: Arc<Registry>,
    metrics: Arc<buildsnap_api::Metrics>,
    capture: Option<Arc<Capture>>,
}

impl PluginProviders {
    pub fn new(registry: Arc<Registry>, metrics: Arc<buildsnap_api::Metrics>) -> Self {
        PluginProviders {
            registry,
            metrics,
            capture: None,
        }
    }

    /// Webhook deliveries go to this capture service (index, wake-ups).
    pub fn with_capture(mut self, capture: Arc<Capture>) -> Self {
        self.capture = Some(capture);
        self
    }
}

/// The metrics label of a call's outcome.
pub fn outcome_label<T>(result: &Result<T, CallError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(CallError::Provider(_)) => "provider_error",
        Err(CallError::Timeout { .. }) => "timeout",
        Err(CallError::MemoryLimit { .. }) => "memory_limit",
        Err(CallError::Panic { .. }) => "panic",
        Err(CallError::Trap { .. }) => "trap",
        Err(CallError::HostNotAllowed(_)) => "host_not_allowed",
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

#[async_trait::async_trait]
impl Providers for PluginProviders {
    fn list(&self) -> Vec<ProviderInfo> {
        self.registry
            .plugins()
            .map(|p| ProviderInfo {
                id: p.info.id.clone(),
                name: p.info.name.clone(),
                version: p.info.version.clone(),
                api_version: p.info.api_version.clone(),
                token_help_url: p.info.token_help_url.clone(),
                status: "ok".into(),
                default_base_url: p
                    .info
                    .default_base_url
                    .as_str()
                    .trim_end_matches('/')
                    .to_string(),
            })
            .collect()
    }

    fn check_base_url(&self, provider: &str, base_url: &str) -> Result<(), String> {
        let plugin = self
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

    async fn validate(
        &self,
        provider: &str,
        base_url: &str,
        token: &ProviderToken,
    ) -> Result<Account, ValidateError> {
        let plugin = self
            .registry
            .get(provider)
            .ok_or_else(|| ValidateError::Other(format!("unknown provider `{provider}`")))?;
        let base_url = Url::parse(base_url)
            .map_err(|e| ValidateError::Other(format!("invalid base_url: {e}")))?;
        let integration = Integration {
            org: None,
            base_url,
            settings: Vec::new(),
            credential: Some(Credential::new(token.expose())),
        };
        let result = plugin.validate_credentials(&integration).await;
        self.metrics
            .record_plugin_call(provider, "validate_credentials", outcome_label(&result));
        match result {
            Ok(account) => Ok(Account {
                id: account.id,
                login: account.login,
                name: account.name,
            }),
            Err(CallError::Provider(e)) if matches!(e.0, ProviderError::Unauthorized(_)) => {
                let ProviderError::Unauthorized(reason) = e.0 else {
                    unreachable!()
                };
                Err(ValidateError::InvalidCredentials(reason))
            }
            Err(CallError::HostNotAllowed(m)) => Err(ValidateError::HostNotAllowed(m)),
            Err(err) if unreachable(&err) => Err(ValidateError::Unreachable(err.to_string())),
            Err(err) => Err(ValidateError::Other(err.to_string())),
        }
    }

    async fn webhook(
        &self,
        provider: &str,
        org: &str,
        req: WebhookRequest,
    ) -> Result<WebhookAck, WebhookError> {
        if self.registry.get(provider).is_none() {
            return Err(WebhookError::NotConfigured(format!(
                "unknown provider `{provider}`"
            )));
        }
        match &self.capture {
            Some(capture) => crate::capture::webhooks::receive(capture, provider, org, req).await,
            None => Err(WebhookError::NotConfigured(format!(
                "webhooks are not handled by this server (no capture service): the {provider} delivery was not applied"
            ))),
        }
    }
}
