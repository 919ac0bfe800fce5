//! The one door to HTTP.
//!
//! wit-bindgen's import functions only work inside a component, so the
//! logic talks to this trait: the component implements it with the host's
//! `http` import, tests with a client of the GitHub simulator.

use crate::wit::{HttpError, Request, Response};

/// Sends requests on the plugin's behalf. The host adds authentication; an
/// implementation must not.
pub trait Transport {
    /// Send one request and wait for its answer.
    fn send(&self, req: &Request) -> Result<Response, HttpError>;

    /// Send several requests; the answers come back in the order of `reqs`.
    /// The host runs them no more concurrently than the descriptor's
    /// `max-concurrency` (1 for GitHub).
    fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>>;
}
