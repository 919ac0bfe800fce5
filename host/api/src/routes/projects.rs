//! Projects and code deployments.

use std::sync::Arc;

use buildsnap_store::NewCodeDeployment;
use hyper::StatusCode;
use serde::Deserialize;

use super::{Resp, body, db, json, param};
use crate::auth::{Need, require_org};
use crate::errors::ApiError;
use crate::state::{AppState, Req};

#[derive(Deserialize)]
pub(crate) struct NewProject {
    slug: String,
    /// Defaults to the slug.
    name: Option<String>,
}

pub(super) async fn create(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let b: NewProject = body(&req)?;
    let name = b.name.unwrap_or_else(|| b.slug.clone());
    let p = db(state, move |s| s.create_project(&org, &b.slug, &name)).await?;
    Ok(json(StatusCode::CREATED, &p))
}

pub(super) async fn list(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let ps = db(state, move |s| s.list_projects(&org)).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "projects": ps })))
}

pub(super) async fn create_code_deployment(
    state: &Arc<AppState>,
    req: Req,
) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    let project = param(&req, 1);
    require_org(req.principal()?, &org, Need::All)?;
    let b: NewCodeDeployment = body(&req)?;
    let cd = db(state, move |s| s.create_code_deployment(&org, &project, &b)).await?;
    Ok(json(StatusCode::CREATED, &cd))
}
