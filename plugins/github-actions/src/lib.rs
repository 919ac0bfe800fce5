//! GitHub Actions provider plugin for buildsnap, written against contract
//! `buildsnap:provider@0.2.0` and `docs/plugin-authors.md` only.
//!
//! The logic is plain Rust that runs (and is tested) natively; every HTTP
//! request goes through [`transport::Transport`], which the component backs
//! with the host's `http` import and tests back with a client talking to the
//! GitHub simulator.
//!
//! Mapping, in short (the contract document's GitHub table is the rule):
//! each *attempt* of a workflow run is one build, `<run_id>/<attempt>`; the
//! run list describes only the newest attempt, so older ones are read one
//! request each from `/actions/runs/{id}/attempts/{n}`, and the jobs of every
//! attempt come from one `/actions/runs/{id}/jobs?filter=all` list per run.
#![warn(missing_docs)]

/// `Link` headers, as GitHub pages with them (from [`buildsnap_pdk`]).
pub use buildsnap_pdk::links;
/// The one door to HTTP (from [`buildsnap_pdk`]).
pub use buildsnap_pdk::transport;
/// The contract's types under short names (from [`buildsnap_pdk`]).
pub use buildsnap_pdk::wit;

pub mod account;
pub mod client;
pub mod describe;
pub mod fetch;
pub mod mapping;
pub mod model;
pub mod search;
pub mod slug;
pub mod status;
pub mod sync;
pub mod time;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod guest;
