//! The HTTP API v1 against a real server on 127.0.0.1:0 with a real client.

mod common;

use buildsnap_domain::{FrozenBuild, Status, Summary};
use buildsnap_store::{FinalSnapshot, SnapshotState, ts};
use common::*;
use serde_json::{Value, json};

struct World {
    srv: Server,
    c: reqwest::Client,
    _dir: tempfile::TempDir,
    /// acme, scope all
    all: String,
    /// acme, scope register_deploy
    deployer: String,
    /// globex, scope all
    other: String,
}

impl World {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.srv.base)
    }
    async fn call(&self, m: &str, p: &str, t: Option<&str>, b: Option<Value>) -> Resp {
        call(&self.c, m, &self.url(p), t, b).await
    }
}

async fn token(c: &reqwest::Client, base: &str, org: &str, by: &str, scope: &str) -> String {
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
fn frozen(id: &str, status: Status) -> FrozenBuild {
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

async fn world() -> World {
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
async fn with_build_server(w: &World) {
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

#[tokio::test]
async fn healthz_openapi_metrics_and_request_ids() {
    let w = world().await;
    let r = w.call("GET", "/healthz", None, None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "ok"})));
    let rid = r.headers["x-request-id"].to_str().unwrap();
    assert_eq!(rid.len(), 32);
    assert!(rid.bytes().all(|b| b.is_ascii_hexdigit()));

    let r =
        w.c.get(w.url("/healthz"))
            .header("x-request-id", "trace-abc-123")
            .send()
            .await
            .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-abc-123");
    // An unsafe id is replaced, not echoed.
    let r =
        w.c.get(w.url("/healthz"))
            .header("x-request-id", "a b<script>")
            .send()
            .await
            .unwrap();
    assert_ne!(r.headers()["x-request-id"], "a b<script>");

    let r = w.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    assert!(r.body["paths"]["/api/v1/orgs/{org}/projects/{project}/deploys"]["post"].is_object());

    with_build_server(&w).await;
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/web/deploys",
            Some(&w.all),
            Some(json!({"sha": "abcdef1"})),
        )
        .await;
    assert_eq!(r.status, 202);
    let r = w.call("GET", "/metrics", None, None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("buildsnap_http_requests_total{route=\"/api/v1/orgs/{org}/projects/{project}/deploys\",method=\"POST\",status=\"202\"} 1"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(
            "buildsnap_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 3"
        ),
        "{}",
        r.text
    );
    // Plugin calls are counted by the host that makes them, not by the API
    // (host/tests/enable_e2e.rs checks them on the real provider path).
    assert!(
        !r.text.contains("call=\"validate_credentials\""),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("buildsnap_capture_queue_depth 1"),
        "{}",
        r.text
    );
}

/// The token page for a server: any token; the provider's default without
/// `base_url`; 404 for an unknown provider, 400 for a base that is no
/// http(s) URL or carries credentials.
#[tokio::test]
async fn token_help_url_is_asked_per_server() {
    let w = world().await;
    let path = "/api/v1/providers/circleci/token-help-url";
    assert_error(&w.call("GET", path, None, None).await, 401, "unauthorized");
    let r = w.call("GET", path, Some(&w.deployer), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["token_help_url"],
        "https://app.circleci.com/settings/user/tokens"
    );
    let r = w
        .call(
            "GET",
            &format!("{path}?base_url=https%3A%2F%2Fcircleci.example.com"),
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["base_url"], "https://circleci.example.com");
    for bad in [
        "ftp%3A%2F%2Fx",
        "https%3A%2F%2Fu%3Ap%40example.com",
        "not-a-url",
    ] {
        let r = w
            .call("GET", &format!("{path}?base_url={bad}"), Some(&w.all), None)
            .await;
        assert_error(&r, 400, "invalid_base_url");
    }
    let r = w
        .call(
            "GET",
            "/api/v1/providers/nope/token-help-url",
            Some(&w.all),
            None,
        )
        .await;
    assert_error(&r, 404, "unknown_provider");
}

#[tokio::test]
async fn auth_401_403_404_and_error_shape() {
    let w = world().await;
    let r = w.call("GET", "/api/v1/providers", None, None).await;
    assert_error(&r, 401, "unauthorized");
    let r = w.call("GET", "/api/v1/providers", Some("nope"), None).await;
    assert_error(&r, 401, "unauthorized");
    let r =
        w.c.get(w.url("/api/v1/providers"))
            .header("authorization", format!("Basic {}", w.all))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    // Any token lists providers.
    for t in [ADMIN, &w.all, &w.deployer, &w.other] {
        let r = w.call("GET", "/api/v1/providers", Some(t), None).await;
        assert_eq!(r.status, 200);
        let ids: Vec<_> = r.body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["circleci", "otherci"]);
        assert_eq!(r.body["providers"][0]["api_version"], "0.1.0");
        assert_eq!(r.body["providers"][0]["status"], "ok");
        assert_eq!(
            r.body["providers"][0]["token_help_url"],
            "https://app.circleci.com/settings/user/tokens"
        );
    }
    // Only admin creates orgs.
    let r = w
        .call(
            "POST",
            "/api/v1/orgs",
            Some(&w.all),
            Some(json!({"slug": "x", "name": "X"})),
        )
        .await;
    assert_error(&r, 403, "forbidden");
    // register_deploy: only deploy registration.
    for (m, p, b) in [
        ("GET", "/api/v1/orgs/acme/projects", None),
        (
            "POST",
            "/api/v1/orgs/acme/projects",
            Some(json!({"slug": "p", "name": "P"})),
        ),
        ("GET", "/api/v1/orgs/acme/deploys", None),
        ("GET", "/api/v1/orgs/acme/integrations", None),
        (
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(json!({"token": "good-x"})),
        ),
        (
            "POST",
            "/api/v1/orgs/acme/tokens",
            Some(json!({"name": "n", "scope": "all"})),
        ),
    ] {
        let r = w.call(m, p, Some(&w.deployer), b).await;
        assert_error(&r, 403, "forbidden");
    }
    // Another org's resources: 404, also for a register_deploy token.
    for t in [&w.all, &w.deployer] {
        let r = w
            .call("GET", "/api/v1/orgs/globex/projects", Some(t), None)
            .await;
        assert_error(&r, 404, "org_not_found");
        let r = w
            .call(
                "POST",
                "/api/v1/orgs/globex/projects/x/deploys",
                Some(t),
                Some(json!({"sha": "abcdef1"})),
            )
            .await;
        assert_error(&r, 404, "org_not_found");
    }
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/globex/tokens",
            Some(&w.all),
            Some(json!({"name": "n", "scope": "all"})),
        )
        .await;
    assert_error(&r, 404, "org_not_found");
    // Admin on an org that does not exist.
    let r = w
        .call("GET", "/api/v1/orgs/nope/projects", Some(ADMIN), None)
        .await;
    assert_error(&r, 404, "org_not_found");
    // Unknown route / method.
    let r = w.call("GET", "/api/v1/nothing", Some(ADMIN), None).await;
    assert_error(&r, 404, "not_found");
    let r = w
        .call("PATCH", "/api/v1/orgs/acme/projects", Some(ADMIN), None)
        .await;
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.headers["allow"], "POST, GET, HEAD");
}

