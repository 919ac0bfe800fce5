//! What a plugin's request is, and what comes back: an answer (with where
//! its body came from) or why there is none.

use std::time::{Duration, SystemTime};

use crate::runtime::pause::Paused;

/// One request, as a plugin asked for it.
#[derive(Debug, Clone)]
pub struct OutRequest {
    /// The HTTP method.
    pub method: reqwest::Method,
    /// The absolute URL, unparsed (checked by `parse_plugin_url`).
    pub url: String,
    /// The plugin's headers; the auth header and connection-level ones are
    /// dropped, whatever the plugin set.
    pub headers: Vec<(String, String)>,
    /// The request body, if any.
    pub body: Option<Vec<u8>>,
    /// The plugin's asked-for timeout, clamped to the host's request
    /// timeout and to what the call has left.
    pub timeout: Option<Duration>,
    /// A `GET` the host makes conditional from its own copy of the URL's
    /// last answer (contract 0.2.0); false for older contracts.
    pub conditional: bool,
}

/// Where an answer's body came from (contract 0.2.0 `cache-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    /// Not conditional, or no copy was held: the provider's own answer.
    Miss,
    /// A copy was held and the provider sent a new full answer.
    Fresh,
    /// The provider answered 304: the body is the host's kept copy.
    Revalidated,
}

/// The answer to an [`OutRequest`], after redirects.
#[derive(Debug, Clone)]
pub struct OutResponse {
    /// The final HTTP status.
    pub status: u16,
    /// Response headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The whole body, at most the host's response cap.
    pub body: Vec<u8>,
    /// Where the body came from.
    pub cache: CacheState,
    /// When the answer (for a revalidated one, the 304) arrived.
    pub received_at: SystemTime,
}

/// Why a plugin's request produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutError {
    /// Refused by policy (origin, credentials in the URL, request count);
    /// the message says what the operator or plugin would have to change.
    #[error("request denied: {0}")]
    Denied(String),
    /// No complete answer within the time allowed.
    #[error("request timed out")]
    Timeout,
    /// Could not connect (DNS, refused, TLS).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The body was larger than the host's cap (the cap in bytes).
    #[error("response larger than {0} bytes")]
    TooLarge(u64),
    /// Anything else: a bad URL or header, too many redirects, a client error.
    #[error("{0}")]
    Other(String),
    /// The integration is paused by a rate limit for longer than the call
    /// has left: the call fails as rate-limited (it is not sent).
    #[error(transparent)]
    Paused(#[from] Paused),
}
