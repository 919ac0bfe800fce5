//! CircleCI provider plugin for buildsnap.
//!
//! The logic is plain Rust that runs natively (and is tested natively); only
//! [`guest`] is wasm-specific. Every HTTP request goes through the
//! [`transport::Transport`] trait: the component backs it with the host's
//! `http` import, tests back it with canned responses.
//!
//! One set of types is used throughout: the ones `wit_bindgen::generate!`
//! produces for the `plugin` world of contract 0.2.0 (re-exported from
//! [`wit`]).

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
    pub use crate::bindings::buildsnap::provider::log::Level;
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
pub mod api;
pub mod client;
pub mod describe;
pub mod fetch;
pub mod fields;
pub mod items;
pub mod links;
pub mod logging;
pub mod mapping;
pub mod search;
pub mod slug;
pub mod status;
pub mod sync;
pub mod time;
pub mod transport;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod guest;
/// talc, not Rust's default dlmalloc: an instance lives for one call and is
/// single-threaded, and mapping makes many small allocations, where talc is
/// markedly faster (docs/performance.md, "CircleCI mapping").
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod heap;
