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
    /// Requests made with `token` (the shorthands below use acme's `all`).
    pub fn as_<'a>(&'a self, token: &'a str) -> Caller<'a> {
        Caller { w: self, token }
    }
    pub async fn get(&self, p: &str) -> Resp {
        self.as_(&self.all).get(p).await
    }
    pub async fn delete(&self, p: &str) -> Resp {
        self.as_(&self.all).delete(p).await
    }
    pub async fn put(&self, p: &str, b: Value) -> Resp {
        self.as_(&self.all).put(p, b).await
    }
    pub async fn post(&self, p: &str, b: Value) -> Resp {
        self.as_(&self.all).post(p, b).await
    }

    /// acme's project `slug`, created (201 expected).
    pub async fn add_project(&self, slug: &str) {
        let r = self
            .post(
                "/api/v1/orgs/acme/projects",
                json!({"slug": slug, "name": slug.to_uppercase()}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    /// A `main` code deployment of acme's `project` from
    /// github.com/acme/`project`, built as gh/acme/`project` (201 expected).
    pub async fn add_code_deployment(&self, project: &str) {
        let r = self
            .post(
                &format!("/api/v1/orgs/acme/projects/{project}/code-deployments"),
                json!({"slug": "main", "repo_url": format!("https://github.com/acme/{project}"),
                       "branch": "main", "build_project": format!("gh/acme/{project}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    /// PUT of acme's `provider` integration with `body`, answered as it comes.
    pub async fn enable(&self, provider: &str, body: Value) -> Resp {
        self.put(&format!("/api/v1/orgs/acme/integrations/{provider}"), body)
            .await
    }
    /// `provider` made the build server of acme's `project`, answered as it comes.
    pub async fn set_build_server(&self, provider: &str, project: &str) -> Resp {
        self.put(
            &format!("/api/v1/orgs/acme/integrations/{provider}/default-build-server"),
            json!({"project": project}),
        )
        .await
    }
}

/// Requests of one token against the world's server.
pub struct Caller<'a> {
    w: &'a World,
    token: &'a str,
}

impl Caller<'_> {
    pub async fn get(&self, p: &str) -> Resp {
        self.w.call("GET", p, Some(self.token), None).await
    }
    pub async fn delete(&self, p: &str) -> Resp {
        self.w.call("DELETE", p, Some(self.token), None).await
    }
    pub async fn put(&self, p: &str, b: Value) -> Resp {
        self.w.call("PUT", p, Some(self.token), Some(b)).await
    }
    pub async fn post(&self, p: &str, b: Value) -> Resp {
        self.w.call("POST", p, Some(self.token), Some(b)).await
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
    w.add_project("web").await;
    with_build_server_on_existing(w).await;
}

/// [`with_build_server`] for a world where acme/web already exists.
pub async fn with_build_server_on_existing(w: &World) {
    w.add_code_deployment("web").await;
    let r = w.enable("circleci", json!({"token": "good-abc"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = w.set_build_server("circleci", "web").await;
    assert_eq!(r.status, 200, "{}", r.text);
}
