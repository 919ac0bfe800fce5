//! Deploy registration and reads.

use std::sync::Arc;

use buildsnap_store::{DeployCursor, NewDeploy, ServedBuilds, SnapshotState, ts};
use hyper::StatusCode;
use serde::Deserialize;

use super::{Resp, body, coding, conditional, db, db_point_read, json, param};
use crate::auth::{Need, require_org};
use crate::errors::ApiError;
use crate::router::percent_decode;
use crate::state::{AppState, Req};

/// Default page size of `GET .../deploys`.
const DEFAULT_LIMIT: u32 = 50;

#[derive(Deserialize)]
pub(crate) struct RegisterReq {
    sha: String,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    deployed_at: Option<String>,
    #[serde(default)]
    code_deployment: Option<String>,
}

pub(super) async fn register(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let (org, project) = (param(&req, 0), param(&req, 1));
    require_org(req.principal()?, &org, Need::RegisterDeploy)?;
    let b: RegisterReq = body(&req)?;
    let deployed_at = deployed_at(&b)?;
    let new = NewDeploy {
        sha: b.sha,
        environment: b.environment,
        deployed_at,
        code_deployment: b.code_deployment,
    };
    let o = org.clone();
    let d = db(state, move |s| s.register_deploy(&o, &project, &new)).await?;
    if d.builds.state == SnapshotState::Pending {
        state.services.deploy_registered(&org);
    }
    tracing::info!(deploy = d.id, project = %d.project, sha = %d.sha, state = d.builds.state.as_str(), "deploy registered");
    Ok(json(StatusCode::ACCEPTED, &d))
}

/// The request's `deployed_at`, parsed.
pub(crate) fn deployed_at(b: &RegisterReq) -> Result<Option<ts::OffsetDateTime>, ApiError> {
    match &b.deployed_at {
        Some(s) => {
            Ok(Some(ts::parse(s).map_err(|m| {
                ApiError::bad_request("invalid_deployed_at", m)
            })?))
        }
        None => Ok(None),
    }
}

pub(super) fn query_params(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec =
                |s: &str| percent_decode(&s.replace('+', " ")).unwrap_or_else(|| s.to_string());
            (dec(k), dec(v))
        })
        .collect()
}

/// `GET .../deploys`: one page, newest first, with the cursor of the next
/// (`next_cursor`, null on the last page). Compressed as the client
/// accepts and tagged for `If-None-Match` (the page's refresh).
pub(super) async fn list(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let mut project = None;
    let mut limit = DEFAULT_LIMIT;
    let mut after = None;
    for (k, v) in query_params(req.query.as_deref()) {
        match k.as_str() {
            "project" if !v.is_empty() => project = Some(v),
            "limit" => {
                limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=buildsnap_store::MAX_LIST_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_limit",
                            format!(
                                "limit must be an integer from 1 to {}",
                                buildsnap_store::MAX_LIST_LIMIT
                            ),
                        )
                    })?;
            }
            "cursor" if !v.is_empty() => {
                after = Some(DeployCursor::decode(&v).ok_or_else(|| {
                    // 422 like the API's other "names something it does
                    // not know" answers: the text is well-formed, the
                    // position is not one this server gave out.
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_cursor",
                        "cursor is not one this server gave out: use the next_cursor of a previous answer, or leave it out for the first page",
                    )
                })?);
            }
            _ => {}
        }
    }
    let coding = coding::negotiate(&req.headers);
    let page = db(state, move |s| {
        s.list_deploys_page_served(&org, project.as_deref(), limit, after)
    })
    .await?;
    // Joined by hand around each deploy, so that in zstd every snapshot's
    // stored frame passes through as for one deploy (no decoding, no
    // compressing: docs/performance.md, "deploy list").
    let mut body = coding::Pieces::new(coding);
    body.json(br#"{"deploys":["#);
    for (i, mut d) in page.deploys.into_iter().enumerate() {
        if i > 0 {
            body.json(b",");
        }
        let served = std::mem::replace(&mut d.builds.builds, ServedBuilds::Zstd(Vec::new()));
        let d = d.with_builds(());
        body.served(served, |builds| {
            serde_json::to_vec(&d.clone().with_builds(builds)).unwrap_or_default()
        })?;
    }
    body.json(br#"],"next_cursor":"#);
    body.json(&serde_json::to_vec(&page.next.map(|c| c.encode())).unwrap_or_default());
    body.json(b"}");
    Ok(conditional::etagged(&req.headers, body.finish()?).await)
}

fn deploy_id(req: &Req) -> Result<i64, ApiError> {
    let raw = param(req, 1);
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found("deploy_not_found", format!("deploy {raw:?} not found")))
}

pub(super) async fn get(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let id = deploy_id(&req)?;
    let coding = coding::negotiate(&req.headers);
    let mut d = db_point_read(state, move |s| s.get_deploy_served(&org, id)).await?;
    let served = std::mem::replace(&mut d.builds.builds, ServedBuilds::Zstd(Vec::new()));
    let d = d.with_builds(());
    let resp = coding::answer(coding, served, |builds| {
        serde_json::to_vec(&d.clone().with_builds(builds)).unwrap_or_default()
    })?;
    Ok(conditional::etagged(&req.headers, resp).await)
}

pub(super) async fn builds(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let org = param(&req, 0);
    require_org(req.principal()?, &org, Need::All)?;
    let id = deploy_id(&req)?;
    let coding = coding::negotiate(&req.headers);
    let mut d = db_point_read(state, move |s| s.get_deploy_served(&org, id)).await?;
    let served = std::mem::replace(&mut d.builds.builds, ServedBuilds::Zstd(Vec::new()));
    let snapshot = d.builds.with_builds(());
    let resp = coding::answer(coding, served, |builds| {
        serde_json::to_vec(&snapshot.clone().with_builds(builds)).unwrap_or_default()
    })?;
    Ok(conditional::etagged(&req.headers, resp).await)
}
