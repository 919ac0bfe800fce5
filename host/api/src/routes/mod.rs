//! Handlers, one module per resource, and the helpers they share.

mod alert_hooks;
mod coding;
mod commits;
mod conditional;
pub(crate) mod deploys;
pub(crate) mod integrations;
pub(crate) mod orgs;
pub(crate) mod projects;
mod system;
mod web;
mod webhooks;

use std::sync::Arc;

use buildsnap_store::{Store, StoreError};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::errors::ApiError;
use crate::router::RouteId;
use crate::state::{AppState, Req};

/// The response type of every handler.
pub(crate) type Resp = Response<Full<Bytes>>;

pub(crate) async fn dispatch(
    state: &Arc<AppState>,
    route: RouteId,
    req: Req,
) -> Result<Resp, ApiError> {
    use RouteId as R;
    match route {
        R::Healthz => Ok(json(StatusCode::OK, &serde_json::json!({"status": "ok"}))),
        R::Readyz => Ok(system::readyz(state).await),
        R::Metrics => system::metrics(state).await,
        R::OpenApi => Ok(system::openapi()),
        R::Providers => system::providers(state, &req),
        R::ProviderTokenHelp => system::token_help_url(state, &req).await,
        R::CreateOrg => orgs::create_org(state, req).await,
        R::CreateToken => orgs::create_token(state, req).await,
        R::ListIntegrations => integrations::list(state, req).await,
        R::GetIntegration => integrations::get(state, req).await,
        R::PutIntegration => integrations::enable(state, req).await,
        R::DeleteIntegration => integrations::disable(state, req).await,
        R::PutDefaultBuildServer => integrations::set_default(state, req).await,
        R::DeleteDefaultBuildServer => integrations::unset_default(state, req).await,
        R::CreateProject => projects::create(state, req).await,
        R::ListProjects => projects::list(state, req).await,
        R::CreateCodeDeployment => projects::create_code_deployment(state, req).await,
        R::RegisterDeploy => deploys::register(state, req).await,
        R::ListDeploys => deploys::list(state, req).await,
        R::GetDeploy => deploys::get(state, req).await,
        R::GetDeployBuilds => deploys::builds(state, req).await,
        R::GetCommitBuilds => commits::builds(state, req).await,
        R::CreateAlertHook => alert_hooks::create(state, req).await,
        R::ListAlertHooks => alert_hooks::list(state, req).await,
        R::DeleteAlertHook => alert_hooks::delete(state, req).await,
        R::ListAlertDeliveries => alert_hooks::deliveries(state, req).await,
        R::Webhook => webhooks::receive(state, req).await,
        R::WebIndex => web::index(&req),
        R::WebAsset => web::assets(&req),
    }
}

pub(crate) fn json(status: StatusCode, v: &impl serde::Serialize) -> Resp {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub(crate) fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

pub(crate) fn error_response(e: &ApiError) -> Resp {
    json(e.status, &e.body())
}

/// Parses a JSON request body into `T`.
pub(crate) fn body<T: DeserializeOwned>(req: &Req) -> Result<T, ApiError> {
    parse_body(&req.body)
}

/// Parses JSON request body bytes into `T` (what [`body`] does with a request's body).
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the request body must be a JSON object",
        ));
    }
    // JSON is UTF-8 (RFC 8259). Checked as a whole first: serde_json skips
    // the values of unknown fields without checking them, so a body with
    // invalid UTF-8 there was accepted (found by the request_bodies fuzz
    // target).
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!(
                "invalid request body: not UTF-8 text (byte {})",
                e.valid_up_to()
            ),
        )
    })?;
    // serde's derived readers also take an array as a struct's fields in
    // order (`["abcdef1"]` registered a deploy; found by the fuzzer):
    // every body of this API is an object.
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        // serde's message names the field and position, never echoes values
        // beyond the offending token type, so it is safe to return and log.
        ApiError::bad_request("invalid_json", format!("invalid request body: {e}"))
    })
}

/// Runs a blocking store call on the blocking thread pool.
pub(crate) async fn db<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "store task failed");
            Err(ApiError::internal())
        }
    }
}

/// Like [`db`], for reads that are a few primary-key lookups (one deploy,
/// its snapshot): they take tens of microseconds, less than handing the
/// work to the blocking pool and waking the task again costs (two thread
/// wake-ups per request; docs/performance.md, "HTTP API"). They run right
/// here on the async worker when a reader connection is free, so the
/// worker never waits on the pool, and go to `spawn_blocking` otherwise.
/// Anything that may scan (listings) or write must use [`db`].
pub(crate) async fn db_point_read<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    if state.store.reader_available() {
        return f(&state.store).map_err(ApiError::from);
    }
    db(state, f).await
}

/// The `i`-th path parameter.
pub(crate) fn param(req: &Req, i: usize) -> String {
    req.params.get(i).cloned().unwrap_or_default()
}
