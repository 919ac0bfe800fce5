//! The host-owned service interface of buildsnap: what the HTTP API asks of
//! the host, and the words of the answers.
//!
//! Seams run one way: the API depends on this crate and calls
//! [`HostServices`]; the host implements it (`host/src/services.rs`) over its
//! plugin registry and capture service. Neither the API nor this crate knows
//! the plugin runtime or the capture worker, so the API's tests can drive it
//! with a fake and the host can change how it works behind the trait.

#![warn(missing_docs)]

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
    /// `ok`; `not_loaded` for a plugin unloaded because its file left the
    /// plugins folder (listed so its integrations can say they need
    /// attention until it is back).
    pub status: String,
    /// API base used when an integration sets no `base_url`.
    pub default_base_url: String,
}

/// One file of the plugins folder as the last load or reload left it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginFileInfo {
    /// The file's path.
    pub path: String,
    /// `loaded`, `refused` (its current bytes; an earlier version may still
    /// serve, see `provider`) or `removed`.
    pub state: String,
    /// Id of the plugin this file serves, if one does.
    pub provider: Option<String>,
    /// Version of the serving plugin.
    pub version: Option<String>,
    /// Hex SHA-256 of the bytes on disk at the last look.
    pub sha256: Option<String>,
    /// Hex SHA-256 of the bytes that serve.
    pub serving_sha256: Option<String>,
    /// `hit` when the serving plugin's compiled code came from the cache,
    /// `miss` when it was compiled.
    pub cache: Option<String>,
    /// When the state last changed (RFC 3339).
    pub changed_at: String,
    /// Why the current bytes were refused.
    pub last_error: Option<String>,
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
    /// The server at the base URL answered, but not as the provider's API
    /// does (no such endpoint, or a body that is no API answer): most often
    /// a wrong base URL (422 `not_provider_api`).
    #[error("{0}")]
    NotProviderApi(String),
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

/// A commit's builds as they are now (`GET .../commits/{sha}/builds`).
#[derive(Debug, Clone)]
pub struct CommitBuilds {
    /// The builds, newest first, each with its status now (not frozen).
    pub builds: Vec<buildsnap_domain::FrozenBuild>,
    /// Why there are none, when there are none.
    pub explain: Option<String>,
    /// The provider that answered (the project's build server).
    pub provider: String,
    /// The provider project searched.
    pub build_project: String,
}

/// Why a commit's builds could not be told.
#[derive(Debug, thiserror::Error)]
pub enum CommitBuildsError {
    /// Unknown org, project or code deployment, no code deployment, several
    /// and none named: the store's own refusal, mapped as for deploys.
    #[error(transparent)]
    Store(#[from] buildsnap_store::StoreError),
    /// The project has no build server (409 `no_build_server`).
    #[error("{0}")]
    NoBuildServer(String),
    /// The provider rejected the token (502 `provider_unauthorized`).
    #[error("{0}")]
    Unauthorized(String),
    /// The provider could not answer (502 `provider_error`).
    #[error("{0}")]
    Provider(String),
}

/// What the HTTP API needs from the host. One implementation serves the
/// product (the host's); the API's unit tests use a fake.
///
/// The host counts the plugin calls it makes (`/metrics`); callers must not
/// count them again.
#[async_trait::async_trait]
pub trait HostServices: Send + Sync + 'static {
    /// One entry per loaded provider plugin, then one per plugin unloaded
    /// from the plugins folder (status `not_loaded`).
    fn providers(&self) -> Vec<ProviderInfo>;

    /// The plugins folder's files and where each stands (none without a
    /// folder), for `GET /api/v1/providers`.
    fn plugin_files(&self) -> Vec<PluginFileInfo> {
        Vec::new()
    }

    /// Is `base_url`'s origin allowed for this provider (its default origin,
    /// or granted by BUILDSNAP_ALLOW_HOSTS)? `Err` carries the reason.
    fn check_base_url(&self, provider: &str, base_url: &str) -> Result<(), String>;

    /// Is `url` an http(s) URL whose origin the operator granted
    /// (BUILDSNAP_ALLOW_HOSTS), so that alert deliveries may go there?
    /// `Err` carries the reason.
    fn check_alert_url(&self, url: &str) -> Result<(), String>;

    /// Where a person creates a token for `provider` on the server at
    /// `base_url` (a GitHub Enterprise or self-managed GitLab host has its
    /// own token page). `None` for an unknown provider. The default knows
    /// only each provider's page on its default server.
    async fn token_help_url(&self, provider: &str, _base_url: &str) -> Option<String> {
        self.providers()
            .into_iter()
            .find(|p| p.id == provider)
            .map(|p| p.token_help_url)
    }

    /// Validates credentials with the provider and says whose they are.
    async fn validate(
        &self,
        provider: &str,
        base_url: &str,
        token: &ProviderToken,
    ) -> Result<Account, ValidateError>;

    /// A deploy of `org` was registered and queued a capture: start it now
    /// rather than at the next poll (the queue is durable either way).
    fn deploy_registered(&self, org: &str);

    /// `org`'s integration with `provider` was disabled (already stored):
    /// its in-flight provider calls end now, and nothing more is stored
    /// for them.
    fn integration_disabled(&self, org: &str, provider: &str);

    /// Verifies and applies a pushed event for `org` (the org and the
    /// provider are known to exist when this is called).
    async fn webhook_received(
        &self,
        provider: &str,
        org: &str,
        req: WebhookRequest,
    ) -> Result<WebhookAck, WebhookError>;

    /// The builds of commit `sha` (7 to 40 hex characters, checked by the
    /// caller) in `project`'s build project, as they are now: from the
    /// index when a search of it is at most `max_age` old, else from the
    /// provider within the integration's budget (and then indexed).
    /// `code_deployment` picks one when the project has several.
    async fn commit_builds(
        &self,
        org: &str,
        project: &str,
        code_deployment: Option<&str>,
        sha: &str,
        max_age: std::time::Duration,
    ) -> Result<CommitBuilds, CommitBuildsError>;
}
