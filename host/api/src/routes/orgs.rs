//! Organisations and their tokens.

use std::sync::Arc;

use buildsnap_store::Scope;
use hyper::StatusCode;
use serde::Deserialize;

use super::{Resp, body, db, json, param};
use crate::auth::{Need, require_admin, require_org};
use crate::errors::ApiError;
use crate::state::{AppState, Req};

#[derive(Deserialize)]
pub(crate) struct NewOrg {
    slug: String,
    /// Defaults to the slug.
    name: Option<String>,
}

pub(super) async fn create_org(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    require_admin(req.principal()?)?;
    let b: NewOrg = body(&req)?;
    let name = b.name.unwrap_or_else(|| b.slug.clone());
    let org = db(state, move |s| s.create_org(&b.slug, &name)).await?;
    tracing::info!(org = %org.slug, "organisation created");
    Ok(json(StatusCode::CREATED, &org))
}

#[derive(Deserialize)]
pub(crate) struct NewTokenReq {
    name: String,
    pub(crate) scope: String,
}

pub(super) async fn create_token(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let b: NewTokenReq = body(&req)?;
    let scope = scope(&b.scope)?;
    let t = db(state, move |s| s.create_token(&org, &b.name, scope)).await?;
    tracing::info!(org = %t.org, name = %t.name, scope = scope.as_str(), "token created");
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({"token": t.token, "name": t.name, "scope": t.scope}),
    ))
}

/// The scope a token request names.
pub(crate) fn scope(word: &str) -> Result<Scope, ApiError> {
    match word {
        "all" => Ok(Scope::All),
        "register_deploy" => Ok(Scope::RegisterDeploy),
        other => Err(ApiError::bad_request(
            "invalid_scope",
            format!("scope {other:?} is not one of \"all\", \"register_deploy\""),
        )),
    }
}
