//! Integrations: enable (validate + store encrypted), disable, read, and the
//! default-build-server assignments.

use std::sync::Arc;

use buildsnap_services::{ProviderInfo, ValidateError};
use buildsnap_store::{IntegrationState, ProviderToken, validate};
use hyper::StatusCode;
use serde::Deserialize;

use super::{Resp, body, db, empty, json, param};
use crate::auth::{Need, require_org};
use crate::errors::ApiError;
use crate::state::{AppState, Req};

/// `<integration>`: stored state merged with the plugin's facts.
fn integration_json(info: &ProviderInfo, st: &IntegrationState) -> serde_json::Value {
    // An enabled integration whose plugin left the plugins folder cannot
    // capture until the plugin is back: it needs attention, and says why.
    let (status, last_error) = if st.enabled && info.status == "not_loaded" {
        (
            "needs_attention".to_string(),
            Some(format!(
                "the {} plugin is not loaded: its file was removed from the plugins folder",
                info.id
            )),
        )
    } else {
        (st.status.clone(), st.last_error.clone())
    };
    serde_json::json!({
        "provider": info.id,
        "name": info.name,
        "enabled": st.enabled,
        "account": st.account.as_ref().map(|a| serde_json::json!({"id": a.id, "login": a.login, "name": a.name})),
        "base_url": st.base_url.clone().unwrap_or_else(|| info.default_base_url.clone()),
        "default_build_server_for": st.default_build_server_for,
        "token_help_url": info.token_help_url,
        "status": status,
        "last_error": last_error,
        "webhook_configured": st.webhook_configured,
    })
}

fn provider(state: &AppState, id: &str) -> Result<ProviderInfo, ApiError> {
    state
        .services
        .providers()
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::unknown_provider(id))
}

pub(super) async fn list(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let infos = state.services.providers();
    let ids: Vec<String> = infos.iter().map(|p| p.id.clone()).collect();
    let states = db(state, move |s| s.integrations(&org, &ids)).await?;
    let list: Vec<_> = infos
        .iter()
        .zip(states.iter())
        .map(|(i, s)| integration_json(i, s))
        .collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "integrations": list }),
    ))
}

pub(super) async fn get(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let (org, pid) = (param(&req, 0), param(&req, 1));
    require_org(req.principal()?, &org, Need::All)?;
    let info = provider(state, &pid)?;
    let st = db(state, move |s| s.integration(&org, &pid)).await?;
    Ok(json(StatusCode::OK, &integration_json(&info, &st)))
}

/// PUT body. `token` goes straight into a [`ProviderToken`] (zeroized on drop).
#[derive(Deserialize)]
pub(crate) struct EnableReq {
    token: ProviderToken,
    #[serde(default)]
    base_url: Option<String>,
    /// Secret that signs the provider's webhook deliveries (write-only,
    /// stored encrypted). Absent: the stored one, if any, is kept.
    #[serde(default)]
    webhook_secret: Option<ProviderToken>,
}

