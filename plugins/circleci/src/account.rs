//! `validate-credentials` and `list-projects`.

use std::collections::HashSet;

use crate::api::{Me, V1Project};
use crate::client::{Api, parse_json};
use crate::items::{Items, keep_read};
use crate::slug;
use crate::transport::Transport;
use crate::wit::{Account, CallContext, Project, ProviderError};

/// Whose token the host attached: `GET /api/v2/me`.
pub fn validate_credentials(
    transport: &dyn Transport,
    ctx: &CallContext,
) -> Result<Account, ProviderError> {
    let api = Api::new(transport, ctx);
    let me: Me = api.send_json(&api.get("/api/v2/me"))?;
    match me {
        Me {
            id: Some(id),
            login,
            name,
            ..
        } => {
            let login = login.unwrap_or_default();
            Ok(Account {
                id,
                name: name
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| login.clone()),
                login,
            })
        }
        // A refusal that came with a 200 still is a refusal.
        Me {
            message: Some(message),
            ..
        } => Err(ProviderError::Unauthorized(message)),
        _ => Err(ProviderError::InvalidResponse(
            "CircleCI's /api/v2/me named no user".into(),
        )),
    }
}

/// The projects the token's user follows, from v1.1 `GET /api/v1.1/projects`
/// (v2 has no public project listing; `/api/v2/me/collaborations` lists
/// organisations, not projects, so it cannot add any). Slugs are
/// normalised (`gh/org/repo`) and de-duplicated, first one kept.
pub fn list_projects(
    transport: &dyn Transport,
    ctx: &CallContext,
) -> Result<Vec<Project>, ProviderError> {
    let api = Api::new(transport, ctx);
    let req = api.get("/api/v1.1/projects");
    let resp = api.send(&req)?;
    let Items(items) = parse_json::<Items<V1Project>>(&resp.body, &req.url)?;
    let mut seen = HashSet::new();
    let mut projects = Vec::new();
    for p in keep_read(items, "project", &req.url) {
        let Some(project) = project_of(&p) else {
            crate::logging::warn(&format!(
                "skipped a followed project without a usable slug: {p:?}"
            ));
            continue;
        };
        if seen.insert(project.slug.clone()) {
            projects.push(project);
        }
    }
    Ok(projects)
}

/// A v1.1 project as a contract project. The slug comes from the vcs word
/// and the org/repo names, else from the repository URL.
fn project_of(p: &V1Project) -> Option<Project> {
    let repo_url = p.vcs_url.clone().filter(|u| !u.is_empty());
    let from_parts = match (
        p.vcs_type.as_deref(),
        p.username.as_deref(),
        p.reponame.as_deref(),
    ) {
        (Some(vcs), Some(org), Some(repo))
            if !vcs.is_empty() && !org.is_empty() && !repo.is_empty() =>
        {
            Some(slug::normalize(&format!("{vcs}/{org}/{repo}")))
        }
        _ => None,
    };
    let slug = from_parts.or_else(|| repo_url.as_deref().and_then(slug::for_repo_url))?;
    let name = p
        .reponame
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| slug.rsplit('/').next().unwrap_or_default().to_string());
    Some(Project {
        slug,
        name,
        repo_url,
    })
}
