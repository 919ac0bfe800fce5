//! CircleCI provider plugin for buildsnap.
//!
//! The logic is plain Rust that runs natively (and is tested natively); only
//! [`guest`] is wasm-specific. Every HTTP request goes through the
//! [`transport::Transport`] trait: the component backs it with the host's
//! `http` import, tests back it with canned responses.
//!
//! One set of types is used throughout: the ones `wit_bindgen::generate!`
//! produces for the `plugin` world (re-exported from [`wit`]).

// No `missing_docs` lint here: `wit_bindgen::generate!` emits undocumented
// items for the frozen 0.1.0 contract; the plugin's own items are documented.

wit_bindgen::generate!({
    path: "../../wit/since_v0.1.0",
    world: "plugin",
    // Tests compare whole records.
    additional_derives: [PartialEq],
});

/// The contract's types under short names.
pub mod wit {
    pub use crate::buildsnap::provider::http::{
        Error as HttpError, Headers, Method, Request, Response,
    };
    pub use crate::buildsnap::provider::log::Level;
    pub use crate::buildsnap::provider::types::{
        Account, Build, CallContext, Job, Project, ProviderError, RateLimit, Status, Timestamp,
        UpstreamError,
    };
    pub use crate::exports::buildsnap::provider::provider::{
        AuthScheme, CommitBuilds, CommitQuery, Descriptor, Horizon, SearchReport, SyncPage,
        SyncRequest, WebhookError, WebhookEvent, WebhookRequest,
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
