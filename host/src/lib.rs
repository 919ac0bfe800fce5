//! buildsnap: ties every deploy to the CI builds of the deployed commit and
//! keeps a snapshot of their state at deploy time.

#![warn(missing_docs)]

pub mod alerts;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod logging;
pub mod pipeline;
pub mod plugin_kit;
pub mod plugin_watch;
pub mod replicas;
pub mod runtime;
pub mod serve;
pub mod services;
pub mod settings;
pub mod upkeep;
