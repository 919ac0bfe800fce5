//! One capture attempt, in named steps:
//!
//! 1. [`plugin`] and [`resolve_project`]: which plugin, which provider
//!    project (configured, or asked of the plugin);
//! 2. [`Ctx::try_index`]: the index alone, when a stored search covers
//!    `as_of` (no provider request);
//! 3. [`Ctx::check_integration`] and [`Ctx::credentials`]: still enabled,
//!    token not rejected, its credentials;
//! 4. [`Ctx::search`]: the provider's commit search, dropped at once when
//!    the integration is disabled meanwhile;
//! 5. [`Ctx::keep`]: the answer into the index, then the snapshot.
//!
//! Each step returns a [`Step`]: `Ok` hands on what the next one needs,
//! `Err` ends the attempt with its outcome. The decisions themselves are
//! the pure functions of `decide.rs`.

use std::sync::Arc;

use buildsnap_domain::IndexedBuild;
use buildsnap_store::CaptureJob;
use buildsnap_store::ts;
use url::Url;

use super::decide::{
    CaptureIds, Outcome, after_failure, decide, error_snapshot, not_due, reread_incomplete,
};
use crate::capture::resolve::{self, Searched};
use crate::capture::retry::{backoff, classify};
use crate::capture::{Capture, db, explain, index};
use crate::runtime::plugin::Plugin;
use crate::runtime::wit::CommitQuery;
use crate::runtime::wit::latest::provider::{CommitBuilds, Horizon};
use crate::runtime::{CallError, Credential, Integration};

/// A step's result: `Err` ends the attempt with this outcome.
pub type Step<T> = Result<T, Outcome>;

/// One attempt at capturing `job`.
pub async fn attempt(cap: &Capture, job: &CaptureJob) -> Outcome {
    match steps(cap, job).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

async fn steps(cap: &Capture, job: &CaptureJob) -> Step<Outcome> {
    if let Some(wait) = not_due(job.deployed_at, ts::now()) {
        return Err(wait);
    }
    let plugin = plugin(cap, &job.provider)?;
    let project = resolve_project(cap, job, &plugin).await?;
    let ctx = Ctx {
        cap,
        ids: Arc::new(CaptureIds::new(job, project)),
    };
    // One search per commit at a time; a capture that waited here usually
    // finds the answer in the index.
    let _single_flight = cap.search_lock(ctx.search_key()).await;
    ctx.try_index().await?;
    ctx.check_integration().await?;
    let integration = ctx.credentials().await?;
    let found = ctx.search(&plugin, &integration).await?;
    ctx.keep(found).await
}

/// How long a capture waits before looking again for a plugin unloaded
/// from the plugins folder.
const UNLOADED_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// The loaded plugin of `provider`.
fn plugin(cap: &Capture, provider: &str) -> Step<Arc<Plugin>> {
    cap.registry.get(provider).ok_or_else(|| {
        // A plugin whose file was removed from the plugins folder may come
        // back (a replacement being copied in): wait for it within the
        // capture's attempts rather than end the snapshot at once.
        if cap.registry.unloaded().iter().any(|p| p.id == provider) {
            return Outcome::Retry {
                reason: format!(
                    "the {provider} provider plugin is not loaded (its file was removed from the plugins folder)"
                ),
                after: UNLOADED_RETRY,
            };
        }
        Outcome::Done(error_snapshot(
            format!("the {provider} provider plugin is not loaded"),
            None,
        ))
    })
}

/// The provider project: the code deployment's, or the plugin's reading of
/// its repository URL.
async fn resolve_project(cap: &Capture, job: &CaptureJob, plugin: &Plugin) -> Step<String> {
    if let Some(p) = &job.build_project {
        return Ok(p.clone());
    }
    let base_url = cap.base_url(&job.org, &job.provider).await;
    let r = plugin
        .project_for_repo(base_url.as_deref(), &job.repo_url)
        .await;
    record_plugin_call(cap, &job.provider, "project_for_repo", &r);
    match r {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Outcome::Done(error_snapshot(
            explain::no_project(&job.provider, &job.repo_url),
            None,
        ))),
        Err(e) => Err(retry(cap, job.attempts, e.to_string(), None)),
    }
}

