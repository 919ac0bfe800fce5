//! What every request handler works with: the shared [`AppState`] and the
//! parsed request [`Req`]. Its own module so that the pipeline (`server`)
//! and the handlers (`routes`) both depend on it and not on each other.

use std::sync::Arc;

use buildsnap_metrics::Metrics;
use buildsnap_services::HostServices;
use buildsnap_store::{Principal, Store};
use bytes::Bytes;
use hyper::HeaderMap;

use crate::errors::ApiError;

/// Shared state of every request.
pub(crate) struct AppState {
    pub store: Store,
    /// The host: providers, validation, deploy/integration/webhook events.
    pub services: Arc<dyn HostServices>,
    pub metrics: Arc<Metrics>,
}

/// What a handler gets.
pub(crate) struct Req {
    pub params: Vec<String>,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Set for every route that requires a token.
    pub principal: Option<Principal>,
}

impl Req {
    pub(crate) fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal.as_ref().ok_or_else(ApiError::unauthorized)
    }
}
