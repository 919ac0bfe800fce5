//! A GitHub REST API simulator (the Actions subset) for buildsnap's tests, benchmarks and
//! demo, held to GitHub's own OpenAPI description.
//!
//! Start it from a test:
//! ```no_run
//! # async fn demo() -> Result<(), github_sim::SimError> {
//! use github_sim::{SimOptions, Simulator, cases};
//! let sim = Simulator::start(cases::demo()?, SimOptions::default()).await?;
//! let base = sim.base_url(); // http://127.0.0.1:PORT (…/api/v3 in Enterprise mode)
//! # let _ = base;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//! See `README.md` for what is modelled, the scenario format, faults and deviations.

#![warn(missing_docs)]

pub mod admin;
pub mod auth;
pub mod builder;
pub mod cases;
pub use sim_kit::clock;
pub mod conditional;
pub mod error;
pub mod faults;
pub mod generate;
pub mod log;
pub mod model;
pub mod query;
pub mod ratelimit;
pub mod routes;
pub mod scenario;
mod server;
pub mod state;
pub mod timeline;
pub mod views;
pub mod webhooks;

mod handle;

pub use clock::SimClock;
pub use error::{ScenarioError, SimError};
pub use faults::{Fault, FaultRule};
pub use handle::{API_VERSION, SimHandle, SimOptions, Simulator};
pub use log::{Counters, Limited, RequestRecord, WaitViolation};
pub use ratelimit::RateLimitConfig;
pub use scenario::Scenario;
pub use webhooks::{Delivery, Sent, WebhookConfig};