/// The one place the worker counts plugin calls.
fn record_plugin_call<T>(cap: &Capture, provider: &str, call: &str, r: &Result<T, CallError>) {
    cap.metrics
        .record_plugin_call(provider, call, CallError::result_label(r));
}

/// A transient failure: retry with backoff after attempt `attempts`.
fn retry(
    cap: &Capture,
    attempts: u32,
    reason: String,
    at_least: Option<std::time::Duration>,
) -> Outcome {
    Outcome::Retry {
        reason,
        after: delay(cap, attempts, at_least),
    }
}

fn delay(
    cap: &Capture,
    attempts: u32,
    at_least: Option<std::time::Duration>,
) -> std::time::Duration {
    backoff(
        attempts,
        cap.config.backoff_base,
        cap.config.backoff_max,
        at_least,
    )
}

/// The steps after the project is known, over the capture's identifiers.
struct Ctx<'a> {
    cap: &'a Capture,
    ids: Arc<CaptureIds>,
}

impl Ctx<'_> {
    /// The single-flight key of this commit search.
    fn search_key(&self) -> String {
        let i = &self.ids;
        format!("{}\n{}\n{}\n{}", i.org, i.provider, i.project, i.sha)
    }

    fn snapshot_error(&self, explain: String) -> Outcome {
        Outcome::Done(error_snapshot(explain, Some(self.ids.project.clone())))
    }

    /// Ends the attempt with the snapshot from the index alone when a stored
    /// search covers `as_of` (see [`index::index_suffices`]). A failed
    /// lookup only means asking the provider.
    async fn try_index(&self) -> Step<()> {
        let ids = self.ids.clone();
        let lookup = db(&self.cap.store, move |s| {
            s.index_lookup(&ids.org, &ids.provider, &ids.project, &ids.sha)
        })
        .await;
        match lookup {
            Ok(lookup) if index::index_suffices(&lookup, self.ids.as_of) => {
                let report = lookup.search.and_then(|s| s.report);
                tracing::debug!(
                    deploy = self.ids.deploy_id,
                    builds = lookup.builds.len(),
                    "captured from the index"
                );
                Err(Outcome::Done(decide(
                    &self.ids,
                    &lookup.builds,
                    report.as_ref(),
                )))
            }
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(deploy = self.ids.deploy_id, error = %e, "index lookup failed; asking the provider");
                Ok(())
            }
        }
    }

    /// Ends the attempt when the integration was disabled, or its token was
    /// already rejected: every pending capture would get the same 401, so
    /// the token is not tried again until it is replaced.
    async fn check_integration(&self) -> Step<()> {
        let ids = self.ids.clone();
        match db(&self.cap.store, move |s| {
            s.integration(&ids.org, &ids.provider)
        })
        .await
        {
            Ok(state) if !state.enabled => Err(Outcome::Dropped),
            Ok(state) if state.status == "needs_attention" => {
                let why = state
                    .last_error
                    .unwrap_or_else(|| "the token was rejected".into());
                Err(self.snapshot_error(explain::unauthorized(&self.ids.provider, &why)))
            }
            _ => Ok(()),
        }
    }

    /// The integration's base URL and credential for the plugin call.
    async fn credentials(&self) -> Step<Integration> {
        let ids = self.ids.clone();
        let token = match db(&self.cap.store, move |s| {
            s.integration_token(&ids.org, &ids.provider)
        })
        .await
        {
            Ok(Some(t)) => t,
            Ok(None) => return Err(Outcome::Dropped),
            Err(e) => {
                return Err(retry(
                    self.cap,
                    self.ids.attempts,
                    format!("store: {e}"),
                    None,
                ));
            }
        };
        let base_url = Url::parse(&token.0)
            .map_err(|e| self.snapshot_error(format!("invalid base_url {}: {e}", token.0)))?;
        Ok(Integration {
            org: Some(self.ids.org.clone()),
            base_url,
            settings: Vec::new(),
            credential: Some(Credential::new(token.1.expose())),
        })
    }

    /// The provider's commit search, in an integration call slot. Never
    /// called after a disable, and abandoned as soon as one happens.
    async fn search(&self, plugin: &Plugin, integration: &Integration) -> Step<CommitBuilds> {
        let (cap, ids) = (self.cap, &self.ids);
        let query = CommitQuery {
            project: ids.project.clone(),
            sha: ids.sha.clone(),
            branch: None,
            horizon: Horizon {
                max_pipelines: cap.config.search_max_pipelines,
                not_before: None,
            },
        };
        let result = tokio::select! {
            r = async {
                let _slot = cap.budget.capture(&ids.org, &ids.provider).await;
                // Checked again after waiting: never call after a disable.
                if !cap.enabled(&ids.org, &ids.provider).await {
                    return None;
                }
                Some(resolve::search(plugin, integration, &query).await)
            } => r,
            _ = cap.until_disabled(&ids.org, &ids.provider) => None,
        };
        let Some(result) = result else {
            tracing::info!(
                deploy = ids.deploy_id,
                "integration disabled: capture dropped"
            );
            return Err(Outcome::Dropped);
        };
        record_plugin_call(cap, &ids.provider, "builds_for_commit", &result);
        match result {
            Ok(Searched::Found(found)) => Ok(found),
            Ok(Searched::Ambiguous(candidates)) => {
                Err(self.snapshot_error(explain::ambiguous(&ids.sha, &ids.project, &candidates)))
            }
            Err(err) => Err(self.failed(&err).await),
        }
    }

    /// A failed search: a rejected token also puts the integration in
    /// `needs_attention`.
    async fn failed(&self, err: &CallError) -> Outcome {
        let failure = classify(err);
        if let crate::capture::retry::Failure::Unauthorized(message) = &failure {
            let ids = self.ids.clone();
            let last = format!("the token was rejected: {message}");
            let _ = db(&self.cap.store, move |s| {
                s.set_integration_status(&ids.org, &ids.provider, true, Some(&last))
            })
            .await;
            tracing::warn!(org = %self.ids.org, provider = %self.ids.provider, "provider rejected the token; integration needs attention");
        }
        after_failure(&self.ids, failure, |at_least| {
            delay(self.cap, self.ids.attempts, at_least)
        })
    }

    /// Stores the answer in the index (with its report, as the search of
    /// this commit), then decides the snapshot from it. A failed write
    /// still captures: the answer is at hand.
    async fn keep(&self, found: CommitBuilds) -> Step<Outcome> {
        let report = index::report_from_wit(found.report);
        // Shared with the store task rather than copied for it: the builds
        // are used again below, whether or not the write works.
        let builds: Arc<Vec<IndexedBuild>> = Arc::new(
            found
                .builds
                .into_iter()
                .map(|b| index::from_wit(b, &self.ids.project))
                .collect(),
        );
        // Not kept in the index either: a later capture must not freeze
        // from a job list cut short by a passing fault.
        let max = self.cap.config.max_attempts;
        if let Some(reason) = reread_incomplete(self.ids.attempts, max, &builds) {
            let after = delay(self.cap, self.ids.attempts, None);
            return Ok(Outcome::Retry { reason, after });
        }
        let (ids, b, r) = (self.ids.clone(), builds.clone(), report.clone());
        let stored = db(&self.cap.store, move |s| {
            s.index_builds(
                &ids.org,
                &ids.provider,
                &b,
                Some((&ids.project, &ids.sha, &r)),
            )
        })
        .await;
        match stored {
            Ok(true) => {}
            Ok(false) => return Err(Outcome::Dropped),
            Err(e) => {
                tracing::warn!(deploy = self.ids.deploy_id, error = %e, "cannot store builds in the index")
            }
        }
        Ok(Outcome::Done(decide(&self.ids, &builds, Some(&report))))
    }
}
