//! The guest side of a buildsnap provider plugin, shared by the built-in
//! plugins and usable by any other (as a path or git dependency):
//!
//! - [`wit`]: contract `buildsnap:provider@0.2.0`'s types under short
//!   names, from bindings generated once here; a plugin exports its
//!   provider with [`export_provider!`];
//! - [`transport`]: the one door to HTTP, a trait the component backs with
//!   the host's `http` import ([`transport::HostHttp`]) and tests back with
//!   recordings or a simulator;
//! - [`json`]: GET-and-decode with typed errors, a provider's status codes
//!   read as the contract's `provider-error`;
//! - [`links`]: `Link`-header pagination (RFC 8288, GitHub's style);
//!   [`pages`]: token/number pagination with a bound on pages;
//! - [`status`]: helpers over the contract's `status` vocabulary;
//! - [`guest::guard`]: the panic hook that makes a plugin's panics
//!   readable in the host's trap report;
//! - `heap` (feature `talc`): talc as the component's allocator, fed first
//!   from the initial linear memory, frees skipped once a call's result is
//!   ready (an instance serves one call). Pair it with a larger initial
//!   memory in the plugin's own `build.rs` (a dependency cannot set link
//!   arguments for it):
//!
//!   ```no_run
//!   // build.rs
//!   if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("wasm") {
//!       println!("cargo:rustc-link-arg-cdylib=--initial-memory=2097152");
//!   }
//!   ```
#![warn(missing_docs)]

/// The bindings `wit_bindgen` generates for contract 0.2.0, exported so a
/// plugin crate can implement and export them. Not linted for docs: the
/// generated items carry the WIT's own comments only in part.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.2.0",
        world: "plugin",
        // Tests compare whole records.
        additional_derives: [PartialEq],
        // Plugins export through this crate's bindings.
        pub_export_macro: true,
        export_macro_name: "export_provider",
        default_bindings_module: "buildsnap_pdk::bindings",
    });
}

pub use bindings::export_provider;

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
        AuthScheme, CommitBuilds, CommitQuery, Descriptor, Guest, HeaderTest, HmacSignature,
        Horizon, JobUpdate, ProjectPage, ProjectQuery, RateLimitRule, ResetSource, SearchReport,
        ShaResolution, StopReason, SyncPage, SyncRequest, WebhookConfig, WebhookError,
        WebhookEvent, WebhookRequest, WebhookScheme,
    };
}

pub mod guest;
pub mod json;
pub mod links;
pub mod pages;
pub mod status;
pub mod transport;

#[cfg(all(
    feature = "talc",
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
mod heap;
