//! Users and repositories: `simple-user`, `private-user`, `minimal-repository`, `repository`.

use serde_json::{Map, Value, json};

use super::{Urls, node_id, ts};
use crate::model::{Account, AccountKind, Repo};

fn kind_name(a: &Account) -> &'static str {
    match a.kind {
        AccountKind::User => "User",
        AccountKind::Organization => "Organization",
    }
}

/// `simple-user`: how GitHub embeds an account (actor, owner, sender).
pub fn simple_user(a: &Account, u: &Urls) -> Value {
    let api = format!("{}/users/{}", u.api, a.login);
    json!({
        "login": a.login,
        "id": a.id,
        "node_id": node_id(kind_name(a), a.id),
        "avatar_url": format!("{}/u/{}?v=4", u.avatars, a.id),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{}/{}", u.html, a.login),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind_name(a),
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// Repository counts shown on `GET /user`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RepoCounts {
    /// Public repositories owned.
    pub public: usize,
    /// Private repositories owned.
    pub owned_private: usize,
    /// Private repositories the user can see.
    pub total_private: usize,
}

/// `private-user`: `GET /user` for the token's own account.
pub fn private_user(a: &Account, counts: RepoCounts, u: &Urls) -> Value {
    let mut v = simple_user(a, u);
    let m = v.as_object_mut().expect("object");
    let extra = json!({
        "user_view_type": "private",
        "name": a.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": a.email,
        "notification_email": a.email,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": counts.public,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": ts(a.created_at),
        "updated_at": ts(a.created_at),
        "private_gists": 0,
        "total_private_repos": counts.total_private,
        "owned_private_repos": counts.owned_private,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": true,
        "plan": {"name": "pro", "space": 976562499, "collaborators": 0, "private_repos": 9999},
    });
    m.extend(extra.as_object().expect("object").clone());
    v
}

/// What the viewer may do with a repository (`permissions` in repository lists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Owner (or org member, treated as admin here).
    Admin,
    /// Collaborator.
    Push,
    /// Anyone else who can see it.
    Pull,
}

/// `minimal-repository`: how runs embed `repository` and `head_repository`.
pub fn repo_minimal(r: &Repo, owner: &Account, u: &Urls) -> Value {
    let full = r.full_name();
    let api = u.repo_api(&full);
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("node_id".into(), json!(node_id("Repository", r.id)));
    m.insert("name".into(), json!(r.name));
    m.insert("full_name".into(), json!(full));
    m.insert("private".into(), json!(r.private));
    m.insert("owner".into(), simple_user(owner, u));
    m.insert("html_url".into(), json!(u.repo_html(&full)));
    m.insert("description".into(), json!(r.description));
    m.insert("fork".into(), json!(false));
    m.insert("url".into(), json!(api));
    let templated = [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ];
    for (k, suffix) in templated {
        m.insert(k.into(), json!(format!("{api}{suffix}")));
    }
    Value::Object(m)
}

/// `repository`: `/user/repos` items (and, with webhook extras, webhook `repository`).
pub fn repo_full(r: &Repo, owner: &Account, perm: Option<Permission>, u: &Urls) -> Value {
    let mut v = repo_minimal(r, owner, u);
    let full = r.full_name();
    let html = u.repo_html(&full);
    let host = u.html.split("://").nth(1).unwrap_or("github.com");
    let pushed = r
        .commits
        .iter()
        .map(|c| c.timestamp)
        .max()
        .unwrap_or(r.created_at)
        .max(r.created_at);
    let extra = json!({
        "clone_url": format!("{html}.git"),
        "git_url": format!("git://{host}/{full}.git"),
        "ssh_url": format!("git@{host}:{full}.git"),
        "svn_url": html,
        "mirror_url": null,
        "homepage": null,
        "language": null,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": 0,
        "default_branch": r.default_branch,
        "open_issues_count": 0,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": true,
        "has_wiki": true,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "visibility": if r.private { "private" } else { "public" },
        "pushed_at": ts(pushed),
        "created_at": ts(r.created_at),
        "updated_at": ts(pushed),
        "allow_forking": true,
        "web_commit_signoff_required": false,
        "license": null,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
    });
    let m = v.as_object_mut().expect("object");
    m.extend(extra.as_object().expect("object").clone());
    if let Some(p) = perm {
        let admin = p == Permission::Admin;
        let push = p != Permission::Pull;
        m.insert(
            "permissions".into(),
            json!({"admin": admin, "maintain": admin, "push": push, "triage": push, "pull": true}),
        );
    }
    v
}
