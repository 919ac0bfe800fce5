//! The plugin runtime: loads provider components and runs their calls in
//! a sandbox (fresh Store per call, memory cap, deadline, HTTP policy).

pub mod auth_header;
pub mod cache;
pub mod conditional;
pub mod credential;
pub mod engine;
pub mod folder;
pub mod limits;
pub mod loader;
pub mod origin;
pub mod outbound;
pub mod pause;
pub mod plugin;
pub mod registry;
pub(crate) mod state;
pub mod url_rules;
pub mod wit;

pub use credential::Credential;
pub use folder::{FileState, PluginFile, ReloadReport};
pub use loader::{LoadError, PluginSource, Provenance};
pub use plugin::{CallError, Integration, Plugin, PluginInfo};
pub use registry::{LoadFailure, Registry, RegistryBuilder};