#[tokio::test]
async fn orgs_tokens_projects_code_deployments() {
    let w = world().await;
    let r = w
        .call(
            "POST",
            "/api/v1/orgs",
            Some(ADMIN),
            Some(json!({"slug": "Bad_Slug", "name": "x"})),
        )
        .await;
    assert_error(&r, 400, "invalid_slug");
    let r = w
        .call(
            "POST",
            "/api/v1/orgs",
            Some(ADMIN),
            Some(json!({"slug": "acme", "name": "again"})),
        )
        .await;
    assert_error(&r, 409, "slug_taken");
    let r = w
        .call(
            "POST",
            "/api/v1/orgs",
            Some(ADMIN),
            Some(json!({"name": "no slug"})),
        )
        .await;
    assert_error(&r, 400, "invalid_json");
    let r =
        w.c.post(w.url("/api/v1/orgs"))
            .bearer_auth(ADMIN)
            .body("{not json")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 400);
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/tokens",
            Some(&w.all),
            Some(json!({"name": "n", "scope": "root"})),
        )
        .await;
    assert_error(&r, 400, "invalid_scope");
    let t = token(&w.c, &w.srv.base, "acme", &w.all, "all").await;
    assert!(t.starts_with("bso_") && t.len() > 60);

    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects",
            Some(&w.all),
            Some(json!({"slug": "-web", "name": "W"})),
        )
        .await;
    assert_error(&r, 400, "invalid_slug");
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects",
            Some(&w.all),
            Some(json!({"slug": "web", "name": "Web"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.body,
        json!({"slug": "web", "name": "Web", "code_deployments": [], "build_server": null})
    );
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects",
            Some(&w.all),
            Some(json!({"slug": "web", "name": "Web"})),
        )
        .await;
    assert_error(&r, 409, "slug_taken");
    // Same slug in another org is fine.
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/globex/projects",
            Some(&w.other),
            Some(json!({"slug": "web", "name": "G"})),
        )
        .await;
    assert_eq!(r.status, 201);

    let cd = json!({"slug": "prod", "repo_url": "https://github.com/acme/web", "branch": "main"});
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/web/code-deployments",
            Some(&w.all),
            Some(cd.clone()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["build_project"], Value::Null);
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/web/code-deployments",
            Some(&w.all),
            Some(cd.clone()),
        )
        .await;
    assert_error(&r, 409, "slug_taken");
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/nope/code-deployments",
            Some(&w.all),
            Some(cd.clone()),
        )
        .await;
    assert_error(&r, 404, "project_not_found");
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/web/code-deployments",
            Some(&w.all),
            Some(json!({"slug": "A", "repo_url": "r", "branch": "b"})),
        )
        .await;
    assert_error(&r, 400, "invalid_slug");

    let r = w
        .call("GET", "/api/v1/orgs/acme/projects", Some(&w.all), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["projects"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["projects"][0]["code_deployments"][0]["slug"], "prod");
    assert_eq!(r.body["projects"][0]["build_server"], Value::Null);
    // Isolation: globex sees only its own project.
    let r = w
        .call("GET", "/api/v1/orgs/globex/projects", Some(&w.other), None)
        .await;
    assert_eq!(r.body["projects"][0]["name"], "G");
    assert_eq!(r.body["projects"][0]["code_deployments"], json!([]));
}

