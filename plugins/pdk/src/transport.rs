//! The one door to HTTP.
//!
//! wit-bindgen's import functions only work inside a component, so a
//! plugin's logic talks to [`Transport`]: the component backs it with the
//! host's `http` import ([`HostHttp`]), tests with canned answers,
//! recordings (`buildsnap plugin call --record`) or a simulator.

use crate::wit::{HttpError, Request, Response};

/// Sends requests on the plugin's behalf. The host adds authentication; an
/// implementation must not.
pub trait Transport {
    /// Send one request and wait for its answer.
    fn send(&self, req: &Request) -> Result<Response, HttpError>;

    /// Send several requests; the answers come back in the order of `reqs`.
    /// The host runs them no more concurrently than the descriptor's
    /// `max-concurrency`. The default sends them one by one.
    fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
        reqs.iter().map(|r| self.send(r)).collect()
    }
}

/// HTTP through the host's `http` import (inside the component only).
#[cfg(target_arch = "wasm32")]
pub struct HostHttp;

#[cfg(target_arch = "wasm32")]
impl Transport for HostHttp {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        crate::bindings::buildsnap::provider::http::send(req)
    }

    fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
        crate::bindings::buildsnap::provider::http::send_batch(reqs)
    }
}
