//! Contract `buildsnap:provider@0.1.0` (frozen in `wit/since_v0.1.0/`):
//! its bindings, the host side of its imports, and its exports called with
//! the newest contract's types (the host's own), converted here both ways.
//!
//! What 0.1.0 cannot say gets the value that means what 0.1.0 meant:
//! attempt 1 and no parent, no job updates, `max-concurrency` 8 (0.1.0's
//! `send-batch` ran 8 at a time), only 429s as rate limits, webhooks
//! verified by the plugin (`by-plugin`, the current secret only), no SHA
//! resolution (`unsupported`), and `list-projects` paged by the host.

use std::time::{Duration, SystemTime};

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

use super::exports::{Indexed, IndexedPre};
use super::since_v0_2_0 as latest;
use crate::runtime::outbound::{OutError, OutRequest};
use crate::runtime::state::PluginState;

/// The generated bindings. Their docs live in the WIT (`wit/since_v0.1.0/`),
/// which bindgen copies where it has any; the rest is generated glue, so the
/// lint is allowed here rather than documenting generated code.
#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

pub use bindings::*;

pub use self::buildsnap::provider::types;
pub use exports::buildsnap::provider::provider;

/// The contract version this module serves.
pub const VERSION: &str = "0.1.0";

/// The exports, in the order `Live` calls them by.
const EXPORTS: &[&str] = &[
    "describe",
    "validate-credentials",
    "list-projects",
    "project-for-repo",
    "builds-for-commit",
    "sync",
    "parse-webhook",
];

/// Adds this contract's imports (`types`, `log`, `http`) to `linker`, served
/// by `PluginState`.
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |state| state)
}

impl self::buildsnap::provider::types::Host for PluginState {}

impl self::buildsnap::provider::log::Host for PluginState {
    async fn log(
        &mut self,
        level: self::buildsnap::provider::log::Level,
        message: String,
    ) -> wasmtime::Result<()> {
        use self::buildsnap::provider::log::Level;
        let level = match level {
            Level::Trace => tracing::Level::TRACE,
            Level::Debug => tracing::Level::DEBUG,
            Level::Info => tracing::Level::INFO,
            Level::Warn => tracing::Level::WARN,
            Level::Error => tracing::Level::ERROR,
        };
        self.logs.log(&self.plugin, level, &message);
        Ok(())
    }
}

use self::buildsnap::provider::http as wit_http;

fn to_out(req: wit_http::Request) -> OutRequest {
    use wit_http::Method;
    let method = match req.method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    };
    OutRequest {
        method,
        url: req.url,
        headers: req.headers,
        body: req.body,
        timeout: req.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
        conditional: false,
    }
}

/// A request's answer for the guest. A rate-limit pause longer than the
/// call has left is not an answer: it ends the call (a host error the
/// guest cannot catch), which the plugin layer reports as rate-limited
/// with the pause's remaining time, whatever the plugin would have made of
/// it.
fn from_out(
    result: Result<crate::runtime::outbound::OutResponse, OutError>,
) -> wasmtime::Result<Result<wit_http::Response, wit_http::Error>> {
    Ok(match result {
        Ok(r) => Ok(wit_http::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }),
        Err(OutError::Paused(paused)) => return Err(wasmtime::Error::new(paused)),
        Err(OutError::Denied(why)) => Err(wit_http::Error::Denied(why)),
        Err(OutError::Timeout) => Err(wit_http::Error::Timeout),
        Err(OutError::Connect(why)) => Err(wit_http::Error::Connect(why)),
        Err(OutError::TooLarge(cap)) => Err(wit_http::Error::TooLarge(cap)),
        Err(OutError::Other(why)) => Err(wit_http::Error::Other(why)),
    })
}

