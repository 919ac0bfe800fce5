//! The API tests' shared world: a server with the fake services, orgs
//! `acme` and `globex`, their tokens, and set-up steps several topics need.

use buildsnap_domain::{FrozenBuild, Status};
use serde_json::{Value, json};

use super::*;

pub struct World {
    pub srv: Server,
    pub c: reqwest::Client,
    pub _dir: tempfile::TempDir,
    /// acme, scope all
    pub all: String,
    /// acme, scope register_deploy
    pub deployer: String,
    /// globex, scope all
    pub other: String,
}

impl World {
    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.srv.base)
    }
    pub async fn call(&self, m: &str, p: &str, t: Option<&str>, b: Option<Value>) -> Resp {
        call(&self.c, m, &self.url(p), t, b).await
    }
}

pub async fn token(c: &reqwest::Client, base: &str, org: &str, by: &str, scope: &str) -> String {
    let r = call(
        c,
        "POST",
        &format!("{base}/api/v1/orgs/{org}/tokens"),
        Some(by),
        Some(json!({"name": "t", "scope": scope})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["scope"], scope);
    r.body["token"].as_str().unwrap().to_string()
}

/// A frozen build with only an id and a status worth looking at.
pub fn frozen(id: &str, status: Status) -> FrozenBuild {
    FrozenBuild {
        attempt: 1,
        parent_id: None,
        branch: None,
        created_at: "2025-06-01T11:00:00Z".into(),
        id: id.into(),
        jobs: vec![],
        jobs_complete: true,
        name: "build".into(),
        pipeline_id: "p1".into(),
        pipeline_number: None,
        provider_status: status.as_str().into(),
        sha: "a".repeat(40),
        status,
        stopped_at: None,
        tag: None,
        url: None,
    }
}

pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    let c = client();
    for org in ["acme", "globex"] {
        let r = call(
            &c,
            "POST",
            &format!("{}/api/v1/orgs", srv.base),
            Some(ADMIN),
            Some(json!({"slug": org, "name": org.to_uppercase()})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let all = token(&c, &srv.base, "acme", ADMIN, "all").await;
    // An org `all` token may mint tokens of its own org.
    let deployer = token(&c, &srv.base, "acme", &all, "register_deploy").await;
    let other = token(&c, &srv.base, "globex", ADMIN, "all").await;
    World {
        srv,
        c,
        _dir: dir,
        all,
        deployer,
        other,
    }
}

/// acme/web with one code deployment; circleci enabled and its build server.
pub async fn with_build_server(w: &World) {
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects",
            Some(&w.all),
            Some(json!({"slug": "web", "name": "Web"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/web/code-deployments",
            Some(&w.all),
            Some(json!({"slug": "main", "repo_url": "https://github.com/acme/web", "branch": "main", "build_project": "gh/acme/web"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": "good-abc"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci/default-build-server",
            Some(&w.all),
            Some(json!({"project": "web"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

pub async fn with_build_server_on_existing(w: &World) {
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/web/code-deployments",
            Some(&w.all),
            Some(json!({"slug": "main", "repo_url": "https://github.com/acme/web", "branch": "main", "build_project": "gh/acme/web"})),
        )
        .await;
    assert_eq!(r.status, 201);
    w.call(
        "PUT",
        "/api/v1/orgs/acme/integrations/circleci",
        Some(&w.all),
        Some(json!({"token": "good-abc"})),
    )
    .await;
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci/default-build-server",
            Some(&w.all),
            Some(json!({"project": "web"})),
        )
        .await;
    assert_eq!(r.status, 200);
}
