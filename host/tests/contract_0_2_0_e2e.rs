//! Contract 0.2.0 items the GitHub Actions plugin does not use, through the
//! real host (`serve::start`, plugins folder, HTTP API) with a real 0.2.0
//! guest (`tests/plugins/probe`): the call context in `token-help-url` and
//! `project-for-repo`, `list-projects` paged by cursor with a query, a
//! child build's `parent_id` and `attempt`, and a shared-token webhook
//! verified by the host whose single-job update reaches the index. Beside
//! it the built-in plugins load: 0.1.0 and 0.2.0 side by side.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use buildsnap::runtime::Registry;
use buildsnap::runtime::origin::AllowList;
use buildsnap::runtime::wit::ProjectQuery;
use buildsnap::runtime::{Credential, Integration};
use buildsnap::serve;
use buildsnap::settings::Settings;
use serde_json::{Value, json};

const ADMIN: &str = "probe-e2e-admin-token-0123456789";
const SECRET: &str = "probe-shared-token";
/// Never contacted: the probe makes no request. Granted because a
/// plugins-folder plugin reaches nothing the operator did not grant.
const SERVER: &str = "http://127.0.0.1:9";
const SHA: &str = "abcdef0123456789abcdef0123456789abcdef01";

fn probe() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/dist/probe.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (cargo xtask plugins)", path.display()))
}

#[tokio::test]
async fn the_call_context_reaches_token_help_url_and_list_projects_pages() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probe.wasm"), probe()).unwrap();
    let registry = Registry::builder()
        .plugins_dir(dir.path())
        .grants(AllowList::parse(SERVER).unwrap())
        .build()
        .await
        .unwrap();
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    let versions: Vec<(&str, &str)> = registry
        .plugins()
        .map(|p| (p.id(), p.info.api_version.as_str()))
        .collect();
    assert_eq!(
        versions,
        [
            ("circleci", "0.1.0"),
            ("github-actions", "0.2.0"),
            ("probe", "0.2.0")
        ]
    );
    let plugin = registry.get("probe").unwrap();
    // At load, with the default base URL; per integration, on its server.
    assert_eq!(
        plugin.info.token_help_url,
        "https://probe.invalid/-/user_settings/personal_access_tokens"
    );
    let integration = Integration {
        org: Some("acme".into()),
        base_url: format!("{SERVER}/api/v4").parse().unwrap(),
        settings: Vec::new(),
        credential: Some(Credential::new("tok")),
    };
    assert_eq!(
        plugin.token_help_url(&integration).await.unwrap(),
        format!("{SERVER}/-/user_settings/personal_access_tokens")
    );
    assert_eq!(
        plugin
            .project_for_repo(
                Some(&format!("{SERVER}/api/v4")),
                &format!("{SERVER}/group/api")
            )
            .await
            .unwrap()
            .as_deref(),
        Some("group/api")
    );
    // Paged: two at a time, with a query, following the cursor.
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = plugin
            .list_projects(
                &integration,
                &ProjectQuery {
                    search: Some("api".into()),
                    cursor: cursor.clone(),
                    limit: 1,
                },
            )
            .await
            .unwrap();
        seen.extend(page.projects.into_iter().map(|p| p.slug));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["group/api", "tools/api-kit"]);
    let all = plugin.all_projects(&integration).await.unwrap();
    assert_eq!(all.len(), 5);
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (s, v) = self.call(method.clone(), path, Some(body)).await;
        assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
        v
    }

    async fn hook(&self, token: &str, delivery: &str, body: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/api/v1/webhooks/probe/acme", self.base))
            .header("x-probe-token", token)
            .header("x-probe-delivery", delivery)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[tokio::test]
async fn a_child_build_keeps_its_parent_and_a_shared_token_webhook_updates_one_job() {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::write(plugins.join("probe.wasm"), probe()).unwrap();
    let settings = Settings::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir.path().join("data"))
        .plugins_dir(Some(plugins))
        .allow_hosts(SERVER)
        .admin_token(Some(ADMIN.into()))
        .sync_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let server = serve::start(settings).await.unwrap();
    let api = Api {
        base: format!("http://{}", server.addr),
        http: reqwest::Client::new(),
    };
    api.ok(
        M::POST,
        "/api/v1/orgs",
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await;
    api.ok(
        M::POST,
        "/api/v1/orgs/acme/projects",
        json!({"slug": "api", "name": "API"}),
    )
    .await;
    // No build project: the probe derives it from a repository on the
    // integration's own server.
    api.ok(
        M::POST,
        "/api/v1/orgs/acme/projects/api/code-deployments",
        json!({"slug": "prod", "repo_url": format!("{SERVER}/group/api"), "branch": "main"}),
    )
    .await;
    let v = api
        .ok(
            M::PUT,
            "/api/v1/orgs/acme/integrations/probe",
            json!({"token": "tok", "base_url": format!("{SERVER}/api/v4"), "webhook_secret": SECRET}),
        )
        .await;
    assert!(!v.to_string().contains(SECRET), "{v}");
    api.ok(
        M::PUT,
        "/api/v1/orgs/acme/integrations/probe/default-build-server",
        json!({"project": "api"}),
    )
    .await;
    let d = api
        .ok(
            M::POST,
            "/api/v1/orgs/acme/projects/api/deploys",
            json!({"sha": SHA, "environment": "production"}),
        )
        .await;
    let id = d["id"].as_i64().unwrap();
    let path = format!("/api/v1/orgs/acme/deploys/{id}/builds");
    let deadline = Instant::now() + Duration::from_secs(30);
    let snap = loop {
        let (_, s) = api.call(M::GET, &path, None).await;
        if s["state"] != "pending" {
            break s;
        }
        assert!(Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(snap["build_project"], "group/api", "{snap}");
    let child = snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "child-1")
        .unwrap_or_else(|| panic!("{snap}"));
    assert_eq!(child["parent_id"], "parent-1", "{snap}");
    assert_eq!(child["attempt"], 2, "{snap}");
    let parent = snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "parent-1")
        .unwrap();
    assert!(
        parent["parent_id"].is_null() && parent["attempt"].is_null(),
        "{snap}"
    );

    // A wrong shared token is refused by the host (the probe refuses any
    // delivery the host did not verify, so a 401 from either would do; the
    // index below shows nothing was applied).
    let body = format!("child-1 {SHA} test failed");
    let (s, v) = api.hook("not-the-token", "d-0", &body).await;
    assert_eq!(s, 401, "{v}");
    let (_, s2) = api.call(M::GET, &path, None).await;
    assert!(s2["builds"][1]["current_status"].is_null(), "{s2}");
    // The right one: the job update makes the running child failing.
    let (s, v) = api.hook(SECRET, "d-1", &body).await;
    assert!((200..300).contains(&s), "{s} {v}");
    assert_eq!(v["duplicate"], false, "{v}");
    let (s, v) = api.hook(SECRET, "d-1", &body).await;
    assert!((200..300).contains(&s) && v["duplicate"] == true, "{s} {v}");
    let (_, snap) = api.call(M::GET, &path, None).await;
    let child = snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "child-1")
        .unwrap();
    assert_eq!(
        child["status"], "running",
        "the snapshot never changes: {snap}"
    );
    assert_eq!(child["current_status"], "failing", "{snap}");
    server.stop().await.unwrap();
}