impl wit_http::Host for PluginState {
    async fn send(
        &mut self,
        req: wit_http::Request,
    ) -> wasmtime::Result<Result<wit_http::Response, wit_http::Error>> {
        let Some(http) = self.http.clone() else {
            return Ok(Err(wit_http::Error::Denied(
                "HTTP is not available in this call".into(),
            )));
        };
        from_out(http.send(to_out(req)).await)
    }

    async fn send_batch(
        &mut self,
        reqs: Vec<wit_http::Request>,
    ) -> wasmtime::Result<Vec<Result<wit_http::Response, wit_http::Error>>> {
        let Some(http) = self.http.clone() else {
            let denied = || {
                Err(wit_http::Error::Denied(
                    "HTTP is not available in this call".into(),
                ))
            };
            return Ok(reqs.iter().map(|_| denied()).collect());
        };
        let answers = http
            .send_batch(reqs.into_iter().map(to_out).collect())
            .await;
        answers.into_iter().map(from_out).collect()
    }
}

/// The component, ready to instantiate, with its export indices resolved
/// once at load.
#[derive(Clone)]
pub struct Pre(IndexedPre);

impl Pre {
    /// Checks that the component exports the whole interface and resolves
    /// each export's index once.
    pub fn new(pre: wasmtime::component::InstancePre<PluginState>) -> wasmtime::Result<Self> {
        // The generated constructor checks the exports' types; keep its
        // error messages.
        PluginPre::new(pre.clone())?;
        Ok(Pre(IndexedPre::new(pre, VERSION, EXPORTS)?))
    }

    /// A fresh instance in `store`.
    pub async fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Live> {
        Ok(Live(self.0.instantiate(store).await?))
    }
}

/// One instance of the component, called with the newest contract's types.
pub struct Live(Indexed);

type Res<T> = Result<T, types::ProviderError>;
type LatestRes<T> = Result<T, latest::types::ProviderError>;

