//! Health, metrics, OpenAPI document, provider list.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use super::{Resp, db, json};
use crate::errors::ApiError;
use crate::state::{AppState, Req};

/// How long `/readyz` waits for the database. A load balancer's probe
/// usually times out after a few seconds; answering 503 before it does says
/// "slow database" rather than "dead process".
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /readyz`: 200 while the database answers a trivial query within
/// [`READY_TIMEOUT`], else 503 with the reason (never the URL: a store
/// error does not carry it).
pub(super) async fn readyz(state: &Arc<AppState>) -> Resp {
    let database = if state.store.is_postgres() {
        "postgresql"
    } else {
        "sqlite"
    };
    let store = state.store.clone();
    let ping = tokio::time::timeout(
        READY_TIMEOUT,
        tokio::task::spawn_blocking(move || store.ping()),
    )
    .await;
    let reason = match ping {
        Ok(Ok(Ok(()))) => {
            return json(
                StatusCode::OK,
                &serde_json::json!({"status": "ready", "database": database}),
            );
        }
        Ok(Ok(Err(e))) => e.to_string(),
        Ok(Err(_)) => "the check failed".to_string(),
        Err(_) => format!("no answer within {} s", READY_TIMEOUT.as_secs()),
    };
    tracing::warn!(database, %reason, "not ready: the database does not answer");
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({"status": "unavailable", "database": database, "reason": reason}),
    )
}

pub(super) async fn metrics(state: &Arc<AppState>) -> Result<Resp, ApiError> {
    // The queue depth is read from the durable queue at scrape time, so the
    // gauge is right even when no worker updates it.
    let depth = db(state, |s| s.capture_queue_depth()).await?;
    state.metrics.set_capture_queue_depth(depth);
    let mut r = Response::new(Full::new(Bytes::from(state.metrics.render())));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

pub(super) fn openapi() -> Resp {
    let mut r = Response::new(Full::new(Bytes::from_static(
        crate::openapi::OPENAPI_JSON.as_bytes(),
    )));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// `GET /api/v1/providers/{provider}/token-help-url?base_url=URL`: the
/// provider's token page for the server at `base_url` (its default server
/// without one), so the enable form links to the right host.
pub(super) async fn token_help_url(state: &Arc<AppState>, req: &Req) -> Result<Resp, ApiError> {
    req.principal()?;
    let provider = &req.params[0];
    let Some(info) = state
        .services
        .providers()
        .into_iter()
        .find(|p| &p.id == provider)
    else {
        return Err(ApiError::unknown_provider(provider));
    };
    let mut base = info.default_base_url.clone();
    for (k, v) in super::deploys::query_params(req.query.as_deref()) {
        // Given, it must be a URL (an empty one too: the default server is
        // asked for by leaving the parameter out).
        if k == "base_url" {
            base = v;
        }
    }
    // The document's pattern (`^https?://[^/?#\s][^\s]*$`, at most 2,048
    // characters), then a URL with a host and no credentials.
    let after_scheme = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"));
    let shaped = base.len() <= 2048
        && !base.chars().any(char::is_whitespace)
        && after_scheme.is_some_and(|rest| {
            rest.chars()
                .next()
                .is_some_and(|c| !matches!(c, '/' | '?' | '#'))
        });
    let parsed = url::Url::parse(&base).ok().filter(|u| {
        shaped
            && matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.username().is_empty()
            && u.password().is_none()
    });
    if parsed.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_base_url",
            "base_url must be an absolute http(s) URL without credentials",
        ));
    }
    let url = state
        .services
        .token_help_url(provider, &base)
        .await
        .unwrap_or(info.token_help_url);
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "provider": provider, "base_url": base, "token_help_url": url }),
    ))
}

pub(super) fn providers(state: &Arc<AppState>, req: &Req) -> Result<Resp, ApiError> {
    req.principal()?;
    let list: Vec<serde_json::Value> = state
        .services
        .providers()
        .into_iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id, "name": p.name, "version": p.version, "api_version": p.api_version,
                "token_help_url": p.token_help_url, "status": p.status, "default_base_url": p.default_base_url,
            })
        })
        .collect();
    let files = state.services.plugin_files();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "providers": list, "plugin_files": files }),
    ))
}
