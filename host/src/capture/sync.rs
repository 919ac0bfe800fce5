//! Background sync: every `sync_interval`, for each enabled integration in
//! good standing and each build project in use (code deployments of the
//! projects it is build server of), one incremental `sync` call with the
//! stored cursor, a bounded horizon (`sync_max_pipelines`, not older than
//! `sync_max_age`) and the ids of indexed builds that were not final yet
//! (`refresh`). The answer goes into the index (with the next cursor); it
//! feeds `current_status` beside frozen snapshots.
//!
//! Across replicas, one sync per (org, provider, build project) at a time:
//! a replica syncs a project only under the named lease
//! `sync:<org>:<provider>:<project>` (renewed while the sync runs), and
//! keeps it for most of an interval after, so the replicas' rounds, which
//! are not in step, sync each project about once per interval between them
//! rather than once each.
//!
//! Sync calls take their slot from the integration's budget after the
//! captures (see `budget`). A rate limit pauses that integration's sync
//! until the provider's retry-after has passed; a rejected token marks the
//! integration `needs_attention`, which takes it out of the sync.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buildsnap_store::{IndexedBuild, SyncTarget, ts};
use tokio::sync::watch;
use url::Url;

use super::retry::{Failure, classify};
use super::{Capture, db, index, leases};
use crate::runtime::wit::SyncRequest;
use crate::runtime::wit::latest::provider::Horizon;
use crate::runtime::{CallError, Credential, Integration};

pub(crate) async fn run(cap: Arc<Capture>, mut stop: watch::Receiver<bool>) {
    let mut paused: HashMap<(String, String), Instant> = HashMap::new();
    tracing::info!(
        interval_s = cap.config.sync_interval.as_secs(),
        "build sync started"
    );
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            _ = tokio::time::sleep(cap.config.sync_interval) => {}
        }
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            n = round(&cap, &mut paused) => tracing::debug!(projects = n, "sync round done"),
        }
    }
    tracing::info!("build sync stopped");
}

/// One pass over every target; returns how many projects were synced.
pub async fn round(cap: &Capture, paused: &mut HashMap<(String, String), Instant>) -> usize {
    let targets = match db(&cap.store, |s| s.sync_targets()).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list sync targets");
            return 0;
        }
    };
    let mut synced = 0;
    for target in targets {
        let key = (target.org.clone(), target.provider.clone());
        if paused
            .get(&key)
            .is_some_and(|until| Instant::now() < *until)
        {
            continue;
        }
        paused.remove(&key);
        let Some(plugin) = cap.registry.get(&target.provider) else {
            continue;
        };
        let mut projects: Vec<String> = Vec::new();
        let base_url = cap.base_url(&target.org, &target.provider).await;
        for (build_project, repo_url) in &target.sources {
            let p = match build_project {
                Some(p) => Some(p.clone()),
                None => plugin
                    .project_for_repo(base_url.as_deref(), repo_url)
                    .await
                    .ok()
                    .flatten(),
            };
            if let Some(p) = p
                && !projects.contains(&p)
            {
                projects.push(p);
            }
        }
        for project in projects {
            let Some(result) = leased_sync(cap, &target, &project).await else {
                // Another replica syncs it (or has just synced it).
                continue;
            };
            match result {
                Ok(()) => synced += 1,
                Err(Some(pause)) => {
                    paused.insert(key.clone(), Instant::now() + pause);
                    break;
                }
                Err(None) => break,
            }
        }
    }
    synced
}

/// The named lease of one build project's sync.
pub fn sync_lease_name(org: &str, provider: &str, project: &str) -> String {
    format!("sync:{org}:{provider}:{project}")
}

/// [`sync_project`] under the project's sync lease: `None` when another
/// replica holds it (or took it over meanwhile: then the sync was dropped).
/// After the sync the lease is kept for nine tenths of the interval, so
/// other replicas skip the project until its next turn; this replica's
/// own next round comes after a whole interval, when it has run out.
async fn leased_sync(
    cap: &Capture,
    target: &SyncTarget,
    project: &str,
) -> Option<Result<(), Option<Duration>>> {
    let name = sync_lease_name(&target.org, &target.provider, project);
    let lease = cap.store.capture_lease();
    let n = name.clone();
    match db(&cap.store, move |s| s.try_lease(&n, lease)).await {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => {
            tracing::warn!(lease = %name, error = %e, "cannot take the sync lease; skipping");
            return None;
        }
    }
    let n = name.clone();
    let renew = move |s: &buildsnap_store::Store| s.try_lease(&n, lease);
    let out = leases::while_held(
        &cap.store,
        lease,
        &name,
        renew,
        sync_project(cap, target, project),
    )
    .await?;
    let keep = cap.config.sync_interval.mul_f64(0.9);
    let _ = db(&cap.store, move |s| {
        if keep.is_zero() {
            s.release_lease(&name)
        } else {
            s.try_lease(&name, keep)
        }
    })
    .await;
    Some(out)
}

