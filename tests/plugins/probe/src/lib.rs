//! A contract 0.2.0 guest that shows, through the real host, the 0.2.0
//! items the GitHub Actions plugin does not use: a plain shared-token
//! webhook (GitLab's `X-Gitlab-Token` scheme) with a delivery-id header,
//! the call context in `token-help-url` and `project-for-repo` (a
//! self-managed server under `/api/v4`), `list-projects` with a query and
//! a cursor, a child build with a `parent-id`, attempts, and a webhook's
//! single-job update. It makes no HTTP request: everything it answers
//! follows from its arguments, so a test can tell what the host passed.
wit_bindgen::generate!({
    path: "../../../wit/since_v0.2.0",
    world: "plugin",
});

use buildsnap::provider::http;
use buildsnap::provider::types::{
    Account, Build, CallContext, Job, JobKind, Project, ProviderError, RateLimit, Status,
    UpstreamError,
};
use exports::buildsnap::provider::provider::*;

struct Probe;

/// The projects `list-projects` pages through.
const PROJECTS: [&str; 5] = ["group/api", "group/web", "group/docs", "tools/cli", "tools/api-kit"];

/// The server's root: the base URL without GitLab's `/api/v4`.
fn root(ctx: &CallContext) -> &str {
    let base = ctx.base_url.trim_end_matches('/');
    base.strip_suffix("/api/v4").unwrap_or(base)
}

fn job(id: &str, attempt: u32, status: Status, word: &str) -> Job {
    Job {
        id: id.into(),
        name: id.into(),
        number: None,
        kind: JobKind::Build,
        attempt,
        status,
        provider_status: word.into(),
        started_at: Some("2025-06-01T11:00:05Z".into()),
        stopped_at: None,
        url: None,
    }
}

impl Guest for Probe {
    fn describe() -> Descriptor {
        Descriptor {
            id: "probe".into(),
            name: "Probe".into(),
            version: "0.0.1".into(),
            default_base_url: "https://probe.invalid/api/v4".into(),
            auth: AuthScheme::Header("private-token".into()),
            origins: vec![],
            max_concurrency: 2,
            rate_limits: vec![],
            webhooks: Some(WebhookConfig {
                scheme: WebhookScheme::SharedToken("x-probe-token".into()),
                delivery_id_header: Some("x-probe-delivery".into()),
            }),
        }
    }

    fn token_help_url(ctx: CallContext) -> String {
        format!("{}/-/user_settings/personal_access_tokens", root(&ctx))
    }

    /// With a `ping-url` setting, GETs it first (a host pause answers
    /// `paused`, passed on as `rate-limited`).
    fn validate_credentials(ctx: CallContext) -> Result<Account, ProviderError> {
        if let Some((_, url)) = ctx.settings.iter().find(|(k, _)| k == "ping-url") {
            let req = http::Request {
                method: http::Method::Get,
                url: url.clone(),
                headers: vec![],
                body: None,
                timeout_ms: None,
                conditional: false,
            };
            match http::send(&req) {
                Ok(resp) if resp.status == 200 => {}
                Ok(resp) => {
                    return Err(ProviderError::Upstream(UpstreamError {
                        status: resp.status,
                        message: "ping".into(),
                    }));
                }
                Err(http::Error::Paused(p)) => {
                    return Err(ProviderError::RateLimited(RateLimit { until: Some(p.until), message: p.reason }));
                }
                Err(e) => return Err(ProviderError::Other(format!("ping: {e:?}"))),
            }
        }
        Ok(Account { id: "1".into(), login: "probe".into(), name: "Probe".into() })
    }

    fn list_projects(_ctx: CallContext, query: ProjectQuery) -> Result<ProjectPage, ProviderError> {
        let matching: Vec<&str> = PROJECTS
            .iter()
            .copied()
            .filter(|p| query.search.as_deref().is_none_or(|s| p.contains(s)))
            .collect();
        let from: usize = match &query.cursor {
            Some(c) => c.parse().map_err(|_| ProviderError::Other(format!("bad cursor {c}")))?,
            None => 0,
        };
        let to = (from + query.limit.max(1) as usize).min(matching.len());
        Ok(ProjectPage {
            projects: matching[from.min(to)..to]
                .iter()
                .map(|p| Project { slug: (*p).into(), name: (*p).into(), repo_url: None })
                .collect(),
            next: (to < matching.len()).then(|| to.to_string()),
        })
    }

