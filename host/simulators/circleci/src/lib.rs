//! A CircleCI API simulator for buildsnap's tests and benchmarks.
//!
//! Start it from a test:
//! ```no_run
//! # async fn demo() -> Result<(), circleci_sim::SimError> {
//! use circleci_sim::{Scenario, SimOptions, Simulator};
//! let scenario = Scenario::from_file("scenarios/demo.json")?;
//! let sim = Simulator::start(scenario, SimOptions::default()).await?;
//! let base = sim.base_url(); // http://127.0.0.1:PORT, append /api/v2/...
//! # let _ = base;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//! See `README.md` for the scenario format, faults and spec exceptions.

#![warn(missing_docs)]

pub mod admin;
pub mod auth;
pub mod builder;
pub use sim_kit::clock;
pub mod devlake;
pub mod error;
pub mod faults;
pub mod generate;
pub mod log;
pub mod model;
pub mod pagination;
pub mod routes;
pub mod scenario;
mod server;
pub mod slug;
pub mod state;
pub mod timeline;
pub mod timestamp;
pub mod v1;
pub mod views;
pub mod webhooks;

mod handle;

pub use clock::SimClock;
pub use error::{ScenarioError, SimError};
pub use faults::{Fault, FaultRule, RateLimitBody};
pub use handle::{SimHandle, SimOptions, Simulator};
pub use log::{RequestRecord, RetryAfterViolation};
pub use scenario::Scenario;
pub use timestamp::Timestamp;
pub use webhooks::{Delivery, WebhookConfig};