pub(super) async fn enable(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let (org, pid) = (param(&req, 0), param(&req, 1));
    require_org(req.principal()?, &org, Need::All)?;
    let info = provider(state, &pid)?;
    // Listed because an integration uses it, but there is no plugin to
    // check a token with until its file is back.
    if info.status == "not_loaded" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "provider_not_loaded",
            format!(
                "the {pid} plugin is not loaded: its file was removed from the plugins folder; put it back, then enable again"
            ),
        ));
    }
    // The org must exist before any provider call is made on its behalf.
    let o = org.clone();
    if db(state, move |s| s.get_org(&o)).await?.is_none() {
        return Err(ApiError::not_found(
            "org_not_found",
            format!("organisation {org:?} not found"),
        ));
    }
    let b: EnableReq = body(&req)?;
    let base_url = enable_checks(&b, &info.default_base_url)?;
    if let Err(reason) = state.services.check_base_url(&pid, &base_url) {
        return Err(host_not_allowed(&base_url, &reason));
    }
    let outcome = state.services.validate(&pid, &base_url, &b.token).await;
    // The host counts the plugin call (buildsnap_plugin_calls_total): it
    // made it, and it knows the runtime's outcome; counting here too once
    // made one validation show up twice.
    let account = match outcome {
        Ok(a) => a,
        Err(ValidateError::InvalidCredentials(reason)) => {
            tracing::info!(org = %org, provider = %pid, "provider rejected the credentials");
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_credentials",
                format!("{} rejected the token: {reason}", info.name),
            ));
        }
        Err(ValidateError::HostNotAllowed(reason)) => {
            return Err(host_not_allowed(&base_url, &reason));
        }
        Err(ValidateError::NotProviderApi(reason)) => {
            tracing::info!(org = %org, provider = %pid, %base_url, reason = %reason, "base URL is not the provider's API");
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_provider_api",
                format!(
                    "{base_url} did not answer as the {} API does ({reason}); check the base URL",
                    info.name
                ),
            ));
        }
        Err(ValidateError::Unreachable(reason)) => {
            tracing::warn!(org = %org, provider = %pid, %base_url, reason = %reason, "provider unreachable");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "provider_unreachable",
                format!("could not reach {} at {base_url}: {reason}", info.name),
            ));
        }
        Err(ValidateError::Other(reason)) => {
            tracing::warn!(org = %org, provider = %pid, reason = %reason, "credential validation failed");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "provider_error",
                format!("{} could not validate the token: {reason}", info.name),
            ));
        }
    };
    let token = b.token;
    let webhook_secret = b.webhook_secret;
    let (o, p) = (org.clone(), pid.clone());
    let st = db(state, move |s| {
        let st = s.enable_integration(&o, &p, &base_url, &token, &account)?;
        match webhook_secret {
            Some(secret) => {
                s.set_webhook_secret(&o, &p, &secret)?;
                s.integration(&o, &p)
            }
            None => Ok(st),
        }
    })
    .await?;
    tracing::info!(org = %org, provider = %pid, account = ?st.account.as_ref().map(|a| &a.login), "integration enabled");
    Ok(json(StatusCode::OK, &integration_json(&info, &st)))
}

/// The checks of an enable request that need no provider: a token, and a
/// well-formed base URL (`default_base_url` when the request names none).
/// Returns the base URL to use.
pub(crate) fn enable_checks(b: &EnableReq, default_base_url: &str) -> Result<String, ApiError> {
    if b.token.expose().trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "\"token\" must not be empty",
        ));
    }
    validate::http_url(
        "base_url",
        b.base_url.as_deref().unwrap_or(default_base_url),
    )
    .map_err(|e| ApiError::bad_request("invalid_base_url", e.to_string()))
}

fn host_not_allowed(base_url: &str, reason: &str) -> ApiError {
    let mut msg = format!("the origin of {base_url} is not allowed: {reason}");
    if !reason.contains("BUILDSNAP_ALLOW_HOSTS") {
        msg.push_str("; the operator can grant it with BUILDSNAP_ALLOW_HOSTS (--allow-hosts)");
    }
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "host_not_allowed", msg)
}

pub(super) async fn disable(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let (org, pid) = (param(&req, 0), param(&req, 1));
    require_org(req.principal()?, &org, Need::All)?;
    provider(state, &pid)?;
    let (o, p) = (org.clone(), pid.clone());
    db(state, move |s| s.disable_integration(&o, &p)).await?;
    // After the write: a call that checks the store once it hears nothing
    // sees the disable, and one already running is told now.
    state.services.integration_disabled(&org, &pid);
    tracing::info!(org = %org, provider = %pid, "integration disabled; token erased");
    Ok(empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
pub(crate) struct DefaultReq {
    project: String,
}

pub(super) async fn set_default(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let (org, pid) = (param(&req, 0), param(&req, 1));
    require_org(req.principal()?, &org, Need::All)?;
    let info = provider(state, &pid)?;
    let b: DefaultReq = body(&req)?;
    let st = db(state, move |s| {
        s.set_default_build_server(&org, &pid, &b.project)
    })
    .await?;
    Ok(json(StatusCode::OK, &integration_json(&info, &st)))
}

pub(super) async fn unset_default(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let (org, pid, project) = (param(&req, 0), param(&req, 1), param(&req, 2));
    require_org(req.principal()?, &org, Need::All)?;
    provider(state, &pid)?;
    db(state, move |s| {
        s.unset_default_build_server(&org, &pid, &project)
    })
    .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
