//! `validate-credentials` and `list-projects`.

use std::collections::HashSet;

use crate::api::{Me, V1Project};
use crate::client::{Api, parse_json};
use crate::items::{Items, keep_read};
use crate::slug;
use crate::transport::Transport;
use crate::wit::{Account, CallContext, Project, ProjectPage, ProjectQuery, ProviderError};

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

/// One page of the projects the token's user follows.
///
/// CircleCI lists them in one answer, without paging or search (v1.1
/// `GET /api/v1.1/projects`), so the page is cut from that list here: the
/// query's `search` keeps projects whose slug or name contains it (case
/// insensitive), and the cursor is the offset of the next project. Every
/// page reads the list again, conditionally: an unchanged list costs the
/// host a revalidation, not a new body.
pub fn list_projects(
    transport: &dyn Transport,
    ctx: &CallContext,
    query: &ProjectQuery,
) -> Result<ProjectPage, ProviderError> {
    let start = match query.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| {
            ProviderError::Other(format!("not a project cursor this plugin wrote: {c:?}"))
        })?,
    };
    let limit = query.limit.clamp(1, 100) as usize;
    // ASCII case folding: slugs are ASCII, and Unicode's case tables
    // would add their weight to the component for names alone.
    let needle = query
        .search
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty());
    let matching: Vec<Project> = followed_projects(transport, ctx)?
        .into_iter()
        .filter(|p| {
            needle.as_deref().is_none_or(|n| {
                p.slug.to_ascii_lowercase().contains(n) || p.name.to_ascii_lowercase().contains(n)
            })
        })
        .collect();
    let end = start.saturating_add(limit).min(matching.len());
    let next = (end < matching.len()).then(|| end.to_string());
    let projects = matching
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok(ProjectPage { projects, next })
}

/// Every project the token's user follows, from v1.1 `GET /api/v1.1/projects`
/// (v2 has no public project listing; `/api/v2/me/collaborations` lists
/// organisations, not projects, so it cannot add any). Slugs are
/// normalised (`gh/org/repo`) and de-duplicated, first one kept.
pub fn followed_projects(
    transport: &dyn Transport,
    ctx: &CallContext,
) -> Result<Vec<Project>, ProviderError> {
    let api = Api::new(transport, ctx);
    let req = api.get_conditional("/api/v1.1/projects");
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