/// Syncs one project. `Err(Some(d))`: pause this integration for `d`;
/// `Err(None)`: stop this integration for this round.
pub async fn sync_project(
    cap: &Capture,
    target: &SyncTarget,
    project: &str,
) -> Result<(), Option<Duration>> {
    let (org, provider) = (target.org.as_str(), target.provider.as_str());
    let Some(plugin) = cap.registry.get(provider) else {
        return Err(None);
    };
    let _slot = cap.budget.sync(org, provider).await;
    let (o, p) = (org.to_string(), provider.to_string());
    let token = match db(&cap.store, move |s| s.integration_token(&o, &p)).await {
        Ok(Some(t)) => t,
        _ => return Err(None),
    };
    let Ok(base_url) = Url::parse(&token.0) else {
        return Err(None);
    };
    let integration = Integration {
        org: Some(org.to_string()),
        base_url,
        settings: Vec::new(),
        credential: Some(Credential::new(token.1.expose())),
    };
    drop(token);
    let since = ts::format(ts::now() - cap.config.sync_max_age);
    let (o, p, pr, s) = (
        org.to_string(),
        provider.to_string(),
        project.to_string(),
        since.clone(),
    );
    let limit = cap.config.sync_refresh_limit;
    let refresh = db(&cap.store, move |st| {
        st.unfinished_builds(&o, &p, &pr, &s, limit)
    })
    .await
    .unwrap_or_default();
    let (o, p, pr) = (org.to_string(), provider.to_string(), project.to_string());
    let cursor = db(&cap.store, move |s| s.sync_cursor(&o, &p, &pr))
        .await
        .unwrap_or(None);
    let req = SyncRequest {
        project: project.to_string(),
        cursor,
        horizon: Horizon {
            max_pipelines: cap.config.sync_max_pipelines,
            not_before: Some(since),
        },
        refresh,
    };
    let result = tokio::select! {
        r = plugin.sync(&integration, &req) => r,
        _ = cap.until_disabled(org, provider) => return Err(None),
    };
    cap.metrics
        .record_plugin_call(provider, "sync", CallError::result_label(&result));
    match result {
        Ok(page) => {
            let builds: Vec<IndexedBuild> = page
                .builds
                .into_iter()
                .map(|b| index::from_wit(b, project))
                .collect();
            let n = builds.len();
            let (o, p, pr) = (org.to_string(), provider.to_string(), project.to_string());
            let cursor = page.next_cursor;
            match db(&cap.store, move |s| {
                s.save_sync(&o, &p, &pr, &builds, cursor.as_deref())
            })
            .await
            {
                Ok(true) => {
                    tracing::debug!(org, provider, project, builds = n, "synced");
                    Ok(())
                }
                _ => Err(None),
            }
        }
        Err(err) => match classify(&err) {
            Failure::Unauthorized(m) => {
                let (o, p) = (org.to_string(), provider.to_string());
                let last = format!("the token was rejected: {m}");
                let _ = db(&cap.store, move |s| {
                    s.set_integration_status(&o, &p, true, Some(&last))
                })
                .await;
                tracing::warn!(
                    org,
                    provider,
                    "sync: provider rejected the token; integration needs attention"
                );
                Err(None)
            }
            Failure::Transient { reason, at_least } => {
                tracing::info!(org, provider, project, reason = %reason, "sync failed; next round retries");
                match at_least {
                    Some(d) => Err(Some(d)),
                    None => Ok(()),
                }
            }
            Failure::NotFound(reason) | Failure::Fatal(reason) => {
                tracing::warn!(org, provider, project, reason = %reason, "sync failed");
                Ok(())
            }
        },
    }
}
