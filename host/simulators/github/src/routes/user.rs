//! `GET /user` and `GET /user/repos`.

use serde_json::Value;

use super::{ApiResponse, Req};
use crate::model::AccountKind;
use crate::query::{Paging, param};
use crate::views::account::{Permission, RepoCounts, private_user, repo_full};

const ME_DOCS: &str = "https://docs.github.com/rest/users/users#get-the-authenticated-user";
const REPOS_DOCS: &str =
    "https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user";

fn requires_auth(docs: &str) -> ApiResponse {
    ApiResponse::error(401, "Requires authentication", docs)
}

/// `GET /user`: the token's own account.
pub fn me(req: &Req<'_>) -> ApiResponse {
    let Some(u) = req.user else {
        return requires_auth(ME_DOCS);
    };
    let sh = req.sh;
    let s = &sh.scenario;
    let a = &s.accounts[u];
    let mut counts = RepoCounts::default();
    for (ri, r) in s.repos.iter().enumerate() {
        let owns = r.owner.eq_ignore_ascii_case(&a.login);
        counts.public += usize::from(owns && !r.private);
        counts.owned_private += usize::from(owns && r.private);
        counts.total_private += usize::from(r.private && sh.index.affiliated(s, u, ri));
    }
    ApiResponse::json(200, &private_user(a, counts, &sh.urls)).modified(Some(a.created_at))
}

/// How the user is related to a repository (the `affiliation` vocabulary).
fn affiliation(req: &Req<'_>, user: usize, ri: usize) -> Option<(&'static str, Permission)> {
    let s = &req.sh.scenario;
    let r = &s.repos[ri];
    let login = &s.accounts[user].login;
    if r.owner.eq_ignore_ascii_case(login) {
        return Some(("owner", Permission::Admin));
    }
    if r.collaborators
        .iter()
        .any(|c| c.eq_ignore_ascii_case(login))
    {
        return Some(("collaborator", Permission::Push));
    }
    let org = req.sh.index.account(s, &r.owner)?;
    (org.kind == AccountKind::Organization
        && org.members.iter().any(|m| m.eq_ignore_ascii_case(login)))
    .then_some(("organization_member", Permission::Push))
}

/// `GET /user/repos`: repositories the user owns, collaborates on or sees through an
/// organisation; `visibility`, `affiliation`, `type`, `sort`, `direction` and paging.
pub fn repos(req: &Req<'_>) -> ApiResponse {
    let Some(u) = req.user else {
        return requires_auth(REPOS_DOCS);
    };
    let q = req.query;
    let visibility = param(q, "visibility");
    let affiliations = param(q, "affiliation");
    let kind = param(q, "type");
    if kind.is_some() && (visibility.is_some() || affiliations.is_some()) {
        // GitHub's documented 422: `type` may not be combined with the other two.
        return ApiResponse::invalid("Repository", "type", REPOS_DOCS);
    }
    let allowed: Vec<String> = affiliations
        .unwrap_or_else(|| "owner,collaborator,organization_member".into())
        .split(',')
        .map(|a| a.trim().to_owned())
        .collect();
    let sh = req.sh;
    let s = &sh.scenario;
    let mut items: Vec<(usize, Permission)> = s
        .repos
        .iter()
        .enumerate()
        .filter_map(|(ri, r)| {
            let (aff, perm) = affiliation(req, u, ri)?;
            let vis_ok = match visibility.as_deref() {
                Some("public") => !r.private,
                Some("private") => r.private,
                _ => true,
            };
            let kind_ok = match kind.as_deref() {
                Some("owner") => aff == "owner",
                Some("member") => aff != "owner",
                Some("public") => !r.private,
                Some("private") => r.private,
                _ => true,
            };
            (allowed.iter().any(|a| a == aff) && vis_ok && kind_ok).then_some((ri, perm))
        })
        .collect();
    let sort = param(q, "sort").unwrap_or_else(|| "full_name".into());
    let pushed = |ri: usize| {
        let r = &s.repos[ri];
        r.commits
            .iter()
            .map(|c| c.timestamp)
            .max()
            .unwrap_or(r.created_at)
    };
    match sort.as_str() {
        "created" => items.sort_by_key(|&(ri, _)| s.repos[ri].created_at),
        "updated" | "pushed" => items.sort_by_key(|&(ri, _)| pushed(ri)),
        _ => items.sort_by_key(|&(ri, _)| s.repos[ri].full_name().to_ascii_lowercase()),
    }
    let default_desc = sort != "full_name";
    let desc = param(q, "direction").map_or(default_desc, |d| d == "desc");
    if desc {
        items.reverse();
    }
    let paging = Paging::from_query(q);
    let page = &items[paging.range(items.len())];
    let modified = page.iter().map(|&(ri, _)| pushed(ri)).max();
    let body: Vec<Value> = page
        .iter()
        .map(|&(ri, perm)| {
            let r = &s.repos[ri];
            let owner = sh.index.account(s, &r.owner).expect("validated owner");
            repo_full(r, owner, Some(perm), &sh.urls)
        })
        .collect();
    ApiResponse::json(200, &Value::Array(body))
        .modified(modified)
        .link(paging.link(&req.url(), q, items.len()))
}