impl Live {
    async fn describe_v1(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<provider::Descriptor> {
        Ok(self
            .0
            .call::<(), (provider::Descriptor,)>(store, 0, ())
            .await?
            .0)
    }

    /// Calls `describe`.
    pub async fn describe(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<latest::provider::Descriptor> {
        Ok(descriptor(self.describe_v1(store).await?))
    }

    /// 0.1.0 has no `token-help-url`: the descriptor's field, whatever the
    /// integration.
    pub async fn token_help_url(&self, store: &mut Store<PluginState>) -> wasmtime::Result<String> {
        Ok(self.describe_v1(store).await?.token_help_url)
    }

    /// Calls `validate-credentials`.
    pub async fn validate_credentials(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
    ) -> wasmtime::Result<LatestRes<latest::types::Account>> {
        let ctx = context(ctx);
        let r = self
            .0
            .call::<(&types::CallContext,), (Res<types::Account>,)>(store, 1, (&ctx,))
            .await?
            .0;
        Ok(r.map(account).map_err(error))
    }

    /// Calls `list-projects` and serves the query's page from the whole
    /// list 0.1.0 returns: filtered by the search text, the cursor an
    /// offset into what is left.
    pub async fn list_projects(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
        query: &latest::provider::ProjectQuery,
    ) -> wasmtime::Result<LatestRes<latest::provider::ProjectPage>> {
        let ctx = context(ctx);
        let r = self
            .0
            .call::<(&types::CallContext,), (Res<Vec<types::Project>>,)>(store, 2, (&ctx,))
            .await?
            .0;
        Ok(
            r.map(|all| project_page(all.into_iter().map(project).collect(), query))
                .map_err(error),
        )
    }

    /// Calls `project-for-repo` (0.1.0 takes no context).
    pub async fn project_for_repo(
        &self,
        store: &mut Store<PluginState>,
        repo_url: &str,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self
            .0
            .call::<(&str,), (Option<String>,)>(store, 3, (repo_url,))
            .await?
            .0)
    }

    /// Calls `builds-for-commit`.
    pub async fn builds_for_commit(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
        query: &latest::provider::CommitQuery,
    ) -> wasmtime::Result<LatestRes<latest::provider::CommitBuilds>> {
        let ctx = context(ctx);
        let query = provider::CommitQuery {
            project: query.project.clone(),
            sha: query.sha.clone(),
            branch: query.branch.clone(),
            horizon: horizon(&query.horizon),
        };
        let r = self
            .0
            .call::<(&types::CallContext, &provider::CommitQuery), (Res<provider::CommitBuilds>,)>(
                store,
                4,
                (&ctx, &query),
            )
            .await?
            .0;
        Ok(r.map(|c| latest::provider::CommitBuilds {
            builds: c.builds.into_iter().map(build).collect(),
            report: report(c.report),
        })
        .map_err(error))
    }

    /// Calls `sync`.
    pub async fn sync(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
        req: &latest::provider::SyncRequest,
    ) -> wasmtime::Result<LatestRes<latest::provider::SyncPage>> {
        let ctx = context(ctx);
        let req = provider::SyncRequest {
            project: req.project.clone(),
            cursor: req.cursor.clone(),
            horizon: horizon(&req.horizon),
            refresh: req.refresh.clone(),
        };
        let r = self
            .0
            .call::<(&types::CallContext, &provider::SyncRequest), (Res<provider::SyncPage>,)>(
                store,
                5,
                (&ctx, &req),
            )
            .await?
            .0;
        Ok(r.map(|p| latest::provider::SyncPage {
            builds: p.builds.into_iter().map(build).collect(),
            next_cursor: p.next_cursor,
        })
        .map_err(error))
    }

    /// Calls `parse-webhook` with the current secret (0.1.0 knows one).
    pub async fn parse_webhook(
        &self,
        store: &mut Store<PluginState>,
        ctx: &latest::types::CallContext,
        req: &latest::provider::WebhookRequest,
    ) -> wasmtime::Result<Result<latest::provider::WebhookEvent, latest::provider::WebhookError>>
    {
        let ctx = context(ctx);
        let req = provider::WebhookRequest {
            headers: req.headers.clone(),
            body: req.body.clone(),
            secret: req.secrets.first().cloned().unwrap_or_default(),
        };
        let r = self
            .0
            .call::<
                (&types::CallContext, &provider::WebhookRequest),
                (Result<provider::WebhookEvent, provider::WebhookError>,),
            >(store, 6, (&ctx, &req))
            .await?
            .0;
        Ok(match r {
            Ok(e) => Ok(latest::provider::WebhookEvent {
                id: e.id,
                kind: e.kind,
                project: e.project,
                builds: e.builds.into_iter().map(build).collect(),
                jobs: Vec::new(),
            }),
            Err(provider::WebhookError::BadSignature(m)) => {
                Err(latest::provider::WebhookError::BadSignature(m))
            }
            Err(provider::WebhookError::Unsupported(m)) => {
                Err(latest::provider::WebhookError::Unsupported(m))
            }
            Err(provider::WebhookError::Malformed(m)) => {
                Err(latest::provider::WebhookError::Malformed(m))
            }
        })
    }
}

/// 0.1.0's `send-batch` concurrency, which its plugins were written for.
const V0_1_0_CONCURRENCY: u32 = 8;

fn descriptor(d: provider::Descriptor) -> latest::provider::Descriptor {
    use latest::provider::{AuthScheme, WebhookConfig, WebhookScheme};
    latest::provider::Descriptor {
        id: d.id,
        name: d.name,
        version: d.version,
        default_base_url: d.default_base_url,
        auth: match d.auth {
            provider::AuthScheme::Header(h) => AuthScheme::Header(h),
            provider::AuthScheme::Bearer => AuthScheme::Bearer,
            provider::AuthScheme::BasicUser => AuthScheme::BasicUser,
        },
        origins: d.origins,
        max_concurrency: V0_1_0_CONCURRENCY,
        rate_limits: Vec::new(),
        webhooks: Some(WebhookConfig {
            scheme: WebhookScheme::ByPlugin,
            delivery_id_header: None,
        }),
    }
}

fn context(c: &latest::types::CallContext) -> types::CallContext {
    types::CallContext {
        base_url: c.base_url.clone(),
        settings: c.settings.clone(),
    }
}

fn horizon(h: &latest::provider::Horizon) -> provider::Horizon {
    provider::Horizon {
        max_pipelines: h.max_pipelines,
        not_before: h.not_before.clone(),
    }
}

fn status(s: types::Status) -> latest::types::Status {
    use latest::types::Status as L;
    use types::Status as S;
    match s {
        S::Queued => L::Queued,
        S::Running => L::Running,
        S::Failing => L::Failing,
        S::OnHold => L::OnHold,
        S::Success => L::Success,
        S::Failed => L::Failed,
        S::Error => L::Error,
        S::Canceled => L::Canceled,
        S::NotRun => L::NotRun,
        S::Unknown => L::Unknown,
    }
}

/// 0.1.0 carries a job's kind as free text; `build` and `approval` are the
/// words the host knew.
fn job_kind(kind: String) -> latest::types::JobKind {
    match kind.as_str() {
        "build" => latest::types::JobKind::Build,
        "approval" => latest::types::JobKind::Approval,
        _ => latest::types::JobKind::Other(kind),
    }
}

fn job(j: types::Job) -> latest::types::Job {
    latest::types::Job {
        id: j.id,
        name: j.name,
        number: j.number,
        kind: job_kind(j.kind),
        attempt: 1,
        status: status(j.status),
        provider_status: j.provider_status,
        started_at: j.started_at,
        stopped_at: j.stopped_at,
        url: j.url,
    }
}

fn build(b: types::Build) -> latest::types::Build {
    latest::types::Build {
        id: b.id,
        name: b.name,
        status: status(b.status),
        provider_status: b.provider_status,
        url: b.url,
        pipeline_id: b.pipeline_id,
        pipeline_number: b.pipeline_number,
        attempt: 1,
        parent_id: None,
        sha: b.sha,
        branch: b.branch,
        tag: b.tag,
        created_at: b.created_at,
        stopped_at: b.stopped_at,
        jobs: b.jobs.into_iter().map(job).collect(),
        jobs_complete: b.jobs_complete,
    }
}

fn account(a: types::Account) -> latest::types::Account {
    latest::types::Account {
        id: a.id,
        login: a.login,
        name: a.name,
    }
}

fn project(p: types::Project) -> latest::types::Project {
    latest::types::Project {
        slug: p.slug,
        name: p.name,
        repo_url: p.repo_url,
    }
}

/// One page of a whole project list: those matching the search text (case
/// insensitive, in slug or name), from the offset the cursor holds.
fn project_page(
    all: Vec<latest::types::Project>,
    query: &latest::provider::ProjectQuery,
) -> latest::provider::ProjectPage {
    let needle = query.search.as_deref().map(str::to_lowercase);
    let matching: Vec<_> = all
        .into_iter()
        .filter(|p| {
            needle.as_deref().is_none_or(|n| {
                p.slug.to_lowercase().contains(n) || p.name.to_lowercase().contains(n)
            })
        })
        .collect();
    let from = query
        .cursor
        .as_deref()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0)
        .min(matching.len());
    let limit = query.limit.clamp(1, 100) as usize;
    let to = (from + limit).min(matching.len());
    latest::provider::ProjectPage {
        next: (to < matching.len()).then(|| to.to_string()),
        projects: matching.into_iter().skip(from).take(limit).collect(),
    }
}

