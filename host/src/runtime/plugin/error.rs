//! Why a plugin call produced no answer, and the provider's own errors in
//! words.

use std::time::Duration;

use crate::runtime::wit::{ProviderError, epoch_ms};

/// Why a call produced no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with a provider error.
    #[error("{0}")]
    Provider(ProviderErrorText),
    /// The call ran past its deadline (waiting for a permit included).
    #[error("plugin `{plugin}` did not finish within {after:?}")]
    Timeout {
        /// The plugin's id.
        plugin: String,
        /// The call timeout it exceeded.
        after: Duration,
    },
    /// The guest tried to grow its memory past the cap.
    #[error("plugin `{plugin}` exceeded its memory limit of {limit_mib} MiB")]
    MemoryLimit {
        /// The plugin's id.
        plugin: String,
        /// The cap, in MiB.
        limit_mib: usize,
    },
    /// The guest aborted (a Rust panic reaches the host as `unreachable`).
    #[error("plugin `{plugin}` panicked: {message}")]
    Panic {
        /// The plugin's id.
        plugin: String,
        /// The last error it logged, usually the panic message.
        message: String,
    },
    /// Any other trap or host error (a bad auth header name included).
    #[error("plugin `{plugin}` trapped: {message}")]
    Trap {
        /// The plugin's id.
        plugin: String,
        /// The trap or error, as wasmtime reports it.
        message: String,
    },
    /// The base URL's origin is not one this plugin may reach.
    #[error("{0}")]
    HostNotAllowed(String),
}

impl CallError {
    /// The metrics label of a failed call (`buildsnap_plugin_calls_total`'s
    /// `outcome`; a call that succeeded is `ok`). One fixed word per
    /// variant, so the label set stays bounded whatever the plugin says.
    pub fn outcome_label(&self) -> &'static str {
        match self {
            CallError::Provider(_) => "provider_error",
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryLimit { .. } => "memory_limit",
            CallError::Panic { .. } => "panic",
            CallError::Trap { .. } => "trap",
            CallError::HostNotAllowed(_) => "host_not_allowed",
        }
    }

    /// The label of a call's result: `ok`, or its error's
    /// [`outcome_label`](CallError::outcome_label).
    pub fn result_label<T>(result: &Result<T, CallError>) -> &'static str {
        result.as_ref().err().map_or("ok", CallError::outcome_label)
    }
}

/// A provider error with a readable message, keeping the typed value.
#[derive(Debug, Clone)]
pub struct ProviderErrorText(pub ProviderError);

impl std::fmt::Display for ProviderErrorText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            ProviderError::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            ProviderError::NotFound(m) => write!(f, "not found: {m}"),
            ProviderError::RateLimited(r) => match r.until {
                Some(until) => {
                    let ms = until.saturating_sub(epoch_ms(std::time::SystemTime::now()));
                    write!(f, "rate limited (retry after {ms} ms): {}", r.message)
                }
                None => write!(f, "rate limited: {}", r.message),
            },
            ProviderError::Upstream(u) => {
                write!(f, "upstream answered {}: {}", u.status, u.message)
            }
            ProviderError::InvalidResponse(m) => write!(f, "invalid response: {m}"),
            ProviderError::Other(m) => f.write_str(m),
        }
    }
}
