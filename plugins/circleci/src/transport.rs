//! The one door to HTTP.
//!
//! wit-bindgen's import functions only work inside a component (natively they
//! are `unreachable!()`), so the logic talks to this trait instead: the guest
//! implements it with the `http` import, tests with canned answers.

use crate::wit::{HttpError, Request, Response};

/// Sends requests on the plugin's behalf. The host adds authentication; an
/// implementation must not.
pub trait Transport {
    /// Send one request and wait for its answer.
    fn send(&self, req: &Request) -> Result<Response, HttpError>;

    /// Send several requests concurrently; the answers come back in the
    /// order of `reqs`, one per request.
    fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>>;
}
