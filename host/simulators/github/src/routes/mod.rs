//! The GitHub REST routes: from (method, path, query, account) to an answer.
//!
//! Paths here are without the Enterprise `/api/v3` prefix; the server strips it.
//! Rate limits, conditional requests, faults and headers common to every answer are the
//! server's business ([`crate::server`]).

mod actions;
mod user;

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::state::Shared;

/// Documentation link of answers that belong to no documented route.
pub const DOCS_ROOT: &str = "https://docs.github.com/rest";

/// An answer before the server adds the common headers.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Vec<u8>,
    /// Route-specific headers (`link`).
    pub headers: Vec<(&'static str, String)>,
    /// When the served objects last changed (`Last-Modified`), if that is meaningful.
    pub last_modified: Option<DateTime<Utc>>,
}

impl ApiResponse {
    /// A JSON answer.
    pub fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            body: serde_json::to_vec(v).expect("json"),
            headers: Vec::new(),
            last_modified: None,
        }
    }

    /// GitHub's error body: `{"message", "documentation_url", "status"}`.
    pub fn error(status: u16, message: &str, docs: &str) -> Self {
        Self::json(
            status,
            &json!({"message": message, "documentation_url": docs, "status": status.to_string()}),
        )
    }

    /// 404 `Not Found`: unknown routes, repositories, runs, and private repositories the
    /// client may not see (GitHub does not confirm they exist).
    pub fn not_found(docs: &str) -> Self {
        Self::error(404, "Not Found", docs)
    }

    /// 422 `Validation Failed` naming the offending field.
    pub fn invalid(resource: &str, field: &str, docs: &str) -> Self {
        Self::json(
            422,
            &json!({
                "message": "Validation Failed",
                "errors": [{"resource": resource, "field": field, "code": "invalid"}],
                "documentation_url": docs,
                "status": "422",
            }),
        )
    }

    /// Adds `Last-Modified`.
    pub fn modified(mut self, t: Option<DateTime<Utc>>) -> Self {
        self.last_modified = t;
        self
    }

    /// Adds a `Link` header when there is one.
    pub fn link(mut self, link: Option<String>) -> Self {
        if let Some(l) = link {
            self.headers.push(("link", l));
        }
        self
    }
}

/// The route template a path (without `/api/v3`) belongs to.
pub fn route_of(path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segs.as_slice() {
        ["user"] => "/user",
        ["user", "repos"] => "/user/repos",
        ["repos", _, _, "commits", r, ..] if !r.is_empty() => "/repos/{owner}/{repo}/commits/{ref}",
        ["repos", _, _, "actions", "runs"] => "/repos/{owner}/{repo}/actions/runs",
        ["repos", _, _, "actions", "runs", _] => "/repos/{owner}/{repo}/actions/runs/{run_id}",
        ["repos", _, _, "actions", "runs", _, "jobs"] => {
            "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
        }
        ["repos", _, _, "actions", "runs", _, "attempts", _] => {
            "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}"
        }
        ["repos", _, _, "actions", "runs", _, "attempts", _, "jobs"] => {
            "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs"
        }
        _ => return None,
    })
}

/// Route template for logs and counters (the path itself for unknown routes).
pub fn template(path: &str) -> String {
    route_of(path).map_or_else(|| path.to_owned(), str::to_owned)
}

/// One request as the routes see it.
pub struct Req<'a> {
    /// Shared state.
    pub sh: &'a Shared,
    /// Path without `/api/v3`.
    pub path: &'a str,
    /// Raw query.
    pub query: Option<&'a str>,
    /// The authenticated account, `None` for anonymous requests.
    pub user: Option<usize>,
    /// Simulated time of the request.
    pub now: DateTime<Utc>,
}

impl Req<'_> {
    /// Absolute URL of this path on the simulator (for `Link` headers).
    pub fn url(&self) -> String {
        format!("{}{}", self.sh.urls.api, self.path)
    }
}

/// Serves one API request.
pub fn handle(req: &Req<'_>, method: &str) -> ApiResponse {
    // GitHub answers unsupported methods with 404, not 405.
    if method != "GET" {
        return ApiResponse::not_found(DOCS_ROOT);
    }
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["user"] => user::me(req),
        ["user", "repos"] => user::repos(req),
        ["repos", owner, repo, rest @ ..] if !rest.is_empty() => {
            let sh = req.sh;
            let full = format!("{}/{}", decode(owner), decode(repo)).to_ascii_lowercase();
            let docs = route_of(req.path).map_or(DOCS_ROOT, actions::docs);
            match sh.index.repos.get(&full) {
                Some(&ri) if sh.index.can_see(&sh.scenario, req.user, ri) => {
                    actions::handle(req, ri, rest)
                }
                _ => ApiResponse::not_found(docs),
            }
        }
        _ => ApiResponse::not_found(DOCS_ROOT),
    }
}

/// Percent-decodes one path segment.
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}
