//! `POST /api/v1/webhooks/{provider}/{org}`: pushed build events, authenticated
//! by the provider's signature (checked by the plugin), not by a bearer token.
//!
//! A delivery that does not prove the org's webhook secret gets one answer
//! whether the org does not exist, has no secret, or has one the signature
//! does not match: the same status and body, and no sooner than
//! [`REFUSAL_FLOOR`] after it arrived. Otherwise the endpoint, which needs no
//! token, would tell anyone which orgs exist and which take webhooks (by
//! the answer, or by the time a signature check takes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use buildsnap_services::{WebhookAck, WebhookError, WebhookRequest};
use hyper::StatusCode;

use super::{Resp, db, json, param};
use crate::errors::ApiError;
use crate::state::{AppState, Req};

/// Least time a refused delivery takes to be answered: longer than a
/// signature check (an instantiation and an HMAC in the plugin, about a
/// millisecond), so that the time does not tell which case refused it.
const REFUSAL_FLOOR: Duration = Duration::from_millis(50);

/// The one answer to a delivery without valid credentials.
fn refused(provider: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad_signature",
        format!(
            "the delivery is not signed with the webhook secret of this organisation's {provider} \
             integration (or there is no such organisation or secret)"
        ),
    )
}

pub(super) async fn receive(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let arrived = Instant::now();
    let (pid, org) = (param(&req, 0), param(&req, 1));
    // Loaded providers are public (GET /api/v1/providers): no secret here.
    if !state.services.providers().iter().any(|p| p.id == pid) {
        return Err(ApiError::unknown_provider(&pid));
    }
    let o = org.clone();
    let known = db(state, move |s| s.get_org(&o)).await?.is_some();
    let out = if known {
        call(state, &pid, &org, req).await
    } else {
        Err(WebhookError::NotConfigured("no such organisation".into()))
    };
    match out {
        Ok(ack) => Ok(json(
            StatusCode::ACCEPTED,
            &serde_json::json!({"accepted": true, "id": ack.id, "kind": ack.kind, "duplicate": ack.duplicate}),
        )),
        Err(WebhookError::Unsupported(m)) => Ok(json(
            StatusCode::ACCEPTED,
            &serde_json::json!({"accepted": false, "reason": m}),
        )),
        Err(WebhookError::BadSignature(m) | WebhookError::NotConfigured(m)) => {
            // The reason goes to the log only (for the operator).
            tracing::info!(provider = %pid, org = %org, reason = %m, "webhook delivery refused");
            tokio::time::sleep_until((arrived + REFUSAL_FLOOR).into()).await;
            Err(refused(&pid))
        }
        Err(WebhookError::Malformed(m)) => Err(ApiError::bad_request("malformed_event", m)),
        Err(WebhookError::Other(m)) => {
            Err(ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", m))
        }
    }
}

/// Hands the delivery to the provider (which verifies it with the org's secret).
async fn call(
    state: &Arc<AppState>,
    pid: &str,
    org: &str,
    req: Req,
) -> Result<WebhookAck, WebhookError> {
    let headers = req
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    state
        .services
        .webhook_received(
            pid,
            org,
            WebhookRequest {
                headers,
                body: req.body,
            },
        )
        .await
}
