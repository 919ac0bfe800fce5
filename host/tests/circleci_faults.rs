//! CircleCI end to end when the API misbehaves: rate limits (seconds and
//! HTTP dates, within and beyond the call), server errors, malformed bodies.
//!
//! The built-in CircleCI component (plugins/dist/circleci.wasm, contract
//! 0.2.0, as embedded in the host) runs inside the host's sandbox and
//! talks, through the host's policed outbound HTTP, to the CircleCI
//! simulator on 127.0.0.1. Every
//! assertion is about what crossed the real boundaries: the typed results out
//! of the component, and the request log the simulator kept.
//!
//! The tests live in `circleci/faults.rs`; `circleci_0_1_0.rs` runs them
//! again against the CircleCI component built for contract 0.1.0.

#[path = "support/circleci_cases.rs"]
mod cases;
#[path = "support/sim.rs"]
mod sim;

/// The component these tests run.
const CIRCLECI: sim::Component = sim::Component::Builtin;

include!("circleci/faults.rs");
