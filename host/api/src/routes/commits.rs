//! `GET .../projects/{project}/commits/{sha}/builds`: a commit's builds as
//! they are now (not frozen), with `?wait=final` long-polling until every
//! build is final or on hold (what `buildsnap gate` asks).

use std::sync::Arc;
use std::time::Duration;

use buildsnap_domain::{FrozenBuild, Status, summary};
use buildsnap_services::CommitBuildsError;
use hyper::StatusCode;

use super::deploys::query_params;
use super::{Resp, json, param};
use crate::auth::{Need, require_org};
use crate::errors::ApiError;
use crate::state::{AppState, Req};

/// Longest `timeout` a request may ask for.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(600);

/// `timeout` when `wait=final` names none.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// How old an indexed search may be to answer a first look, and how often
/// a waiting request looks again: often enough for a gate to move on within
/// seconds of CI, rarely enough that a waiting gate costs the provider one
/// search every few seconds at most (each within the integration's budget).
const FRESH: Duration = Duration::from_secs(5);

/// What the request asked.
struct Ask {
    wait: bool,
    timeout: Duration,
    code_deployment: Option<String>,
}

fn ask(req: &Req) -> Result<Ask, ApiError> {
    let mut a = Ask {
        wait: false,
        timeout: DEFAULT_WAIT,
        code_deployment: None,
    };
    for (k, v) in query_params(req.query.as_deref()) {
        match k.as_str() {
            "wait" if v == "final" => a.wait = true,
            "wait" if !v.is_empty() => {
                return Err(ApiError::bad_request(
                    "invalid_wait",
                    "wait takes one value: final",
                ));
            }
            "timeout" => {
                a.timeout = v
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs)
                    .filter(|t| *t <= MAX_WAIT)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_timeout",
                            format!("timeout is whole seconds from 0 to {}", MAX_WAIT.as_secs()),
                        )
                    })?;
            }
            "code_deployment" if !v.is_empty() => a.code_deployment = Some(v),
            _ => {}
        }
    }
    Ok(a)
}

/// Every build final or on hold, and at least one: nothing more to wait
/// for. No builds yet is worth waiting on (a deploy on merge asks before
/// its commit's pipeline has started).
fn settled(builds: &[FrozenBuild]) -> bool {
    !builds.is_empty()
        && builds
            .iter()
            .all(|b| b.status.is_final() || b.status == Status::OnHold)
}

pub(super) async fn builds(state: &Arc<AppState>, req: Req) -> Result<Resp, ApiError> {
    let (org, project, sha) = (param(&req, 0), param(&req, 1), param(&req, 2));
    require_org(req.principal()?, &org, Need::All)?;
    let sha = buildsnap_store::validate::sha(&sha)?;
    let ask = ask(&req)?;
    let deadline = tokio::time::Instant::now() + ask.timeout;
    loop {
        let now = state
            .services
            .commit_builds(&org, &project, ask.code_deployment.as_deref(), &sha, FRESH)
            .await
            .map_err(error)?;
        let done = settled(&now.builds);
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !ask.wait || done || left.is_zero() {
            let all_final =
                !now.builds.is_empty() && now.builds.iter().all(|b| b.status.is_final());
            return Ok(json(
                StatusCode::OK,
                &serde_json::json!({
                    "sha": sha,
                    "provider": now.provider,
                    "build_project": now.build_project,
                    "summary": summary::summary(&now.builds),
                    "final": all_final,
                    "builds": now.builds,
                    "explain": now.explain,
                }),
            ));
        }
        // Looking again in FRESH: the index answers only if a search is
        // that fresh, so each look is at most one provider search.
        tokio::time::sleep(FRESH.min(left)).await;
    }
}

fn error(e: CommitBuildsError) -> ApiError {
    match e {
        CommitBuildsError::Store(e) => e.into(),
        CommitBuildsError::NoBuildServer(m) => {
            ApiError::new(StatusCode::CONFLICT, "no_build_server", m)
        }
        CommitBuildsError::Unauthorized(m) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_unauthorized",
            format!("the provider rejected the integration's token: {m}"),
        ),
        CommitBuildsError::Provider(m) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", m)
        }
    }
}
