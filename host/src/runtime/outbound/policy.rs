//! What one plugin call may reach and send: declared and granted origins,
//! the auth header on its own origin only, the descriptor's rate-limit
//! rules and concurrency, and the headers a plugin may not set.

use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use super::OutError;
use crate::runtime::auth_header::AuthHeader;
use crate::runtime::conditional::Kept;
use crate::runtime::origin::{AllowList, Origin, has_credentials};
use crate::runtime::wit::latest::provider::RateLimitRule;

/// What one plugin call may reach, and with which credentials.
#[derive(Clone)]
pub struct CallPolicy {
    /// The plugin's id, for messages.
    pub plugin: Arc<str>,
    /// Origins the plugin declared in `describe`, plus the integration's.
    pub declared: Vec<Origin>,
    /// The plugin's default origin when it is granted without the
    /// operator (bundled plugins; `None` for plugins-folder plugins).
    pub granted_default: Option<Origin>,
    /// The operator's grants (BUILDSNAP_ALLOW_HOSTS).
    pub grants: Arc<AllowList>,
    /// The integration's auth header, sent only to its own origin; `None`
    /// when the integration has no credential.
    pub auth: Option<AuthHeader>,
    /// How the provider signals rate limits (its descriptor's rules); an
    /// answer that matches one pauses the whole integration.
    pub rate_limits: Arc<[RateLimitRule]>,
    /// Requests of one `send-batch` in flight at once: the smaller of the
    /// descriptor's `max-concurrency` and the host's batch limit.
    pub max_concurrency: usize,
    /// Whose kept answers conditional requests use (the integration and a
    /// digest of its token); `None`: conditional requests are sent plain.
    pub cache_scope: Option<String>,
}

impl CallPolicy {
    /// The origin of `url` if this call may reach it, or why not.
    pub fn check(&self, url: &Url) -> Result<Origin, OutError> {
        // A user name or password in the URL would go out as Basic auth,
        // around the rule that only the host sets the auth header. Not
        // echoed: it is a credential.
        if has_credentials(url) {
            return Err(OutError::Denied(
                "a URL with credentials (user:password@) is refused; the host adds the integration's token itself".into(),
            ));
        }
        let origin = Origin::of(url)
            .ok_or_else(|| OutError::Denied(format!("`{url}` is not an http(s) URL")))?;
        if !self.declared.contains(&origin) {
            return Err(OutError::Denied(format!(
                "plugin `{}` did not declare origin {origin}; a plugin lists the origins it needs in describe().origins",
                self.plugin
            )));
        }
        if !self.grants.grants(&origin, self.granted_default.as_ref()) {
            return Err(OutError::Denied(format!(
                "origin {origin} is not granted to plugin `{}`; an operator grants it with BUILDSNAP_ALLOW_HOSTS={}://{}:{}",
                self.plugin, origin.scheme, origin.host, origin.port
            )));
        }
        Ok(origin)
    }
}

/// The conditional headers for a kept answer.
pub(super) fn validators(kept: &Kept) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    if let Some(v) = kept
        .etag
        .as_deref()
        .and_then(|v| HeaderValue::try_from(v).ok())
    {
        out.push((reqwest::header::IF_NONE_MATCH, v));
    }
    if let Some(v) = kept
        .last_modified
        .as_deref()
        .and_then(|v| HeaderValue::try_from(v).ok())
    {
        out.push((reqwest::header::IF_MODIFIED_SINCE, v));
    }
    out
}

/// Headers a plugin may not set: the auth header is the host's, and the
/// others are connection-level or would smuggle credentials.
pub(super) fn forbidden_request_header(name: &str, auth: Option<&AuthHeader>) -> bool {
    matches!(
        name,
        "authorization"
            | "cookie"
            | "host"
            | "proxy-authorization"
            | "connection"
            | "transfer-encoding"
            | "content-length"
            | "if-none-match"
            | "if-modified-since"
    ) || auth.is_some_and(|a| a.name.as_str() == name)
}
