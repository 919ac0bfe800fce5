//! Deploy alert hooks of an org: add, list, remove, and their recent
//! deliveries (docs/http-api.md "Deploy alerts").

use std::sync::Arc;

use buildsnap_store::NewAlertHook;
use hyper::StatusCode;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::deploys::query_params;
use super::{Resp, body, db, empty, json, param};
use crate::auth::{Need, require_org};
use crate::errors::ApiError;
use crate::state::{AppState, Req};

#[derive(Deserialize)]
pub(crate) struct NewHook {
    url: String,
    events: Vec<String>,
    secret: String,
    #[serde(default)]
    format: Option<String>,
}

pub(super) async fn create(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let b: NewHook = body(&req)?;
    if let Err(reason) = state.services.check_alert_url(&b.url) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "host_not_allowed",
            reason,
        ));
    }
    let new = NewAlertHook {
        url: b.url,
        events: b.events,
        format: b.format.unwrap_or_else(|| "buildsnap".into()),
        secret: Zeroizing::new(b.secret),
    };
    let hook = db(state, move |s| s.create_alert_hook(&org, &new)).await?;
    Ok(json(StatusCode::CREATED, &hook))
}

pub(super) async fn list(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let hooks = db(state, move |s| s.alert_hooks(&org)).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "alert_hooks": hooks }),
    ))
}

fn hook_id(req: &Req) -> Result<i64, ApiError> {
    let raw = param(req, 1);
    raw.parse::<i64>().map_err(|_| not_found(&raw))
}

fn not_found(raw: &str) -> ApiError {
    ApiError::not_found(
        "alert_hook_not_found",
        format!("alert hook {raw:?} not found"),
    )
}

pub(super) async fn delete(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let id = hook_id(&req)?;
    if db(state, move |s| s.delete_alert_hook(&org, id)).await? {
        Ok(empty(StatusCode::NO_CONTENT))
    } else {
        Err(not_found(&id.to_string()))
    }
}

pub(super) async fn deliveries(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let id = hook_id(&req)?;
    let mut limit = 50;
    for (k, v) in query_params(req.query.as_deref()) {
        if k == "limit" {
            limit = v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_limit",
                        "limit must be an integer from 1 to 1000",
                    )
                })?;
        }
    }
    match db(state, move |s| s.alert_deliveries(&org, id, limit)).await? {
        Some(ds) => Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "deliveries": ds }),
        )),
        None => Err(not_found(&id.to_string())),
    }
}
