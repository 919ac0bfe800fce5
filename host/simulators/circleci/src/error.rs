//! Errors at the public boundary.

use std::path::PathBuf;

/// Why a scenario could not be loaded or is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File that failed.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The JSON did not match the scenario format.
    #[error("invalid scenario JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A CSV recording could not be parsed.
    #[error("invalid DevLake recording {path}: {message}")]
    Recording {
        /// File that failed.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// Cross references do not add up (duplicate ids, unknown org, ...).
    #[error("inconsistent scenario: {0}")]
    Invalid(String),
}

/// Errors from starting or driving a simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario is unusable.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// Binding the listener failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Address that was requested.
        addr: std::net::SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The simulator only listens on loopback.
    #[error("refusing to listen on non-loopback address {0}; use 127.0.0.1")]
    NotLoopback(std::net::SocketAddr),
}
