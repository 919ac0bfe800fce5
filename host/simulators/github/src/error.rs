//! Errors at the simulator's public boundary.

use std::path::PathBuf;

/// Why a scenario could not be loaded or does not add up.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Reading a scenario file failed.
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
    /// Cross references do not add up (duplicate ids, unknown owner, unknown commit, ...).
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
    /// The simulator only listens on loopback: it serves tokens and fault switches without auth.
    #[error("refusing to listen on non-loopback address {0}; use 127.0.0.1")]
    NotLoopback(std::net::SocketAddr),
}
