//! The CircleCI API routes: from (method, path, query, token) to a response.

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::model::Project;
use crate::pagination::{self, PAGE_SIZE};
use crate::scenario::Principal;
use crate::slug;
use crate::state::Shared;
use crate::{v1, views};

/// A response before faults are applied.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Content type.
    pub content_type: &'static str,
}

impl ApiResponse {
    /// JSON response.
    pub fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            body: serde_json::to_vec(v).expect("json"),
            content_type: "application/json",
        }
    }

    /// `{"message": ...}` error.
    pub fn message(status: u16, m: &str) -> Self {
        Self::json(status, &json!({ "message": m }))
    }
}

const LOGIN_FIRST: &str = "You must log in first.";
const PROJECT_NOT_FOUND: &str = "Project not found";

/// The route template a path belongs to, if it is an API route.
pub fn route_of(path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segs.as_slice() {
        ["api", "v2", "me"] => "/api/v2/me",
        ["api", "v2", "me", "collaborations"] => "/api/v2/me/collaborations",
        ["api", "v2", "project", rest @ ..] if rest.last() == Some(&"pipeline") => {
            "/api/v2/project/{slug}/pipeline"
        }
        ["api", "v2", "project", ..] => "/api/v2/project/{slug}",
        ["api", "v2", "pipeline", _] => "/api/v2/pipeline/{id}",
        ["api", "v2", "pipeline", _, "workflow"] => "/api/v2/pipeline/{id}/workflow",
        ["api", "v2", "workflow", _] => "/api/v2/workflow/{id}",
        ["api", "v2", "workflow", _, "job"] => "/api/v2/workflow/{id}/job",
        ["api", "v1.1", "projects"] => "/api/v1.1/projects",
        _ => return None,
    })
}

/// Route template for logging and counters (the path itself for unknown routes).
pub fn template(path: &str) -> String {
    route_of(path).map_or_else(|| path.to_owned(), str::to_owned)
}

/// Decoded query parameter `name`.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// Serves one API request.
pub fn handle(
    sh: &Shared,
    method: &str,
    path: &str,
    query: Option<&str>,
    principal: Option<Principal>,
) -> ApiResponse {
    let now = sh.clock.now();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if method != "GET" {
        return if route_of(path).is_some() {
            ApiResponse::message(405, "Method not allowed")
        } else {
            ApiResponse::message(404, "Not found")
        };
    }
    let Some(principal) = principal else {
        return ApiResponse::message(401, LOGIN_FIRST);
    };
    // Project tokens are not accepted by v2 at all: user-level endpoints say
    // "log in", project-level ones pretend the project does not exist.
    let user = match principal {
        Principal::User(u) => Some(u),
        Principal::Project(_) => None,
    };
    match segs.as_slice() {
        ["api", "v2", "me"] => match user {
            Some(u) => {
                let u = &sh.scenario.users[u];
                ApiResponse::json(
                    200,
                    &json!({ "name": u.name, "login": u.login, "id": u.id }),
                )
            }
            None => ApiResponse::message(401, LOGIN_FIRST),
        },
        ["api", "v2", "me", "collaborations"] => match user {
            Some(u) => {
                let orgs = sh.scenario.users[u]
                    .orgs
                    .iter()
                    .filter_map(|o| sh.index.orgs.get(o));
                let items: Vec<Value> = orgs
                    .map(|&i| views::collaboration(&sh.scenario.orgs[i]))
                    .collect();
                ApiResponse::json(200, &Value::Array(items))
            }
            None => ApiResponse::message(401, LOGIN_FIRST),
        },
        ["api", "v1.1", "projects"] => match user {
            Some(u) => ApiResponse::json(200, &v1::followed_projects(sh, u, now)),
            None => ApiResponse::message(401, LOGIN_FIRST),
        },
        ["api", "v2", "project", ..] => {
            let rest = path.splitn(5, '/').nth(4).unwrap_or("");
            project_routes(sh, user, rest, query, now)
        }
        ["api", "v2", "pipeline", id, tail @ ..] => pipeline_routes(sh, user, id, tail, query, now),
        ["api", "v2", "workflow", id, tail @ ..] => workflow_routes(sh, user, id, tail, query, now),
        _ => ApiResponse::message(404, "Not found"),
    }
}

