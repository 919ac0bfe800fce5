//! The capture worker: one task per process that claims due jobs from the
//! durable queue (claiming is atomic in the store, so no job runs twice at
//! once) and runs up to `concurrency` captures at a time.
//!
//! A capture: resolve the provider project; if the index alone determines
//! the snapshot (see [`super::index::index_suffices`]) freeze from it with
//! no provider request; else search the provider (`builds_for_commit`),
//! store the answer in the index, and freeze. Transient failures go back
//! to the queue with backoff (honouring the provider's retry-after) up to
//! `max_attempts`; a rejected token marks the integration
//! `needs_attention`. A disabled integration's capture is dropped at once,
//! in flight included, and its provider is not called again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildsnap_store::ts::{self, OffsetDateTime};
use buildsnap_store::{CaptureJob, FinalSnapshot, IndexedBuild, SnapshotState};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;
use url::Url;

use super::retry::{Failure, backoff, classify};
use super::{Capture, db, explain, freeze, index, summary};
use crate::providers::outcome_label;
use crate::runtime::wit::CommitQuery;
use crate::runtime::wit::latest::provider::{Horizon, SearchReport};
use crate::runtime::{Credential, Integration};

/// What one capture attempt ended with.
#[derive(Debug)]
pub enum Outcome {
    /// A final snapshot to store.
    Done(FinalSnapshot),
    /// Try again after `after`.
    Retry { reason: String, after: Duration },
    /// Not due yet (deployed_at in the future): wait without counting an attempt.
    Defer(OffsetDateTime),
    /// The integration was disabled: nothing to store (the store already
    /// ended the snapshot), nothing more to call.
    Dropped,
}

