//! Every export of the contract, over a [`Transport`].
//!
//! The example API: `GET {base}/api/me`, `GET {base}/api/projects` and
//! `GET {base}/api/projects/{slug}/builds`, paged by `page` with a
//! `next_page` in each answer, JSON errors `{"message": ...}`, and `429`
//! with `Retry-After` seconds when rate limited.

use serde::de::DeserializeOwned;

use crate::api::{self, ApiError};
use crate::mapping;
use crate::wit::*;

/// How requests leave the plugin: the host's `http` import in the
/// component, a recording in tests.
pub trait Transport {
    /// Sends one request.
    fn send(&self, req: &Request) -> Result<Response, HttpError>;
}

/// Builds per page the example API sends.
const PER_PAGE: u32 = 50;

/// What the plugin is.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "{{id}}".into(),
        name: "{{name}}".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        default_base_url: "https://ci.example.com".into(),
        // The host adds `Authorization: Bearer <token>` to requests for the
        // integration's own origin; the plugin never sees the token.
        auth: AuthScheme::Bearer,
        origins: vec!["https://ci.example.com".into()],
        max_concurrency: 4,
        // The host pauses the whole integration on a 429 until Retry-After.
        rate_limits: vec![RateLimitRule {
            statuses: vec![429],
            headers: vec![],
            reset: ResetSource::DelayHeader("retry-after".into()),
            fallback_ms: 60_000,
        }],
        webhooks: None,
    }
}

/// Where a person makes a token, on the integration's own server.
pub fn token_help_url(ctx: &CallContext) -> String {
    format!("{}/settings/tokens", ctx.base_url.trim_end_matches('/'))
}

fn get(url: String) -> Request {
    Request {
        method: Method::Get,
        url,
        headers: vec![("accept".into(), "application/json".into())],
        body: None,
        timeout_ms: None,
        // The host revalidates with its own copy of the last answer.
        conditional: true,
    }
}

/// The error a non-2xx answer stands for, with the provider's message.
fn error_of(resp: &Response) -> ProviderError {
    let message = serde_json::from_slice::<ApiError>(&resp.body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&resp.body).chars().take(200).collect());
    match resp.status {
        401 | 403 => ProviderError::Unauthorized(message),
        404 => ProviderError::NotFound(message),
        429 => ProviderError::RateLimited(RateLimit {
            until: None,
            message,
        }),
        status => ProviderError::Upstream(UpstreamError { status, message }),
    }
}

/// GET `url` and read its JSON as `T`.
fn get_json<T: DeserializeOwned>(t: &impl Transport, url: String) -> Result<T, ProviderError> {
    let resp = t.send(&get(url.clone())).map_err(|e| match e {
        HttpError::Paused(p) => ProviderError::RateLimited(RateLimit {
            until: Some(p.until),
            message: p.reason,
        }),
        other => ProviderError::Other(format!("GET {url}: {other:?}")),
    })?;
    if !(200..300).contains(&resp.status) {
        return Err(error_of(&resp));
    }
    serde_json::from_slice(&resp.body)
        .map_err(|e| ProviderError::InvalidResponse(format!("GET {url}: {e}")))
}

fn api(ctx: &CallContext) -> String {
    format!("{}/api", ctx.base_url.trim_end_matches('/'))
}

/// Whose token it is.
pub fn validate_credentials(t: &impl Transport, ctx: &CallContext) -> Result<Account, ProviderError> {
    let me: api::Me = get_json(t, format!("{}/me", api(ctx)))?;
    Ok(Account {
        name: me.name.unwrap_or_else(|| me.login.clone()),
        id: me.id,
        login: me.login,
    })
}

/// One page of projects; the cursor is the API's page number.
pub fn list_projects(
    t: &impl Transport,
    ctx: &CallContext,
    q: &ProjectQuery,
) -> Result<ProjectPage, ProviderError> {
    let page = q.cursor.as_deref().unwrap_or("1");
    let mut url = format!("{}/projects?page={page}&per_page={}", api(ctx), q.limit.clamp(1, 100));
    if let Some(search) = &q.search {
        url.push_str(&format!("&q={}", encode(search)));
    }
    let answer: api::Projects = get_json(t, url)?;
    Ok(ProjectPage {
        projects: answer
            .projects
            .into_iter()
            .map(|p| Project {
                slug: p.slug,
                name: p.name,
                repo_url: p.repo_url,
            })
            .collect(),
        next: answer.next_page.map(|n| n.to_string()),
    })
}

/// `https://git.example.com/acme/web(.git)` → `acme/web`.
pub fn project_for_repo(repo_url: &str) -> Option<String> {
    let path = repo_url.split_once("://")?.1.split_once('/')?.1;
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = path.rsplitn(3, '/');
    let (name, owner) = (parts.next()?, parts.next()?);
    (!name.is_empty() && !owner.is_empty()).then(|| format!("{owner}/{name}"))
}

/// The example API filters by full SHA only: the host resolves nothing.
pub fn resolve_sha() -> Result<ShaResolution, ProviderError> {
    Ok(ShaResolution::Unsupported)
}

/// Every build of one commit: the API filters by `sha`, newest first.
pub fn builds_for_commit(
    t: &impl Transport,
    ctx: &CallContext,
    q: &CommitQuery,
) -> Result<CommitBuilds, ProviderError> {
    let mut builds = Vec::new();
    let (mut page, mut pages) = (1u32, 0u32);
    let stopped_because = loop {
        let url = format!(
            "{}/projects/{}/builds?sha={}&page={page}&per_page={PER_PAGE}",
            api(ctx),
            q.project,
            q.sha
        );
        let answer: api::Builds = get_json(t, url)?;
        pages += 1;
        builds.extend(
            answer
                .builds
                .iter()
                .filter(|b| q.branch.as_ref().is_none_or(|br| b.branch.as_ref() == Some(br)))
                .map(mapping::build),
        );
        match answer.next_page {
            None => break StopReason::FilterExhausted,
            Some(_) if builds.len() as u32 >= q.horizon.max_pipelines => break StopReason::Horizon,
            Some(next) => page = next,
        }
    };
    let report = SearchReport {
        pipelines_searched: builds.len() as u32,
        pages_fetched: pages,
        oldest_searched: builds.last().map(|b| b.created_at.clone()),
        stopped_because,
        without_commit: 0,
    };
    Ok(CommitBuilds { builds, report })
}

/// One page of recent builds for the background refresh; the cursor is
/// the next page. It stops at the horizon's `not_before`.
pub fn sync(t: &impl Transport, ctx: &CallContext, req: &SyncRequest) -> Result<SyncPage, ProviderError> {
    let page = req.cursor.as_deref().unwrap_or("1");
    let url = format!("{}/projects/{}/builds?page={page}&per_page={PER_PAGE}", api(ctx), req.project);
    let answer: api::Builds = get_json(t, url)?;
    let not_before = req.horizon.not_before.as_deref();
    // RFC 3339 UTC times compare as text.
    let recent: Vec<Build> = answer
        .builds
        .iter()
        .take_while(|b| not_before.is_none_or(|nb| b.created_at.as_str() >= nb))
        .map(mapping::build)
        .collect();
    let older_reached = recent.len() < answer.builds.len();
    Ok(SyncPage {
        next_cursor: answer
            .next_page
            .filter(|_| !older_reached)
            .map(|n| n.to_string()),
        builds: recent,
    })
}

/// The example API sends no webhooks.
pub fn parse_webhook() -> Result<WebhookEvent, WebhookError> {
    Err(WebhookError::Unsupported("{{name}} sends no webhooks".into()))
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