#[tokio::test]
async fn integrations_enable_errors_and_reads() {
    let w = world().await;
    let r = w
        .call("GET", "/api/v1/orgs/acme/integrations", Some(&w.all), None)
        .await;
    assert_eq!(r.status, 200);
    let list = r.body["integrations"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0],
        json!({"provider": "circleci", "name": "CircleCI", "enabled": false, "account": null,
               "base_url": "https://circleci.com", "default_build_server_for": [],
               "token_help_url": "https://app.circleci.com/settings/user/tokens", "status": "ok", "last_error": null,
               "webhook_configured": false})
    );
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/integrations/nope",
            Some(&w.all),
            None,
        )
        .await;
    assert_error(&r, 404, "unknown_provider");
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/nope",
            Some(&w.all),
            Some(json!({"token": "good-x"})),
        )
        .await;
    assert_error(&r, 404, "unknown_provider");

    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": "wrong"})),
        )
        .await;
    assert_error(&r, 422, "invalid_credentials");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid token provided."),
        "{}",
        r.text
    );
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": "good-x", "base_url": "https://evil.example"})),
        )
        .await;
    assert_error(&r, 422, "host_not_allowed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BUILDSNAP_ALLOW_HOSTS")
    );
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": "good-x", "base_url": "http://unreachable.granted.example"})),
        )
        .await;
    assert_error(&r, 502, "provider_unreachable");
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": "good-x", "base_url": "https://broken.granted.example"})),
        )
        .await;
    assert_error(&r, 502, "provider_error");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("plugin trapped"),
        "{}",
        r.text
    );
    // The plugin itself may refuse an origin (e.g. a redirect elsewhere).
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": "good-x", "base_url": "https://redirect.granted.example"})),
        )
        .await;
    assert_error(&r, 422, "host_not_allowed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BUILDSNAP_ALLOW_HOSTS")
    );
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": "good-x", "base_url": "not a url"})),
        )
        .await;
    assert_error(&r, 400, "invalid_base_url");
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": ""})),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    // Nothing was stored by the failures.
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.body["enabled"], false);

    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            Some(json!({"token": "good-x", "base_url": "https://ci.granted.example/"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["enabled"], true);
    assert_eq!(
        r.body["account"],
        json!({"id": "u-1", "login": "octo", "name": "Octo Cat"})
    );
    assert_eq!(r.body["base_url"], "https://ci.granted.example");
    assert!(r.body.get("token").is_none());
    // Stored encrypted; only the worker's accessor sees it.
    let (base, tok) = w
        .srv
        .store
        .integration_token("acme", "circleci")
        .unwrap()
        .unwrap();
    assert_eq!(
        (base.as_str(), tok.expose()),
        ("https://ci.granted.example", "good-x")
    );
    // Isolation: globex's circleci is still disabled.
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/globex/integrations/circleci",
            Some(&w.other),
            None,
        )
        .await;
    assert_eq!(r.body["enabled"], false);
    assert!(
        w.srv
            .store
            .integration_token("globex", "circleci")
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn default_build_server_rules() {
    let w = world().await;
    let p = "/api/v1/orgs/acme/integrations/circleci/default-build-server";
    w.call(
        "POST",
        "/api/v1/orgs/acme/projects",
        Some(&w.all),
        Some(json!({"slug": "web", "name": "Web"})),
    )
    .await;
    w.call(
        "POST",
        "/api/v1/orgs/acme/projects",
        Some(&w.all),
        Some(json!({"slug": "api", "name": "Api"})),
    )
    .await;
    let r = w
        .call("PUT", p, Some(&w.all), Some(json!({"project": "web"})))
        .await;
    assert_error(&r, 409, "integration_disabled");
    w.call(
        "PUT",
        "/api/v1/orgs/acme/integrations/circleci",
        Some(&w.all),
        Some(json!({"token": "good-x"})),
    )
    .await;
    let r = w
        .call("PUT", p, Some(&w.all), Some(json!({"project": "web"})))
        .await;
    assert_error(&r, 409, "no_code_deployment");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("add a code deployment to project web first")
    );
    let r = w
        .call("PUT", p, Some(&w.all), Some(json!({"project": "ghost"})))
        .await;
    assert_error(&r, 404, "project_not_found");
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/nope/default-build-server",
            Some(&w.all),
            Some(json!({"project": "web"})),
        )
        .await;
    assert_error(&r, 404, "unknown_provider");
    for proj in ["web", "api"] {
        let r = w
            .call(
                "POST",
                &format!("/api/v1/orgs/acme/projects/{proj}/code-deployments"),
                Some(&w.all),
                Some(json!({"slug": "main", "repo_url": format!("https://github.com/acme/{proj}"), "branch": "main"})),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = w
        .call("PUT", p, Some(&w.all), Some(json!({"project": "web"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["default_build_server_for"], json!(["web"]));
    // Repeat: no-op, same answer.
    let again = w
        .call("PUT", p, Some(&w.all), Some(json!({"project": "web"})))
        .await;
    assert_eq!((again.status, &again.body), (200, &r.body));
    // Several projects may share it.
    let r = w
        .call("PUT", p, Some(&w.all), Some(json!({"project": "api"})))
        .await;
    assert_eq!(r.body["default_build_server_for"], json!(["api", "web"]));
    let r = w
        .call("GET", "/api/v1/orgs/acme/projects", Some(&w.all), None)
        .await;
    assert!(
        r.body["projects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["build_server"] == "circleci")
    );
    // A project has at most one build server: otherci takes over web.
    w.call(
        "PUT",
        "/api/v1/orgs/acme/integrations/otherci",
        Some(&w.all),
        Some(json!({"token": "good-o"})),
    )
    .await;
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/otherci/default-build-server",
            Some(&w.all),
            Some(json!({"project": "web"})),
        )
        .await;
    assert_eq!(r.body["default_build_server_for"], json!(["web"]));
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.body["default_build_server_for"], json!(["api"]));
    // DELETE: the project stops using it; repeat is fine; unknown project 404.
    let r = w
        .call("DELETE", &format!("{p}/api"), Some(&w.all), None)
        .await;
    assert_eq!(r.status, 204);
    let r = w
        .call("DELETE", &format!("{p}/api"), Some(&w.all), None)
        .await;
    assert_eq!(r.status, 204);
    let r = w
        .call("DELETE", &format!("{p}/ghost"), Some(&w.all), None)
        .await;
    assert_error(&r, 404, "project_not_found");
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.body["default_build_server_for"], json!([]));
    // Other org: 404.
    let r = w
        .call("PUT", p, Some(&w.other), Some(json!({"project": "web"})))
        .await;
    assert_error(&r, 404, "org_not_found");
}

#[tokio::test]
async fn deploy_registration_rules_and_reads() {
    let w = world().await;
    let reg = "/api/v1/orgs/acme/projects/web/deploys";
    let r = w
        .call("POST", reg, Some(&w.all), Some(json!({"sha": "abcdef1"})))
        .await;
    assert_error(&r, 404, "project_not_found");
    w.call(
        "POST",
        "/api/v1/orgs/acme/projects",
        Some(&w.all),
        Some(json!({"slug": "web", "name": "Web"})),
    )
    .await;
    let r = w
        .call("POST", reg, Some(&w.all), Some(json!({"sha": "abcdef1"})))
        .await;
    assert_error(&r, 409, "no_code_deployment");
    with_build_server_on_existing(&w).await;

    for bad in ["abc", "abcdefg", "a".repeat(41).as_str(), "abcdef1 "] {
        let r = w
            .call("POST", reg, Some(&w.deployer), Some(json!({"sha": bad})))
            .await;
        assert_error(&r, 400, "invalid_sha");
    }
    let r = w
        .call(
            "POST",
            reg,
            Some(&w.deployer),
            Some(json!({"sha": "abcdef1", "deployed_at": "yesterday"})),
        )
        .await;
    assert_error(&r, 400, "invalid_deployed_at");

    let before = ts::now();
    let r = w
        .call(
            "POST",
            reg,
            Some(&w.deployer),
            Some(json!({"sha": "ABCDEF1234"})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let d1 = r.body.clone();
    assert_eq!(d1["sha"], "abcdef1234");
    assert_eq!(d1["environment"], "production");
    assert_eq!(d1["project"], "web");
    assert_eq!(d1["code_deployment"], "main");
    let at = ts::parse(d1["deployed_at"].as_str().unwrap()).unwrap();
    assert!(at >= before - time::Duration::seconds(1) && at <= ts::now());
    assert_eq!(d1["builds"]["state"], "pending");
    assert_eq!(d1["builds"]["as_of"], d1["deployed_at"]);
    assert_eq!(d1["builds"]["provider"], "circleci");
    assert_eq!(d1["builds"]["build_project"], "gh/acme/web");
    assert_eq!(d1["builds"]["summary"], "none");
    assert_eq!(d1["builds"]["builds"], json!([]));
    assert_eq!(d1["builds"]["captured_at"], Value::Null);
    // The capture worker is woken ...
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        w.srv.capture_notify.notified(),
    )
    .await
    .expect("registration notifies the capture worker");
    // ... and the capture job is durable and queued.
    let job = w.srv.store.next_capture_job().unwrap().unwrap();
    assert_eq!(job.deploy_id, d1["id"].as_i64().unwrap());
    assert_eq!(
        (job.sha.as_str(), job.provider.as_str(), job.attempts),
        ("abcdef1234", "circleci", 1)
    );

    let r = w
        .call("POST", reg, Some(&w.all), Some(json!({"sha": "1234567", "environment": "staging", "deployed_at": "2024-05-01T14:00:00+02:00"})))
        .await;
    assert_eq!(r.status, 202);
    let d2 = r.body.clone();
    assert_eq!(d2["deployed_at"], "2024-05-01T12:00:00Z");
    assert_eq!(d2["environment"], "staging");

    // A second code deployment makes omission ambiguous.
    w.call(
        "POST",
        "/api/v1/orgs/acme/projects/web/code-deployments",
        Some(&w.all),
        Some(json!({"slug": "eu", "repo_url": "https://github.com/acme/web", "branch": "eu"})),
    )
    .await;
    let r = w
        .call(
            "POST",
            reg,
            Some(&w.deployer),
            Some(json!({"sha": "abcdef1"})),
        )
        .await;
    assert_error(&r, 422, "ambiguous_code_deployment");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("main, eu")
    );
    let r = w
        .call(
            "POST",
            reg,
            Some(&w.deployer),
            Some(json!({"sha": "abcdef1", "code_deployment": "nope"})),
        )
        .await;
    assert_error(&r, 422, "unknown_code_deployment");
    let r = w
        .call(
            "POST",
            reg,
            Some(&w.deployer),
            Some(json!({"sha": "fedcba9", "code_deployment": "eu"})),
        )
        .await;
    assert_eq!(r.status, 202);
    let d3 = r.body.clone();
    assert_eq!(d3["code_deployment"], "eu");
    assert_eq!(d3["builds"]["build_project"], Value::Null);

    // Project without build server: no_build_server, no capture job.
    w.call(
        "POST",
        "/api/v1/orgs/acme/projects",
        Some(&w.all),
        Some(json!({"slug": "docs", "name": "Docs"})),
    )
    .await;
    w.call(
        "POST",
        "/api/v1/orgs/acme/projects/docs/code-deployments",
        Some(&w.all),
        Some(json!({"slug": "main", "repo_url": "https://github.com/acme/docs", "branch": "main"})),
    )
    .await;
    // Consume the wake-up left by the pending registrations above.
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        w.srv.capture_notify.notified(),
    )
    .await
    .unwrap();
    let depth = w.srv.store.capture_queue_depth().unwrap();
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/docs/deploys",
            Some(&w.deployer),
            Some(json!({"sha": "0000000"})),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["builds"]["state"], "no_build_server");
    assert!(
        r.body["builds"]["explain"]
            .as_str()
            .unwrap()
            .contains("no build server")
    );
    assert_eq!(w.srv.store.capture_queue_depth().unwrap(), depth);
    let woken = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        w.srv.capture_notify.notified(),
    )
    .await;
    assert!(woken.is_err(), "no capture, no wake-up");
    let d4 = r.body.clone();

    // Reads: newest deployed_at first (d2 is in 2024, so last).
    let r = w
        .call("GET", "/api/v1/orgs/acme/deploys", Some(&w.all), None)
        .await;
    let ids: Vec<i64> = r.body["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [&d4, &d3, &d1, &d2].map(|d| d["id"].as_i64().unwrap()));
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/deploys?project=web&limit=2",
            Some(&w.all),
            None,
        )
        .await;
    let ids: Vec<i64> = r.body["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [&d3, &d1].map(|d| d["id"].as_i64().unwrap()));
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/deploys?limit=0",
            Some(&w.all),
            None,
        )
        .await;
    assert_error(&r, 400, "invalid_limit");
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/deploys?project=ghost",
            Some(&w.all),
            None,
        )
        .await;
    assert_error(&r, 404, "project_not_found");
    let id1 = d1["id"].as_i64().unwrap();
    let r = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{id1}"),
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!((r.status, &r.body), (200, &d1));
    let r = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{id1}/builds"),
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!((r.status, &r.body), (200, &d1["builds"]));
    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/deploys/999999",
            Some(&w.all),
            None,
        )
        .await;
    assert_error(&r, 404, "deploy_not_found");
    let r = w
        .call("GET", "/api/v1/orgs/acme/deploys/abc", Some(&w.all), None)
        .await;
    assert_error(&r, 404, "deploy_not_found");

    // Isolation: globex cannot read acme's deploy, even by id through its own org.
    let r = w
        .call(
            "GET",
            &format!("/api/v1/orgs/globex/deploys/{id1}"),
            Some(&w.other),
            None,
        )
        .await;
    assert_error(&r, 404, "deploy_not_found");
    let r = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{id1}/builds"),
            Some(&w.other),
            None,
        )
        .await;
    assert_error(&r, 404, "org_not_found");
    let r = w
        .call("GET", "/api/v1/orgs/globex/deploys", Some(&w.other), None)
        .await;
    assert_eq!(r.body["deploys"], json!([]));

    // GET builds returns the stored final snapshot once the worker wrote it.
    let written = vec![frozen("wf-1", Status::Success)];
    let builds = serde_json::to_value(&written).unwrap();
    let fin = FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(Status::Success),
        builds: written,
        explain: None,
        build_project: None,
        captured_at: ts::now(),
    };
    assert!(w.srv.store.finish_capture(id1, &fin).unwrap());
    let r = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{id1}/builds"),
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.body["state"], "complete");
    assert_eq!(r.body["summary"], "success");
    assert_eq!(r.body["builds"], builds);
    assert_eq!(r.body["build_project"], "gh/acme/web");
    assert!(r.body["captured_at"].is_string());
}