pub(crate) async fn run(cap: Arc<Capture>, mut stop: watch::Receiver<bool>) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut tasks: JoinSet<()> = JoinSet::new();
    tracing::info!(
        concurrency = cap.config.concurrency,
        "capture worker started"
    );
    loop {
        if *stop.borrow() {
            break;
        }
        while tasks.len() < cap.config.concurrency.max(1) {
            match db(&cap.store, |s| s.next_capture_job()).await {
                Ok(Some(job)) => {
                    in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(job.deploy_id);
                    let (cap, in_flight) = (cap.clone(), in_flight.clone());
                    tasks.spawn(async move {
                        let id = job.deploy_id;
                        capture(&cap, job).await;
                        // Removed only when the capture ran to its end; an
                        // aborted one stays listed and is re-queued below.
                        in_flight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&id);
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a capture job");
                    break;
                }
            }
        }
        if let Ok(depth) = db(&cap.store, |s| s.capture_queue_depth()).await {
            cap.metrics.set_capture_queue_depth(depth);
        }
        let full = tasks.len() >= cap.config.concurrency.max(1);
        let wait = match db(&cap.store, |s| s.next_capture_due()).await {
            // All slots busy: the next claim waits for a capture to end.
            _ if full => Duration::from_secs(30),
            Ok(Some(due)) => {
                let ms = (due - ts::now()).whole_milliseconds().clamp(10, 30_000);
                Duration::from_millis(ms as u64)
            }
            _ => Duration::from_secs(30),
        };
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            _ = cap.notify.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Shutdown: no new claims; in-flight captures get a grace period, then
    // are aborted and put back in the queue (without counting the attempt).
    let grace = tokio::time::sleep(cap.config.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            _ = &mut grace => break,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let left: Vec<i64> = in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .collect();
    for id in left {
        let r = db(&cap.store, move |s| {
            s.defer_capture(id, ts::now(), "interrupted by shutdown")
        })
        .await;
        tracing::info!(
            deploy = id,
            requeued = r.is_ok(),
            "capture interrupted by shutdown; queued for the next start"
        );
    }
    tracing::info!("capture worker stopped");
}

/// Runs one claimed job to its next state in the store.
pub async fn capture(cap: &Capture, job: CaptureJob) {
    let started = std::time::Instant::now();
    let outcome = attempt(cap, &job).await;
    let id = job.deploy_id;
    let word = match outcome {
        Outcome::Done(snap) => {
            let word = snap.state.as_str();
            match db(&cap.store, move |s| s.complete_capture(id, &snap)).await {
                Ok(true) => word,
                Ok(false) => "dropped",
                Err(e) => {
                    tracing::warn!(deploy = id, error = %e, "cannot store the snapshot; retrying later");
                    let _ = db(&cap.store, move |s| {
                        s.retry_capture(id, "store error", ts::now() + Duration::from_secs(5))
                    })
                    .await;
                    "retry"
                }
            }
        }
        Outcome::Retry { reason, .. } if job.attempts >= cap.config.max_attempts => {
            tracing::warn!(deploy = id, attempts = job.attempts, reason = %reason, "capture gave up");
            let snap = error_snapshot(explain::gave_up(job.attempts, &reason), None);
            match db(&cap.store, move |s| s.complete_capture(id, &snap)).await {
                Ok(true) => "error",
                _ => "dropped",
            }
        }
        Outcome::Retry { reason, after } => {
            tracing::info!(deploy = id, attempt = job.attempts, retry_in_ms = after.as_millis() as u64, reason = %reason, "capture will retry");
            let not_before = ts::now() + after;
            let _ = db(&cap.store, move |s| {
                s.retry_capture(id, &reason, not_before)
            })
            .await;
            "retry"
        }
        Outcome::Defer(until) => {
            let _ = db(&cap.store, move |s| {
                s.defer_capture(id, until, "deployed_at is in the future")
            })
            .await;
            "deferred"
        }
        Outcome::Dropped if cap.enabled(&job.org, &job.provider).await => {
            // Enabled after all (disabled and enabled again meanwhile): try again.
            let _ = db(&cap.store, move |s| {
                s.retry_capture(id, "integration changed during the capture", ts::now())
            })
            .await;
            "retry"
        }
        Outcome::Dropped => {
            // The store normally ended it at disable; make sure it is not left running.
            let snap = error_snapshot(
                format!(
                    "the {} integration was disabled before the builds of this deploy were captured",
                    job.provider
                ),
                None,
            );
            let _ = db(&cap.store, move |s| s.complete_capture(id, &snap)).await;
            "dropped"
        }
    };
    cap.metrics.record_capture(word);
    tracing::info!(
        deploy = id,
        outcome = word,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "capture finished"
    );
}

fn error_snapshot(explain: String, build_project: Option<String>) -> FinalSnapshot {
    FinalSnapshot {
        state: SnapshotState::Error,
        summary: "none".into(),
        builds: Value::Array(vec![]),
        explain: Some(explain),
        build_project,
        captured_at: ts::now(),
    }
}

fn retry_after(
    cap: &Capture,
    job: &CaptureJob,
    reason: String,
    at_least: Option<Duration>,
) -> Outcome {
    let after = backoff(
        job.attempts,
        cap.config.backoff_base,
        cap.config.backoff_max,
        at_least,
    );
    Outcome::Retry { reason, after }
}

/// The search report as stored beside a commit search.
pub fn report_json(r: &SearchReport) -> String {
    json!({
        "pipelines_searched": r.pipelines_searched,
        "pages_fetched": r.pages_fetched,
        "oldest_searched": r.oldest_searched,
        "stopped_because": r.stopped_because,
        "without_commit": r.without_commit,
    })
    .to_string()
}

pub fn report_from_json(s: &str) -> Option<SearchReport> {
    let v: Value = serde_json::from_str(s).ok()?;
    Some(SearchReport {
        pipelines_searched: v["pipelines_searched"].as_u64()? as u32,
        pages_fetched: v["pages_fetched"].as_u64()? as u32,
        oldest_searched: v["oldest_searched"].as_str().map(str::to_string),
        stopped_because: v["stopped_because"].as_str()?.to_string(),
        without_commit: v["without_commit"].as_u64().unwrap_or(0) as u32,
    })
}

/// The snapshot of `job` from the builds of its project whose SHA starts
/// with the deploy's (all that exist, as far as `report` searched).
pub fn decide(
    job: &CaptureJob,
    provider: &str,
    project: &str,
    builds: &[IndexedBuild],
    report: Option<&SearchReport>,
) -> FinalSnapshot {
    let sha = job.sha.to_ascii_lowercase();
    let matching: Vec<IndexedBuild> = builds
        .iter()
        .filter(|b| b.sha.starts_with(&sha))
        .cloned()
        .collect();
    let mut commits: Vec<String> = matching.iter().map(|b| b.sha.clone()).collect();
    commits.sort();
    commits.dedup();
    if commits.len() > 1 {
        return error_snapshot(
            explain::ambiguous(&sha, project, &commits),
            Some(project.to_string()),
        );
    }
    let frozen = freeze::freeze(&matching, job.deployed_at);
    let explain = if frozen.is_empty() {
        Some(if matching.is_empty() {
            match report {
                Some(r) => explain::not_found(provider, project, &sha, r),
                None => {
                    format!("not found: no {provider} build of commit {sha} in project {project}")
                }
            }
        } else {
            explain::all_after(
                provider,
                project,
                &commits[0],
                matching.len(),
                &ts::format(job.deployed_at),
                report,
            )
        })
    } else {
        None
    };
    FinalSnapshot {
        state: SnapshotState::Complete,
        summary: summary::summary(&frozen).to_string(),
        builds: Value::Array(frozen),
        explain,
        build_project: Some(project.to_string()),
        captured_at: ts::now(),
    }
}

/// One attempt at capturing `job`.
pub async fn attempt(cap: &Capture, job: &CaptureJob) -> Outcome {
    let now = ts::now();
    if job.deployed_at > now + Duration::from_secs(1) {
        // Builds "as of" a moment that has not come yet are not knowable.
        return Outcome::Defer(job.deployed_at);
    }
    let Some(plugin) = cap.registry.get(&job.provider) else {
        return Outcome::Done(error_snapshot(
            format!("the {} provider plugin is not loaded", job.provider),
            None,
        ));
    };
    let project = match &job.build_project {
        Some(p) => p.clone(),
        None => {
            let r = plugin.project_for_repo(&job.repo_url).await;
            cap.metrics
                .record_plugin_call(&job.provider, "project_for_repo", outcome_label(&r));
            match r {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Outcome::Done(error_snapshot(
                        explain::no_project(&job.provider, &job.repo_url),
                        None,
                    ));
                }
                Err(e) => return retry_after(cap, job, e.to_string(), None),
            }
        }
    };

    // One search per commit at a time; a capture that waited here usually
    // finds the answer in the index.
    let _single_flight = cap
        .search_lock(format!(
            "{}\n{}\n{}\n{}",
            job.org, job.provider, project, job.sha
        ))
        .await;
    // Index first: no provider request when a stored search covers as_of.
    let (org, provider, p, sha) = (
        job.org.clone(),
        job.provider.clone(),
        project.clone(),
        job.sha.clone(),
    );
    match db(&cap.store, move |s| {
        s.index_lookup(&org, &provider, &p, &sha)
    })
    .await
    {
        Ok(lookup) if index::index_suffices(&lookup, job.deployed_at) => {
            let report = lookup
                .search
                .as_ref()
                .and_then(|s| report_from_json(&s.report));
            tracing::debug!(
                deploy = job.deploy_id,
                builds = lookup.builds.len(),
                "captured from the index"
            );
            return Outcome::Done(decide(
                job,
                &job.provider,
                &project,
                &lookup.builds,
                report.as_ref(),
            ));
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(deploy = job.deploy_id, error = %e, "index lookup failed; asking the provider")
        }
    }

    let (org, provider) = (job.org.clone(), job.provider.clone());
    match db(&cap.store, move |s| s.integration(&org, &provider)).await {
        Ok(state) if !state.enabled => return Outcome::Dropped,
        // A token the provider already rejected is not tried again (every
        // pending capture would get the same 401) until it is replaced.
        Ok(state) if state.status == "needs_attention" => {
            let why = state
                .last_error
                .unwrap_or_else(|| "the token was rejected".into());
            return Outcome::Done(error_snapshot(
                explain::unauthorized(&job.provider, &why),
                Some(project),
            ));
        }
        _ => {}
    }
    let (org, provider) = (job.org.clone(), job.provider.clone());
    let token = match db(&cap.store, move |s| s.integration_token(&org, &provider)).await {
        Ok(Some(t)) => t,
        Ok(None) => return Outcome::Dropped,
        Err(e) => return retry_after(cap, job, format!("store: {e}"), None),
    };
    let base_url = match Url::parse(&token.0) {
        Ok(u) => u,
        Err(e) => {
            return Outcome::Done(error_snapshot(
                format!("invalid base_url {}: {e}", token.0),
                Some(project),
            ));
        }
    };
    let integration = Integration {
        base_url,
        settings: Vec::new(),
        credential: Some(Credential::new(token.1.expose())),
    };
    drop(token);
    let query = CommitQuery {
        project: project.clone(),
        sha: job.sha.clone(),
        branch: None,
        horizon: Horizon {
            max_pipelines: cap.config.search_max_pipelines,
            not_before: None,
        },
    };
    let result = tokio::select! {
        r = async {
            let _slot = cap.budget.capture(&job.org, &job.provider).await;
            // Checked again after waiting: never call after a disable.
            if !cap.enabled(&job.org, &job.provider).await {
                return None;
            }
            Some(plugin.builds_for_commit(&integration, &query).await)
        } => r,
        _ = cap.until_disabled(&job.org, &job.provider) => None,
    };
    let Some(result) = result else {
        tracing::info!(
            deploy = job.deploy_id,
            "integration disabled: capture dropped"
        );
        return Outcome::Dropped;
    };
    cap.metrics
        .record_plugin_call(&job.provider, "builds_for_commit", outcome_label(&result));
    match result {
        Ok(found) => {
            let report = report_json(&found.report);
            // Shared with the store task rather than copied for it: the
            // builds are used again below, whether or not the write works.
            let builds: Arc<Vec<IndexedBuild>> = Arc::new(
                found
                    .builds
                    .into_iter()
                    .map(|b| index::from_wit(b, &project))
                    .collect(),
            );
            let (org, provider, p, sha, b) = (
                job.org.clone(),
                job.provider.clone(),
                project.clone(),
                job.sha.clone(),
                builds.clone(),
            );
            match db(&cap.store, move |s| {
                s.index_builds(&org, &provider, &b, Some((&p, &sha, &report)))
            })
            .await
            {
                Ok(true) => {}
                Ok(false) => return Outcome::Dropped,
                Err(e) => {
                    tracing::warn!(deploy = job.deploy_id, error = %e, "cannot store builds in the index")
                }
            }
            Outcome::Done(decide(
                job,
                &job.provider,
                &project,
                &builds,
                Some(&found.report),
            ))
        }
        Err(err) => match classify(&err) {
            Failure::Transient { reason, at_least } => retry_after(cap, job, reason, at_least),
            Failure::Unauthorized(message) => {
                let (org, provider, m) = (job.org.clone(), job.provider.clone(), message.clone());
                let last = format!("the token was rejected: {m}");
                let _ = db(&cap.store, move |s| {
                    s.set_integration_status(&org, &provider, true, Some(&last))
                })
                .await;
                tracing::warn!(org = %job.org, provider = %job.provider, "provider rejected the token; integration needs attention");
                Outcome::Done(error_snapshot(
                    explain::unauthorized(&job.provider, &message),
                    Some(project),
                ))
            }
            Failure::NotFound(message) => Outcome::Done(error_snapshot(
                explain::not_accessible(&job.provider, &project, &message),
                Some(project),
            )),
            Failure::Fatal(message) => Outcome::Done(error_snapshot(message, Some(project))),
        },
    }
}
