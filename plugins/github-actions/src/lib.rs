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

/// The bindings `wit_bindgen` generates for contract 0.2.0. Not linted for
/// docs: the generated items carry the WIT's own comments only in part.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.2.0",
        world: "plugin",
        // Tests compare whole records.
        additional_derives: [PartialEq],
    });
}

/// The contract's types under short names.
pub mod wit {
    pub use crate::bindings::buildsnap::provider::http::{
        CacheState, Error as HttpError, Headers, Method, Pause, Request, Response,
    };
    pub use crate::bindings::buildsnap::provider::types::{
        Account, Build, CallContext, EpochMs, Job, JobKind, Project, ProviderError, RateLimit,
        Status, Timestamp, UpstreamError,
    };
    pub use crate::bindings::exports::buildsnap::provider::provider::{
        AuthScheme, CommitBuilds, CommitQuery, Descriptor, HeaderTest, HmacSignature, Horizon,
        JobUpdate, ProjectPage, ProjectQuery, RateLimitRule, ResetSource, SearchReport,
        ShaResolution, StopReason, SyncPage, SyncRequest, WebhookConfig, WebhookError,
        WebhookEvent, WebhookRequest, WebhookScheme,
    };
}

pub mod account;
pub mod client;
pub mod describe;
pub mod fetch;
pub mod links;
pub mod mapping;
pub mod model;
pub mod search;
pub mod slug;
pub mod status;
pub mod sync;
pub mod time;
pub mod transport;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod guest;