async fn with_build_server_on_existing(w: &World) {
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

#[tokio::test]
async fn disable_semantics() {
    let w = world().await;
    with_build_server(&w).await;
    let reg = "/api/v1/orgs/acme/projects/web/deploys";
    let done = w
        .call("POST", reg, Some(&w.all), Some(json!({"sha": "aaaaaaa"})))
        .await
        .body;
    let pending = w
        .call("POST", reg, Some(&w.all), Some(json!({"sha": "bbbbbbb"})))
        .await
        .body;
    let fin = FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(Status::Failed),
        builds: vec![frozen("wf-9", Status::Failed)],
        explain: None,
        build_project: None,
        captured_at: ts::now(),
    };
    w.srv
        .store
        .finish_capture(done["id"].as_i64().unwrap(), &fin)
        .unwrap();
    let before = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{}/builds", done["id"]),
            Some(&w.all),
            None,
        )
        .await
        .body;

    let r = w
        .call(
            "DELETE",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.deployer),
            None,
        )
        .await;
    assert_error(&r, 403, "forbidden");
    let r = w
        .call(
            "DELETE",
            "/api/v1/orgs/acme/integrations/nope",
            Some(&w.all),
            None,
        )
        .await;
    assert_error(&r, 404, "unknown_provider");
    let r = w
        .call(
            "DELETE",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    // The host hears of it (to end in-flight calls), once, after the
    // refused attempts above told it nothing.
    assert_eq!(
        *w.srv.services.disabled.lock().unwrap(),
        vec![("acme".to_string(), "circleci".to_string())]
    );

    let r = w
        .call(
            "GET",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["account"], Value::Null);
    assert_eq!(r.body["default_build_server_for"], json!([]));
    assert!(
        w.srv
            .store
            .integration_token("acme", "circleci")
            .unwrap()
            .is_none(),
        "token erased"
    );
    let r = w
        .call("GET", "/api/v1/orgs/acme/projects", Some(&w.all), None)
        .await;
    assert_eq!(r.body["projects"][0]["build_server"], Value::Null);
    // Captured snapshot stays readable and unchanged.
    let after = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{}/builds", done["id"]),
            Some(&w.all),
            None,
        )
        .await
        .body;
    assert_eq!(before, after);
    assert_eq!(after["state"], "complete");
    // The pending capture will make no provider call: its job is done, snapshot says why.
    let r = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{}/builds", pending["id"]),
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.body["state"], "error");
    assert!(r.body["explain"].as_str().unwrap().contains("disabled"));
    assert!(w.srv.store.next_capture_job().unwrap().is_none());
    assert_eq!(w.srv.store.capture_queue_depth().unwrap(), 0);
    // New deploys: no build server.
    let r = w
        .call("POST", reg, Some(&w.all), Some(json!({"sha": "ccccccc"})))
        .await;
    assert_eq!(r.body["builds"]["state"], "no_build_server");
    // Setting it as build server again needs it enabled.
    let r = w
        .call(
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci/default-build-server",
            Some(&w.all),
            Some(json!({"project": "web"})),
        )
        .await;
    assert_error(&r, 409, "integration_disabled");
    // Disabling again is a no-op.
    let r = w
        .call(
            "DELETE",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn body_limit_413() {
    let w = world().await;
    let big = "x".repeat(buildsnap_api::MAX_BODY_BYTES + 10);
    let r =
        w.c.post(w.url("/api/v1/orgs/acme/projects"))
            .bearer_auth(&w.all)
            .header("content-type", "application/json")
            .body(format!("{{\"slug\":\"a\",\"name\":\"{big}\"}}"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 413);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "payload_too_large");

    // Chunked (no Content-Length): the limit applies while reading.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = w.srv.base.trim_start_matches("http://").to_string();
    let (mut rd, mut wr) = tokio::net::TcpStream::connect(&addr)
        .await
        .unwrap()
        .into_split();
    let head = format!(
        "POST /api/v1/orgs/acme/projects HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        w.all
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 256 * 1024];
        for _ in 0..5 {
            let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
            c.extend_from_slice(&chunk);
            c.extend_from_slice(b"\r\n");
            wr.write_all(&c).await?;
        }
        wr.write_all(b"0\r\n\r\n").await
    });
    // Read while writing, so the answer is taken in before the server closes
    // the connection on the unread rest of the body.
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = rd.read(&mut buf).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(17).any(|x| x == b"payload_too_large") {
            break;
        }
    }
    let _ = writer.await; // may fail with a reset: the server stopped reading
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload_too_large"));

    // Just under the limit is read (unknown fields are ignored).
    let head = "{\"slug\":\"a\",\"name\":\"A\",\"pad\":\"";
    let pad = "x".repeat(buildsnap_api::MAX_BODY_BYTES - head.len() - 2);
    let body = format!("{head}{pad}\"}}");
    assert_eq!(body.len(), buildsnap_api::MAX_BODY_BYTES);
    let r =
        w.c.post(w.url("/api/v1/orgs/acme/projects"))
            .bearer_auth(&w.all)
            .body(body)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn webhooks_delegate_to_providers() {
    let w = world().await;
    let post = |p: &str, sig: &str| {
        w.c.post(w.url(p))
            .header("circleci-signature", sig.to_string())
            .body("{\"type\":\"workflow-completed\"}")
            .send()
    };
    let r = post("/api/v1/webhooks/nope/acme", "v1=valid")
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unknown_provider"
    );
    // An unknown org is answered like a bad signature (tests/hostile.rs).
    let r = post("/api/v1/webhooks/circleci/nope", "v1=valid")
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "bad_signature"
    );
    let r = post("/api/v1/webhooks/circleci/acme", "v1=forged")
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "bad_signature"
    );
    let r = post("/api/v1/webhooks/circleci/acme", "v1=unsupported")
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], false);
    let r = post("/api/v1/webhooks/circleci/acme", "v1=valid")
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"accepted": true, "id": "acme-29", "kind": "workflow-completed", "duplicate": false})
    );
}

