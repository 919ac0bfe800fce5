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

/// The one door to HTTP (from [`buildsnap_pdk`]).
pub use buildsnap_pdk::transport;
/// The contract's types under short names (from [`buildsnap_pdk`]).
pub use buildsnap_pdk::wit;

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
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod guest;
