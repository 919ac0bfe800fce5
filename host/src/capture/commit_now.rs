//! A commit's builds as they are now, not frozen: what `GET
//! .../commits/{sha}/builds` and `buildsnap gate` ask. The index answers
//! when a search of the commit is recent enough; otherwise the provider is
//! searched in one of the integration's call slots (the same budget as
//! captures, so a gate polling in a loop cannot double an integration's
//! traffic), and the answer is indexed like a capture's.

use std::sync::Arc;
use std::time::Duration;

use buildsnap_domain::{FrozenBuild, IndexedBuild, freeze};
use buildsnap_services::{CommitBuilds, CommitBuildsError};
use buildsnap_store::{StoreError, ts};
use url::Url;

use super::{Capture, db, explain, index};
use crate::runtime::wit::CommitQuery;
use crate::runtime::wit::latest::provider::Horizon;
use crate::runtime::{CallError, Credential, Integration};

/// What a commit search needs to know about the project.
struct Target {
    provider: String,
    repo_url: String,
    build_project: Option<String>,
    /// The code deployment's branch when it takes builds of it only.
    branch_only: Option<String>,
}

impl Capture {
    /// The builds of `sha` in `project`'s build project now (see the module
    /// docs); `max_age` is how old a stored search may be to answer alone.
    pub async fn commit_builds_now(
        &self,
        org: &str,
        project: &str,
        code_deployment: Option<&str>,
        sha: &str,
        max_age: Duration,
    ) -> Result<CommitBuilds, CommitBuildsError> {
        let target = self.target(org, project, code_deployment).await?;
        let plugin = self.registry.get(&target.provider).ok_or_else(|| {
            CommitBuildsError::Provider(format!(
                "the {} provider plugin is not loaded",
                target.provider
            ))
        })?;
        let build_project = match &target.build_project {
            Some(p) => p.clone(),
            None => match plugin
                .project_for_repo(
                    self.base_url(org, &target.provider).await.as_deref(),
                    &target.repo_url,
                )
                .await
            {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err(CommitBuildsError::Provider(explain::no_project(
                        &target.provider,
                        &target.repo_url,
                    )));
                }
                Err(e) => return Err(CommitBuildsError::Provider(e.to_string())),
            },
        };
        let sha = sha.to_ascii_lowercase();
        // One search of a commit at a time, shared with the captures: a
        // gate and a capture of the same commit ask the provider once.
        let key = format!("{org}\n{}\n{build_project}\n{sha}", target.provider);
        let _single_flight = self.search_lock(key).await;
        let (o, p, bp, s) = (
            org.to_string(),
            target.provider.clone(),
            build_project.clone(),
            sha.clone(),
        );
        let lookup = db(&self.store, move |st| st.index_lookup(&o, &p, &bp, &s)).await?;
        let fresh_after = ts::to_nanos(ts::now()).saturating_sub(max_age.as_nanos() as i64);
        let indexed: Vec<IndexedBuild> = match &lookup.search {
            Some(search) if search.searched_at_nanos >= fresh_after => lookup.builds,
            _ => {
                self.search_provider(org, &target.provider, &plugin, &build_project, &sha)
                    .await?
            }
        };
        // The code deployment's branch rule, as its snapshots apply it.
        let indexed: Vec<IndexedBuild> = match &target.branch_only {
            Some(branch) => indexed
                .into_iter()
                .filter(|b| b.branch.as_deref() == Some(branch.as_str()))
                .collect(),
            None => indexed,
        };
        let builds: Vec<FrozenBuild> = freeze::current_all(&indexed);
        let explain = builds.is_empty().then(|| {
            format!(
                "{} shows no build of commit {sha} in {build_project}",
                target.provider
            )
        });
        Ok(CommitBuilds {
            builds,
            explain,
            provider: target.provider,
            build_project,
        })
    }

    /// The project's build server and the code deployment to search for.
    async fn target(
        &self,
        org: &str,
        project: &str,
        code_deployment: Option<&str>,
    ) -> Result<Target, CommitBuildsError> {
        let (o, slug) = (org.to_string(), project.to_string());
        let projects = db(&self.store, move |s| s.list_projects(&o)).await?;
        let p = projects
            .into_iter()
            .find(|p| p.slug == project)
            .ok_or_else(|| StoreError::ProjectNotFound(slug.clone()))?;
        let cd = match code_deployment {
            Some(name) => p
                .code_deployments
                .iter()
                .find(|c| c.slug == name)
                .cloned()
                .ok_or_else(|| StoreError::UnknownCodeDeployment {
                    project: slug.clone(),
                    slug: name.to_string(),
                })?,
            None => match p.code_deployments.as_slice() {
                [] => return Err(StoreError::NoCodeDeployment { project: slug }.into()),
                [one] => one.clone(),
                many => {
                    return Err(StoreError::AmbiguousCodeDeployment {
                        project: slug,
                        candidates: many.iter().map(|c| c.slug.clone()).collect(),
                    }
                    .into());
                }
            },
        };
        let provider = p.build_server.ok_or_else(|| {
            CommitBuildsError::NoBuildServer(format!(
                "project {project:?} has no build server: set an enabled integration as its default build server"
            ))
        })?;
        Ok(Target {
            provider,
            branch_only: cd.branch_builds_only.then(|| cd.branch.clone()),
            repo_url: cd.repo_url,
            build_project: cd.build_project,
        })
    }

    /// One commit search at the provider, in an integration call slot,
    /// abandoned when the integration is disabled meanwhile; the answer is
    /// indexed (with its report) for the captures that follow.
    async fn search_provider(
        &self,
        org: &str,
        provider: &str,
        plugin: &crate::runtime::plugin::Plugin,
        project: &str,
        sha: &str,
    ) -> Result<Vec<IndexedBuild>, CommitBuildsError> {
        let (o, p) = (org.to_string(), provider.to_string());
        let Some((base, token)) = db(&self.store, move |s| s.integration_token(&o, &p)).await?
        else {
            return Err(CommitBuildsError::NoBuildServer(format!(
                "the {provider} integration is not enabled"
            )));
        };
        let base_url = Url::parse(&base)
            .map_err(|e| CommitBuildsError::Provider(format!("invalid base_url {base}: {e}")))?;
        let integration = Integration {
            org: Some(org.to_string()),
            base_url,
            settings: Vec::new(),
            credential: Some(Credential::new(token.expose())),
        };
        let query = CommitQuery {
            project: project.to_string(),
            sha: sha.to_string(),
            branch: None,
            horizon: Horizon {
                max_pipelines: self.config.search_max_pipelines,
                not_before: None,
            },
        };
        let result = tokio::select! {
            r = async {
                let _slot = self.budget.capture(org, provider).await;
                // Checked again after waiting: never call after a disable.
                if !self.enabled(org, provider).await {
                    return None;
                }
                Some(super::resolve::search(plugin, &integration, &query).await)
            } => r,
            _ = self.until_disabled(org, provider) => None,
        };
        let Some(result) = result else {
            return Err(CommitBuildsError::NoBuildServer(format!(
                "the {provider} integration was disabled"
            )));
        };
        self.metrics.record_plugin_call(
            provider,
            "builds_for_commit",
            CallError::result_label(&result),
        );
        let found = match result {
            Ok(super::resolve::Searched::Found(found)) => found,
            Ok(super::resolve::Searched::Ambiguous(candidates)) => {
                return Err(CommitBuildsError::Provider(super::explain::ambiguous(
                    sha,
                    project,
                    &candidates,
                )));
            }
            Err(e) => {
                return Err(match super::retry::classify(&e) {
                    super::retry::Failure::Unauthorized(m) => CommitBuildsError::Unauthorized(m),
                    _ => CommitBuildsError::Provider(e.to_string()),
                });
            }
        };
        let report = index::report_from_wit(found.report);
        let builds: Arc<Vec<IndexedBuild>> = Arc::new(
            found
                .builds
                .into_iter()
                .map(|b| index::from_wit(b, project))
                .collect(),
        );
        let (o, p, pr, s, b) = (
            org.to_string(),
            provider.to_string(),
            project.to_string(),
            sha.to_string(),
            builds.clone(),
        );
        if let Err(e) = db(&self.store, move |st| {
            st.index_builds(&o, &p, &b, Some((&pr, &s, &report)))
        })
        .await
        {
            tracing::warn!(error = %e, "cannot store the commit's builds in the index");
        }
        Ok(Arc::try_unwrap(builds).unwrap_or_else(|b| (*b).clone()))
    }
}