#[tokio::test]
async fn restart_on_same_data_dir_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let srv = Server::start(dir.path()).await;
    let r = call(
        &c,
        "POST",
        &format!("{}/api/v1/orgs", srv.base),
        Some(ADMIN),
        Some(json!({"slug": "acme", "name": "Acme"})),
    )
    .await;
    assert_eq!(r.status, 201);
    let t = token(&c, &srv.base, "acme", ADMIN, "all").await;
    let b = srv.base.clone();
    call(
        &c,
        "POST",
        &format!("{b}/api/v1/orgs/acme/projects"),
        Some(&t),
        Some(json!({"slug": "web", "name": "Web"})),
    )
    .await;
    call(
        &c,
        "POST",
        &format!("{b}/api/v1/orgs/acme/projects/web/code-deployments"),
        Some(&t),
        Some(json!({"slug": "main", "repo_url": "https://github.com/acme/web", "branch": "main"})),
    )
    .await;
    call(
        &c,
        "PUT",
        &format!("{b}/api/v1/orgs/acme/integrations/circleci"),
        Some(&t),
        Some(json!({"token": "good-persist"})),
    )
    .await;
    call(
        &c,
        "PUT",
        &format!("{b}/api/v1/orgs/acme/integrations/circleci/default-build-server"),
        Some(&t),
        Some(json!({"project": "web"})),
    )
    .await;
    let d = call(
        &c,
        "POST",
        &format!("{b}/api/v1/orgs/acme/projects/web/deploys"),
        Some(&t),
        Some(json!({"sha": "abcdef1"})),
    )
    .await
    .body;
    srv.stop().await;
    // The old server is gone.
    assert!(c.get(format!("{b}/healthz")).send().await.is_err());

    let srv = Server::start(dir.path()).await;
    let b = srv.base.clone();
    let r = call(
        &c,
        "GET",
        &format!("{b}/api/v1/orgs/acme/deploys/{}", d["id"]),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &d),
        "org token and deploy survive a restart"
    );
    let r = call(
        &c,
        "GET",
        &format!("{b}/api/v1/orgs/acme/integrations/circleci"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.body["enabled"], true);
    assert_eq!(r.body["default_build_server_for"], json!(["web"]));
    let (_, tok) = srv
        .store
        .integration_token("acme", "circleci")
        .unwrap()
        .unwrap();
    assert_eq!(tok.expose(), "good-persist");
    // The pending capture is still queued for the worker.
    assert_eq!(
        srv.store.next_capture_job().unwrap().unwrap().deploy_id,
        d["id"].as_i64().unwrap()
    );
    srv.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let w = world().await;
    let mut w = w;
    let c = w.c.clone();
    let url = w.url("/api/v1/orgs/acme/integrations/circleci");
    let all = w.all.clone();
    // slow- tokens take 800 ms to validate.
    let slow = tokio::spawn(async move {
        call(
            &c,
            "PUT",
            &url,
            Some(&all),
            Some(json!({"token": "slow-token"})),
        )
        .await
    });
    // Wait until the request is inside the provider call (in flight).
    let t0 = std::time::Instant::now();
    while w
        .srv
        .services
        .validations
        .load(std::sync::atomic::Ordering::SeqCst)
        == 0
    {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(10),
            "request never reached the provider"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let serving = w.srv.trigger_shutdown();
    let r = slow.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["enabled"], true);
    tokio::time::timeout(std::time::Duration::from_secs(5), serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // No longer accepting.
    let fresh = client();
    assert!(fresh.get(w.url("/healthz")).send().await.is_err());
    w.c = fresh;
}
