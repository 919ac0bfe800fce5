//! {{name}} provider plugin for buildsnap.
//!
//! The logic is plain Rust that runs natively and is tested natively; only
//! `guest.rs` is wasm-specific. Every HTTP request goes through
//! [`provider::Transport`]: the component backs it with the host's `http`
//! import, the tests with a recording.

/// The bindings `wit_bindgen` generates for the vendored contract.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        // Tests compare whole records.
        additional_derives: [PartialEq],
    });
}

/// The contract's types under short names.
pub mod wit {
    pub use crate::bindings::buildsnap::provider::http::{
        CacheState, Error as HttpError, Method, Request, Response,
    };
    pub use crate::bindings::buildsnap::provider::types::{
        Account, Build, CallContext, Job, JobKind, Project, ProviderError, RateLimit, Status,
        UpstreamError,
    };
    pub use crate::bindings::exports::buildsnap::provider::provider::{
        AuthScheme, CommitBuilds, CommitQuery, Descriptor, Horizon, ProjectPage, ProjectQuery,
        RateLimitRule, ResetSource, SearchReport, ShaResolution, StopReason, SyncPage,
        SyncRequest, WebhookError, WebhookEvent, WebhookRequest,
    };
}

pub mod api;
pub mod mapping;
pub mod provider;

#[cfg(target_arch = "wasm32")]
mod guest;
