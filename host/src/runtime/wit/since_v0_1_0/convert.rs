//! 0.1.0's records as the newest contract's and back: what 0.1.0 cannot
//! say gets the value that means what 0.1.0 meant (see the module notes).

use std::time::{Duration, SystemTime};

use super::latest;
use super::{provider, types};

/// 0.1.0's `send-batch` concurrency, which its plugins were written for.
pub(super) const V0_1_0_CONCURRENCY: u32 = 8;

pub(super) fn descriptor(d: provider::Descriptor) -> latest::provider::Descriptor {
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

pub(super) fn context(c: &latest::types::CallContext) -> types::CallContext {
    types::CallContext {
        base_url: c.base_url.clone(),
        settings: c.settings.clone(),
    }
}

pub(super) fn horizon(h: &latest::provider::Horizon) -> provider::Horizon {
    provider::Horizon {
        max_pipelines: h.max_pipelines,
        not_before: h.not_before.clone(),
    }
}

pub(super) fn status(s: types::Status) -> latest::types::Status {
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
pub(super) fn job_kind(kind: String) -> latest::types::JobKind {
    match kind.as_str() {
        "build" => latest::types::JobKind::Build,
        "approval" => latest::types::JobKind::Approval,
        _ => latest::types::JobKind::Other(kind),
    }
}

pub(super) fn job(j: types::Job) -> latest::types::Job {
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

pub(super) fn build(b: types::Build) -> latest::types::Build {
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

pub(super) fn account(a: types::Account) -> latest::types::Account {
    latest::types::Account {
        id: a.id,
        login: a.login,
        name: a.name,
    }
}

pub(super) fn project(p: types::Project) -> latest::types::Project {
    latest::types::Project {
        slug: p.slug,
        name: p.name,
        repo_url: p.repo_url,
    }
}

/// One page of a whole project list: those matching the search text (case
/// insensitive, in slug or name), from the offset the cursor holds.
pub(super) fn project_page(
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
pub(super) fn report(r: provider::SearchReport) -> latest::provider::SearchReport {
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

pub(super) fn error(e: types::ProviderError) -> latest::types::ProviderError {
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