fn project_routes(
    sh: &Shared,
    user: Option<usize>,
    rest: &str,
    query: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResponse {
    let Some((slug, tail)) = slug::split_project_path(rest) else {
        return ApiResponse::message(404, PROJECT_NOT_FOUND);
    };
    let Some(pi) = accessible_project(sh, user, &slug) else {
        return ApiResponse::message(404, PROJECT_NOT_FOUND);
    };
    let project = &sh.scenario.projects[pi];
    match tail.as_str() {
        "" | "/" => {
            let org = &sh.scenario.orgs[sh.index.orgs[&project.org]];
            ApiResponse::json(200, &views::project(project, org))
        }
        "/pipeline" => list_pipelines(sh, pi, query, now),
        _ => ApiResponse::message(404, "Not found"),
    }
}

fn accessible_project(sh: &Shared, user: Option<usize>, slug: &str) -> Option<usize> {
    let pi = *sh.index.projects.get(slug)?;
    sh.index.can_access(&sh.scenario, user?, pi).then_some(pi)
}

fn list_pipelines(sh: &Shared, pi: usize, query: Option<&str>, now: DateTime<Utc>) -> ApiResponse {
    let project = &sh.scenario.projects[pi];
    let branch = query_param(query, "branch").filter(|b| !b.is_empty());
    let scope = format!(
        "pipelines:{}:{}",
        project.id,
        branch.as_deref().unwrap_or("")
    );
    // Cursor = number of the last pipeline served; stable when new pipelines appear on top.
    let before = match query_param(query, "page-token").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match sh.pages.decode(&scope, &t) {
            Some(c) => Some(c as i64),
            None => return ApiResponse::message(400, "Invalid page-token"),
        },
    };
    let mut matching = sh.index.newest_first[pi]
        .iter()
        .map(|&i| &project.pipelines[i])
        .filter(|p| {
            p.created_at.instant() <= now
                && before.is_none_or(|b| p.number < b)
                && branch
                    .as_ref()
                    .is_none_or(|b| p.vcs.as_ref().and_then(|v| v.branch.as_ref()) == Some(b))
        });
    let page: Vec<_> = matching.by_ref().take(PAGE_SIZE).collect();
    let next = match (page.last(), matching.next()) {
        (Some(last), Some(_)) => Some(sh.pages.encode(&scope, last.number as u64)),
        _ => None,
    };
    let items = page
        .iter()
        .map(|p| views::pipeline(project, p, now))
        .collect();
    ApiResponse::json(200, &views::list(items, next))
}

fn offset_from(sh: &Shared, scope: &str, query: Option<&str>) -> Result<usize, ApiResponse> {
    match query_param(query, "page-token").filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) => sh
            .pages
            .decode(scope, &t)
            .map(|c| c as usize)
            .ok_or_else(|| ApiResponse::message(400, "Invalid page-token")),
    }
}

fn pipeline_routes(
    sh: &Shared,
    user: Option<usize>,
    id: &str,
    tail: &[&str],
    query: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResponse {
    const NOT_FOUND: &str = "Pipeline not found";
    let Some(&(pi, qi)) = sh.index.pipelines.get(id) else {
        return ApiResponse::message(404, NOT_FOUND);
    };
    let project = &sh.scenario.projects[pi];
    let p = &project.pipelines[qi];
    if !visible_to(sh, user, pi) || p.created_at.instant() > now {
        return ApiResponse::message(404, NOT_FOUND);
    }
    match tail {
        [] => ApiResponse::json(200, &views::pipeline(project, p, now)),
        ["workflow"] => {
            let scope = format!("workflows:{id}");
            let start = match offset_from(sh, &scope, query) {
                Ok(s) => s,
                Err(e) => return e,
            };
            // Newest first (a re-run comes before the original), as observed.
            let mut ws: Vec<_> = p
                .workflows
                .iter()
                .rev()
                .filter(|w| w.created_at.instant() <= now)
                .collect();
            ws.sort_by_key(|w| std::cmp::Reverse(w.created_at.instant()));
            let (page, next) = pagination::by_offset(ws, start);
            let items = page
                .iter()
                .map(|w| views::workflow(project, p, w, now))
                .collect();
            ApiResponse::json(
                200,
                &views::list(items, next.map(|n| sh.pages.encode(&scope, n as u64))),
            )
        }
        _ => ApiResponse::message(404, "Not found"),
    }
}

fn workflow_routes(
    sh: &Shared,
    user: Option<usize>,
    id: &str,
    tail: &[&str],
    query: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResponse {
    const NOT_FOUND: &str = "Workflow not found";
    let Some(&(pi, qi, wi)) = sh.index.workflows.get(id) else {
        return ApiResponse::message(404, NOT_FOUND);
    };
    let project: &Project = &sh.scenario.projects[pi];
    let p = &project.pipelines[qi];
    let w = &p.workflows[wi];
    if !visible_to(sh, user, pi)
        || w.created_at.instant() > now
        || sh.expired.lock().unwrap().contains(id)
    {
        return ApiResponse::message(404, NOT_FOUND);
    }
    match tail {
        [] => ApiResponse::json(200, &views::workflow(project, p, w, now)),
        ["job"] => {
            let scope = format!("jobs:{id}");
            let start = match offset_from(sh, &scope, query) {
                Ok(s) => s,
                Err(e) => return e,
            };
            let jobs: Vec<_> = w
                .jobs
                .iter()
                .filter(|j| j.created_at.as_ref().is_none_or(|c| c.instant() <= now))
                .collect();
            let (page, next) = pagination::by_offset(jobs, start);
            let items = page.iter().map(|j| views::job(project, j, now)).collect();
            ApiResponse::json(
                200,
                &views::list(items, next.map(|n| sh.pages.encode(&scope, n as u64))),
            )
        }
        _ => ApiResponse::message(404, "Not found"),
    }
}

fn visible_to(sh: &Shared, user: Option<usize>, project: usize) -> bool {
    user.is_some_and(|u| sh.index.can_access(&sh.scenario, u, project))
}
