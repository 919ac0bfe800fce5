//! `describe`, `validate-credentials`, `list-projects`, `project-for-repo`.

mod common;

use buildsnap_circleci::account::{list_projects, validate_credentials};
use buildsnap_circleci::describe::{descriptor, token_help_url};
use buildsnap_circleci::slug::for_repo_url;
use buildsnap_circleci::wit::*;
use common::*;
use serde_json::json;

#[test]
fn describe_is_static() {
    let d = descriptor();
    assert_eq!((d.id.as_str(), d.name.as_str()), ("circleci", "CircleCI"));
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(d.default_base_url, "https://circleci.com");
    assert_eq!(d.auth, AuthScheme::Header("Circle-Token".into()));
    assert_eq!(d.origins, vec!["https://circleci.com".to_string()]);
    assert_eq!(d.max_concurrency, 8);
    // 429 with Retry-After pauses the whole integration.
    assert_eq!(d.rate_limits.len(), 1);
    assert_eq!(d.rate_limits[0].statuses, [429]);
    assert_eq!(
        d.rate_limits[0].reset,
        ResetSource::DelayHeader("retry-after".into())
    );
    // The host verifies `circleci-signature: v1=<hex>,...` itself.
    let hooks = d.webhooks.expect("CircleCI sends webhooks");
    assert_eq!(
        hooks.scheme,
        WebhookScheme::HmacSha256(HmacSignature {
            header: "circleci-signature".into(),
            prefix: "v1=".into(),
            comma_separated: true,
        })
    );
    assert_eq!(hooks.delivery_id_header, None);
}

#[test]
fn token_page_is_on_the_integrations_web_app() {
    assert_eq!(
        token_help_url(&ctx(BASE)),
        "https://app.circleci.com/settings/user/tokens"
    );
    assert_eq!(
        token_help_url(&ctx("https://circleci.example.com/")),
        "https://app.circleci.example.com/settings/user/tokens"
    );
}

#[test]
fn validate_reads_me() {
    let fake = Fake::new();
    fake.json(
        &format!("{BASE}/api/v2/me"),
        &json!({"name": "Patrick Schratz", "login": "pat-s", "id": "9c373331"}),
    );
    let a = validate_credentials(&fake, &ctx(BASE)).unwrap();
    assert_eq!(
        a,
        Account {
            id: "9c373331".into(),
            login: "pat-s".into(),
            name: "Patrick Schratz".into()
        }
    );
    assert_eq!(fake.requests.borrow().len(), 1);
    fake.assert_clean();
}

#[test]
fn validate_reports_circleci_refusals() {
    let fake = Fake::new();
    fake.on(
        &format!("{BASE}/api/v2/me"),
        401,
        r#"{"message":"You must log in first."}"#,
    );
    assert_eq!(
        validate_credentials(&fake, &ctx(BASE)),
        Err(ProviderError::Unauthorized("You must log in first.".into()))
    );
    let fake = Fake::new();
    fake.on(
        &format!("{BASE}/api/v2/me"),
        200,
        r#"{"message":"You must log in first."}"#,
    );
    assert_eq!(
        validate_credentials(&fake, &ctx(BASE)),
        Err(ProviderError::Unauthorized("You must log in first.".into()))
    );
    let fake = Fake::new();
    fake.on(&format!("{BASE}/api/v2/me"), 200, "[]");
    assert!(matches!(
        validate_credentials(&fake, &ctx(BASE)),
        Err(ProviderError::InvalidResponse(_))
    ));
    let fake = Fake::new();
    fake.fail(
        &format!("{BASE}/api/v2/me"),
        HttpError::Denied("origin https://circleci.com not granted".into()),
    );
    match validate_credentials(&fake, &ctx(BASE)) {
        Err(ProviderError::Other(m)) => assert!(m.contains("denied") && m.contains("not granted")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn list_projects_normalises_and_dedups() {
    let fake = Fake::new();
    fake.json(
        &format!("{BASE}/api/v1.1/projects"),
        &json!([
            {"vcs_url": "https://github.com/acme/app", "vcs_type": "github", "username": "acme", "reponame": "app", "following": true},
            {"vcs_url": "https://github.com/acme/app", "vcs_type": "gh", "username": "acme", "reponame": "app"},
            {"vcs_url": "https://bitbucket.org/team/lib", "vcs_type": "bitbucket", "username": "team", "reponame": "lib"},
            {"vcs_url": "https://github.com/acme/tool"},
            {"following": true},
            "junk"
        ]),
    );
    let page = list_projects(&fake, &ctx(BASE), &first_page(100, None)).unwrap();
    assert_eq!(page.next, None);
    let projects = page.projects;
    let slugs: Vec<_> = projects.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(slugs, ["gh/acme/app", "bb/team/lib", "gh/acme/tool"]);
    assert_eq!(projects[0].name, "app");
    assert_eq!(projects[2].name, "tool");
    assert_eq!(
        projects[1].repo_url.as_deref(),
        Some("https://bitbucket.org/team/lib")
    );
    fake.assert_clean();
}

fn first_page(limit: u32, search: Option<&str>) -> ProjectQuery {
    ProjectQuery {
        search: search.map(str::to_string),
        cursor: None,
        limit,
    }
}

#[test]
fn list_projects_pages_and_searches_the_followed_list() {
    let fake = Fake::new();
    let url = format!("{BASE}/api/v1.1/projects");
    let followed: Vec<_> = (0..5)
        .map(|i| json!({"vcs_type": "github", "username": "acme", "reponame": format!("repo-{i}")}))
        .chain([json!({"vcs_type": "github", "username": "acme", "reponame": "Website"})])
        .collect();
    fake.json(&url, &json!(followed));
    let mut query = first_page(2, None);
    let mut seen = Vec::new();
    loop {
        let page = list_projects(&fake, &ctx(BASE), &query).unwrap();
        assert!(page.projects.len() <= 2);
        seen.extend(page.projects.into_iter().map(|p| p.slug));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen[5], "gh/acme/Website");
    // Each page read the list again, conditionally.
    assert_eq!(fake.count_exact(&url), 3);
    assert_eq!(fake.conditional.borrow().len(), 3);

    let found = list_projects(&fake, &ctx(BASE), &first_page(10, Some("WEB"))).unwrap();
    let slugs: Vec<_> = found.projects.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(slugs, ["gh/acme/Website"], "search ignores case");
    assert_eq!(found.next, None);

    let mut bad = first_page(10, None);
    bad.cursor = Some("not-a-number".into());
    assert!(matches!(
        list_projects(&fake, &ctx(BASE), &bad),
        Err(ProviderError::Other(m)) if m.contains("cursor")
    ));
    fake.assert_clean();
}

#[test]
fn project_for_repo_derives_classic_slugs_only() {
    assert_eq!(
        for_repo_url("https://github.com/coldgust/coldgust.github.io").as_deref(),
        Some("gh/coldgust/coldgust.github.io")
    );
    assert_eq!(
        for_repo_url("git@bitbucket.org:team/repo.git").as_deref(),
        Some("bb/team/repo")
    );
    assert_eq!(for_repo_url("https://gitlab.com/group/repo"), None);
}