    fn project_for_repo(ctx: CallContext, repo_url: String) -> Option<String> {
        let path = repo_url.strip_prefix(root(&ctx))?.trim_matches('/');
        (path.split('/').count() >= 2).then(|| path.to_string())
    }

    fn resolve_sha(_ctx: CallContext, _project: String, _prefix: String) -> Result<ShaResolution, ProviderError> {
        Ok(ShaResolution::Unsupported)
    }

    /// A parent pipeline (done) and its child (second attempt, running,
    /// one job running), both of the asked commit.
    fn builds_for_commit(_ctx: CallContext, query: CommitQuery) -> Result<CommitBuilds, ProviderError> {
        let build = |id: &str, parent: Option<&str>, attempt: u32, status: Status, word: &str, jobs: Vec<Job>| Build {
            id: id.into(),
            name: id.into(),
            status,
            provider_status: word.into(),
            url: None,
            pipeline_id: "p-1".into(),
            pipeline_number: Some(1),
            attempt,
            parent_id: parent.map(str::to_string),
            sha: query.sha.clone(),
            branch: Some("main".into()),
            tag: None,
            created_at: "2025-06-01T11:00:00Z".into(),
            stopped_at: None,
            jobs,
            jobs_complete: true,
        };
        Ok(CommitBuilds {
            builds: vec![
                build("parent-1", None, 1, Status::Running, "running", vec![job("trigger", 1, Status::Running, "running")]),
                build("child-1", Some("parent-1"), 2, Status::Running, "running", vec![job("test", 2, Status::Running, "running")]),
            ],
            report: SearchReport {
                pipelines_searched: 1,
                pages_fetched: 1,
                oldest_searched: None,
                stopped_because: StopReason::EndOfHistory,
                without_commit: 0,
            },
        })
    }

    /// Project `limited`: a limit only the plugin can see (say, named in a
    /// body), reset 1.5 s after the call started.
    fn sync(ctx: CallContext, req: SyncRequest) -> Result<SyncPage, ProviderError> {
        if req.project == "limited" {
            return Err(ProviderError::RateLimited(RateLimit {
                until: Some(ctx.now + 1_500),
                message: "probe: the body says the limit resets in 1.5 s".into(),
            }));
        }
        Ok(SyncPage { builds: vec![], next_cursor: None })
    }

    /// Body: `<build id> <commit> <job id> <status word>`; the host has
    /// checked the shared token, so an unverified delivery is refused.
    fn parse_webhook(_ctx: CallContext, req: WebhookRequest) -> Result<WebhookEvent, WebhookError> {
        if !req.verified {
            return Err(WebhookError::BadSignature("the host did not verify this delivery".into()));
        }
        if !req.secrets.is_empty() {
            return Err(WebhookError::Malformed("secrets are for by-plugin schemes only".into()));
        }
        let text = String::from_utf8_lossy(&req.body).into_owned();
        let words: Vec<&str> = text.split_whitespace().collect();
        let [build_id, sha, job_id, word] = words[..] else {
            return Err(WebhookError::Malformed(format!("expected 4 words, got {text:?}")));
        };
        let status = match word {
            "running" => Status::Running,
            "failed" => Status::Failed,
            "success" => Status::Success,
            other => return Err(WebhookError::Unsupported(format!("status {other}"))),
        };
        Ok(WebhookEvent {
            id: req.delivery_id.unwrap_or_else(|| text.clone()),
            kind: "job".into(),
            project: Some("group/api".into()),
            builds: vec![],
            jobs: vec![JobUpdate { build_id: build_id.into(), sha: sha.into(), job: job(job_id, 2, status, word) }],
        })
    }
}

export!(Probe);
