//! Contract 0.2.0 items the GitHub Actions plugin does not use, through the
//! real host (`serve::start`, plugins folder, HTTP API) with a real 0.2.0
//! guest (`tests/plugins/probe`): the call context in `token-help-url` and
//! `project-for-repo`, `list-projects` paged by cursor with a query, a
//! child build's `parent_id` and `attempt`, and a shared-token webhook
//! verified by the host whose single-job update reaches the index, and a
//! rate limit only the plugin recognises (`rate-limited` with an `until`)
//! holding every request of the integration until it ends. Beside it the
//! built-in plugins and a 0.1.0 guest load: 0.1.0 and 0.2.0 side by side.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use buildsnap::runtime::CallError;
use buildsnap::runtime::Registry;
use buildsnap::runtime::origin::AllowList;
use buildsnap::runtime::plugin::ProviderErrorText;
use buildsnap::runtime::wit::latest::provider::Horizon;
use buildsnap::runtime::wit::{ProjectQuery, ProviderError, SyncRequest};
use buildsnap::runtime::{Credential, Integration};
use buildsnap::serve;
use buildsnap::settings::Settings;
use serde_json::{Value, json};

const SECRET: &str = "probe-shared-token";
/// Never contacted: the probe makes no request. Granted because a
/// plugins-folder plugin reaches nothing the operator did not grant.
const SERVER: &str = "http://127.0.0.1:9";
const SHA: &str = "abcdef0123456789abcdef0123456789abcdef01";

#[path = "capture_support/mod.rs"]
mod capture_support;
#[path = "support/mod.rs"]
mod support;

use capture_support::{ADMIN, Api};

fn probe() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/plugins/dist/probe.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (cargo xtask plugins)", path.display()))
}

#[tokio::test]
async fn the_call_context_reaches_token_help_url_and_list_projects_pages() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probe.wasm"), probe()).unwrap();
    std::fs::write(dir.path().join("echo.wasm"), support::guest("echo")).unwrap();
    let registry = Registry::builder()
        .plugins_dir(dir.path())
        .grants(AllowList::parse(SERVER).unwrap())
        .build()
        .await
        .unwrap();
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    let plugins: Vec<_> = registry.plugins().collect();
    let mut versions: Vec<(&str, &str)> = plugins
        .iter()
        .map(|p| (p.id(), p.info.api_version.as_str()))
        .collect();
    versions.sort();
    assert_eq!(
        versions,
        [
            ("circleci", "0.2.0"),
            ("echo", "0.1.0"),
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

#[tokio::test]
async fn a_plugins_own_rate_limit_holds_every_request_of_the_integration_until_it_ends() {
    let server = support::TestServer::start(|_| support::respond(200, "{}")).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probe.wasm"), probe()).unwrap();
    let registry = Registry::builder()
        .plugins_dir(dir.path())
        .builtin(false)
        .grants(AllowList::parse(&server.origin()).unwrap())
        .build()
        .await
        .unwrap();
    let plugin = registry.get("probe").unwrap();
    let integration = |org: &str| Integration {
        org: Some(org.into()),
        base_url: server.url("/api/v4").parse().unwrap(),
        settings: vec![("ping-url".into(), server.url("/ping"))],
        credential: Some(Credential::new("tok")),
    };
    let acme = integration("acme");
    let started = Instant::now();
    let sync = SyncRequest {
        project: "limited".into(),
        cursor: None,
        horizon: Horizon {
            max_pipelines: 10,
            not_before: None,
        },
        refresh: Vec::new(),
    };
    match plugin.sync(&acme, &sync).await {
        Err(CallError::Provider(ProviderErrorText(ProviderError::RateLimited(r)))) => {
            assert!(r.until.is_some(), "{r:?}");
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert!(
        server.seen().is_empty(),
        "the limit came from the plugin alone"
    );

    // Another org's integration is not held: its request goes at once.
    plugin
        .validate_credentials(&integration("other"))
        .await
        .unwrap();
    let first = server.seen();
    assert_eq!(first.len(), 1);
    assert!(first[0].at < started + Duration::from_millis(1_000));

    // The same integration's next call, of another kind, waits out the
    // pause the plugin named before its request goes.
    plugin.validate_credentials(&acme).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].at >= started + Duration::from_millis(1_400),
        "sent {:?} after the limit",
        seen[1].at - started
    );
}

/// A webhook to the probe's endpoint with its shared token and delivery id.
async fn hook(api: &Api, token: &str, delivery: &str, body: &str) -> (u16, Value) {
    let resp = api
        .http
        .post(format!("{}/api/v1/webhooks/probe/acme", api.base))
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
    let api = Api::new(server.addr);
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
    let (s, v) = hook(&api, "not-the-token", "d-0", &body).await;
    assert_eq!(s, 401, "{v}");
    let (_, s2) = api.call(M::GET, &path, None).await;
    assert!(s2["builds"][1]["current_status"].is_null(), "{s2}");
    // The right one: the job update makes the running child failing.
    let (s, v) = hook(&api, SECRET, "d-1", &body).await;
    assert!((200..300).contains(&s), "{s} {v}");
    assert_eq!(v["duplicate"], false, "{v}");
    let (s, v) = hook(&api, SECRET, "d-1", &body).await;
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
