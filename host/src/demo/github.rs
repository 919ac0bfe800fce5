//! The demo's GitHub side: GitHub Actions enabled with the GitHub
//! simulator's token, the build server of one project, and one deploy of
//! each of the simulator's cases.

use anyhow::Context;
use serde_json::json;

use super::Api;

/// The project GitHub Actions builds: (slug, name, repository URL).
pub(super) const GITHUB_PROJECT: (&str, &str, &str) =
    ("site", "Site", "https://github.com/acme/api");

/// GitHub Actions as the build server of [`GITHUB_PROJECT`], and one
/// deploy of each GitHub case (two attempts, an environment review, failing
/// while running, canceled, queued), registered now.
pub(super) async fn enable_github(
    api: &Api,
    org: &str,
    token: &str,
    github: &github_sim::SimHandle,
) -> anyhow::Result<()> {
    use github_sim::cases::ids;
    use reqwest::Method;
    let (slug, name, repo_url) = GITHUB_PROJECT;
    api.call(
        Method::PUT,
        &format!("{org}/integrations/github-actions"),
        token,
        json!({"token": github_sim::cases::DEMO_TOKEN, "base_url": github.base_url()}),
    )
    .await
    .context("enabling GitHub Actions with the simulator")?;
    api.call(
        Method::POST,
        &format!("{org}/projects"),
        token,
        json!({"slug": slug, "name": name}),
    )
    .await?;
    api.call(
        Method::POST,
        &format!("{org}/projects/{slug}/code-deployments"),
        token,
        json!({"slug": "production", "repo_url": repo_url, "branch": "main"}),
    )
    .await?;
    api.call(
        Method::PUT,
        &format!("{org}/integrations/github-actions/default-build-server"),
        token,
        json!({"project": slug}),
    )
    .await?;
    for run in [
        ids::TWO_ATTEMPTS,
        ids::WAITING,
        ids::FAILING,
        ids::CANCELLED,
        ids::QUEUED,
    ] {
        let Some(sha) = github
            .scenario()
            .repos
            .iter()
            .flat_map(|r| &r.runs)
            .find(|r| r.id == run)
            .map(|r| r.head_sha.clone())
        else {
            continue;
        };
        api.call(
            Method::POST,
            &format!("{org}/projects/{slug}/deploys"),
            token,
            json!({"sha": sha, "environment": "production"}),
        )
        .await?;
    }
    Ok(())
}