/// 0.1.0 says why a search stopped in text. A word outside the ones the
/// contract named reads as `horizon`, the reason that promises least
/// (older builds may exist).
fn report(r: provider::SearchReport) -> latest::provider::SearchReport {
    use latest::provider::StopReason;
    let stopped_because = match r.stopped_because.as_str() {
        "not-before" => StopReason::NotBefore,
        "end-of-history" => StopReason::EndOfHistory,
        "past-matches" => StopReason::PastMatches,
        "page-loop" => StopReason::PageLoop,
        "horizon" => StopReason::Horizon,
        other => {
            tracing::debug!(word = other, "unknown 0.1.0 stop word, read as horizon");
            StopReason::Horizon
        }
    };
    latest::provider::SearchReport {
        pipelines_searched: r.pipelines_searched,
        pages_fetched: r.pages_fetched,
        oldest_searched: r.oldest_searched,
        stopped_because,
        without_commit: r.without_commit,
    }
}

fn error(e: types::ProviderError) -> latest::types::ProviderError {
    use latest::types::ProviderError as L;
    use types::ProviderError as E;
    match e {
        E::Unauthorized(m) => L::Unauthorized(m),
        E::NotFound(m) => L::NotFound(m),
        E::RateLimited(r) => L::RateLimited(latest::types::RateLimit {
            until: r
                .retry_after_ms
                .map(|ms| latest::epoch_ms(SystemTime::now() + Duration::from_millis(ms))),
            message: r.message,
        }),
        E::Upstream(u) => L::Upstream(latest::types::UpstreamError {
            status: u.status,
            message: u.message,
        }),
        E::InvalidResponse(m) => L::InvalidResponse(m),
        E::Other(m) => L::Other(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(slug: &str) -> latest::types::Project {
        latest::types::Project {
            slug: slug.into(),
            name: slug.rsplit('/').next().unwrap().into(),
            repo_url: None,
        }
    }

    #[test]
    fn a_whole_project_list_is_served_in_pages_and_searched() {
        let all: Vec<_> = (0..5).map(|i| p(&format!("gh/acme/repo-{i}"))).collect();
        let q =
            |search: Option<&str>, cursor: Option<&str>, limit| latest::provider::ProjectQuery {
                search: search.map(Into::into),
                cursor: cursor.map(Into::into),
                limit,
            };
        let first = project_page(all.clone(), &q(None, None, 2));
        assert_eq!(first.projects.len(), 2);
        assert_eq!(first.next.as_deref(), Some("2"));
        let last = project_page(all.clone(), &q(None, Some("4"), 2));
        assert_eq!(last.projects[0].slug, "gh/acme/repo-4");
        assert_eq!(last.next, None);
        let found = project_page(all.clone(), &q(Some("REPO-3"), None, 10));
        assert_eq!(found.projects.len(), 1);
        // A cursor past the end is an empty last page, not an error.
        assert!(
            project_page(all, &q(None, Some("99"), 2))
                .projects
                .is_empty()
        );
    }

    #[test]
    fn a_rate_limit_delay_becomes_a_time() {
        let before = latest::epoch_ms(SystemTime::now());
        let e = error(types::ProviderError::RateLimited(types::RateLimit {
            retry_after_ms: Some(7000),
            message: "slow down".into(),
        }));
        let latest::types::ProviderError::RateLimited(r) = e else {
            panic!("{e:?}")
        };
        let until = r.until.unwrap();
        assert!(until >= before + 7000 && until < before + 8000, "{until}");
    }

    #[test]
    fn stop_words_of_0_1_0_keep_their_meaning() {
        let r = |w: &str| {
            report(provider::SearchReport {
                pipelines_searched: 1,
                pages_fetched: 1,
                oldest_searched: None,
                stopped_because: w.into(),
                without_commit: 0,
            })
            .stopped_because
        };
        use latest::provider::StopReason;
        assert_eq!(r("past-matches"), StopReason::PastMatches);
        assert_eq!(r("page-loop"), StopReason::PageLoop);
        assert_eq!(r("end-of-history"), StopReason::EndOfHistory);
        assert_eq!(r("something-new"), StopReason::Horizon);
    }
}
