//! `POST /api/v1/webhooks/{provider}/{org}`: pushed build events, authenticated
//! by the provider's signature (checked by the plugin), not by a bearer token.

use std::sync::Arc;

use buildsnap_services::{WebhookError, WebhookRequest};
use hyper::StatusCode;

use super::{Resp, db, json, param};
use crate::errors::ApiError;
use crate::state::{AppState, Req};

pub(super) async fn receive(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let (pid, org) = (param(&req, 0), param(&req, 1));
    if !state.services.providers().iter().any(|p| p.id == pid) {
        return Err(ApiError::unknown_provider(&pid));
    }
    let o = org.clone();
    if db(state, move |s| s.get_org(&o)).await?.is_none() {
        return Err(ApiError::not_found(
            "org_not_found",
            format!("organisation {org:?} not found"),
        ));
    }
    let headers = req
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let out = state
        .services
        .webhook_received(
            &pid,
            &org,
            WebhookRequest {
                headers,
                body: req.body,
            },
        )
        .await;
    match out {
        Ok(ack) => Ok(json(
            StatusCode::ACCEPTED,
            &serde_json::json!({"accepted": true, "id": ack.id, "kind": ack.kind, "duplicate": ack.duplicate}),
        )),
        Err(WebhookError::Unsupported(m)) => Ok(json(
            StatusCode::ACCEPTED,
            &serde_json::json!({"accepted": false, "reason": m}),
        )),
        Err(WebhookError::BadSignature(m)) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", m))
        }
        Err(WebhookError::Malformed(m)) => Err(ApiError::bad_request("malformed_event", m)),
        Err(WebhookError::NotConfigured(m)) => {
            Err(ApiError::not_found("webhook_not_configured", m))
        }
        Err(WebhookError::Other(m)) => {
            Err(ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", m))
        }
    }
}
