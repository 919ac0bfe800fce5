//! The seam to the host: what the API needs from the provider plugins. The
//! host implements [`Providers`] with its wasm runtime; tests use a fake.

use buildsnap_store::{Account, ProviderToken};

/// One loaded provider plugin, as `GET /api/v1/providers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProviderInfo {
    /// Short lower-case id used in URLs (`circleci`).
    pub id: String,
    /// Display name (`CircleCI`).
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The plugin contract version it implements (e.g. `0.1.0`).
    pub api_version: String,
    /// Where a person creates an API token.
    pub token_help_url: String,
    /// `ok`, or `failed` when the plugin could not be loaded.
    pub status: String,
    /// API base used when an integration sets no `base_url`.
    pub default_base_url: String,
}

/// Why credentials could not be validated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ValidateError {
    /// The provider rejected the token (422 `invalid_credentials`); the reason is the provider's.
    #[error("{0}")]
    InvalidCredentials(String),
    /// The origin is not granted (422 `host_not_allowed`).
    #[error("{0}")]
    HostNotAllowed(String),
    /// The provider could not be reached (502 `provider_unreachable`).
    #[error("{0}")]
    Unreachable(String),
    /// Anything else the plugin reported (502 `provider_error`).
    #[error("{0}")]
    Other(String),
}

/// A pushed webhook delivery, as received.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// Request headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The raw body (signatures are computed over these bytes).
    pub body: bytes::Bytes,
}

/// An accepted webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookAck {
    /// The provider's delivery/event id.
    pub id: String,
    /// The provider's event type.
    pub kind: String,
    /// The event id was received before: acknowledged, not applied again.
    pub duplicate: bool,
}

/// Why a webhook delivery was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature (401 `bad_signature`).
    #[error("{0}")]
    BadSignature(String),
    /// Well signed but not an event the plugin handles (202, `accepted: false`).
    #[error("{0}")]
    Unsupported(String),
    /// Not what the provider sends (400 `malformed_event`).
    #[error("{0}")]
    Malformed(String),
    /// The org has no enabled integration / webhook secret for this provider.
    /// Answered like [`WebhookError::BadSignature`] (401 `bad_signature`), so
    /// that the endpoint does not tell which orgs take webhooks.
    #[error("{0}")]
    NotConfigured(String),
    /// Anything else (502 `provider_error`).
    #[error("{0}")]
    Other(String),
}

/// The provider plugins, as the API sees them.
#[async_trait::async_trait]
pub trait Providers: Send + Sync + 'static {
    /// One entry per loaded plugin.
    fn list(&self) -> Vec<ProviderInfo>;

    /// Is `base_url`'s origin allowed for this provider (its default origin, or
    /// granted by BUILDSNAP_ALLOW_HOSTS)? `Err` carries the reason.
    fn check_base_url(&self, provider: &str, base_url: &str) -> Result<(), String>;

    /// Validates credentials with the plugin and says whose they are.
    async fn validate(
        &self,
        provider: &str,
        base_url: &str,
        token: &ProviderToken,
    ) -> Result<Account, ValidateError>;

    /// Verifies and handles a pushed event for `org` (the org and the provider
    /// are known to exist when this is called).
    async fn webhook(
        &self,
        provider: &str,
        org: &str,
        req: WebhookRequest,
    ) -> Result<WebhookAck, WebhookError>;
}
