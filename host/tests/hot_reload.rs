//! The plugins folder reloads while the server runs: a component dropped
//! in is served without a restart, a broken replacement is refused while
//! the loaded version keeps serving, a changed one is swapped in (the
//! precompiled cache reused when bytes come back), a removed one is
//! unloaded and its integrations need attention until it is back; SIGHUP
//! reloads when file watching is off; calls in flight during swaps all end
//! with a result. Real server (`serve::start`), real guest (`echo`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use buildsnap::runtime::cache::sha256_hex;
use buildsnap::runtime::{FileState, Registry};
use buildsnap::serve;
use buildsnap::settings::Settings;
use serde_json::{Value, json};

#[path = "capture_support/mod.rs"]
mod capture_support;
#[path = "support/mod.rs"]
mod support;

use capture_support::{ADMIN, Api};

/// `echo` with an extra custom section: the same plugin, other bytes.
fn echo_changed() -> Vec<u8> {
    let mut bytes = support::guest("echo");
    bytes.extend_from_slice(&[0, 4, 1, b'x', 1, 2]);
    bytes
}

/// Polls `GET /api/v1/providers` until `done` holds (10 s at most).
async fn providers_until(api: &Api, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = api.get("/api/v1/providers").await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "waiting for {what}: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn provider<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
}

fn file(v: &Value) -> &Value {
    &v["plugin_files"][0]
}

async fn start(plugins: &Path, data: &Path, grant: &str, watch: bool) -> serve::Server {
    let settings = Settings::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(data)
        .plugins_dir(Some(plugins.to_path_buf()))
        .watch_plugins(watch)
        .allow_hosts(grant)
        .admin_token(Some(ADMIN.into()))
        .sync_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    serve::start(settings).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_dropped_in_is_served_replaced_refused_and_removed_without_a_restart() {
    let account = support::TestServer::start(|_| support::respond(200, "Echo Account")).await;
    let origin = format!("http://127.0.0.1:{}", account.port);
    let (plugins, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = start(plugins.path(), data.path(), &origin, true).await;
    let api = Api::new(server.addr);
    let v = api.get("/api/v1/providers").await;
    assert!(provider(&v, "echo").is_none(), "{v}");
    assert_eq!(v["plugin_files"], json!([]));

    // Dropped in: served, compiled (the cache had nothing).
    let echo = support::guest("echo");
    let path = plugins.path().join("echo.wasm");
    std::fs::write(&path, &echo).unwrap();
    let v = providers_until(&api, "echo loaded", |v| file(v)["state"] == "loaded").await;
    assert_eq!(provider(&v, "echo").unwrap()["status"], "ok");
    let f = file(&v);
    assert_eq!(f["path"], path.display().to_string());
    assert_eq!(
        (f["provider"].as_str(), f["cache"].as_str()),
        (Some("echo"), Some("miss"))
    );
    assert_eq!(f["serving_sha256"], sha256_hex(&echo));
    assert_eq!(f["last_error"], Value::Null);

    // An integration on it works.
    api.ok(
        reqwest::Method::POST,
        "/api/v1/orgs",
        json!({"slug": "acme"}),
    )
    .await;
    let v = api
        .ok(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/integrations/echo",
            json!({"token": "echo-token-0123", "base_url": origin}),
        )
        .await;
    assert_eq!(v["account"]["name"], "Echo Account");

    // A truncated replacement is refused; the loaded version keeps serving.
    std::fs::write(&path, &echo[..echo.len() / 2]).unwrap();
    let v = providers_until(&api, "refusal", |v| file(v)["state"] == "refused").await;
    let f = file(&v);
    assert!(
        f["last_error"]
            .as_str()
            .unwrap()
            .contains("not a valid WebAssembly component"),
        "{f}"
    );
    assert_eq!(f["provider"], "echo");
    assert_eq!(f["serving_sha256"], sha256_hex(&echo));
    assert_eq!(f["sha256"], sha256_hex(&echo[..echo.len() / 2]));
    assert_eq!(provider(&v, "echo").unwrap()["status"], "ok");
    let again = api
        .ok(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/integrations/echo",
            json!({"token": "echo-token-0123", "base_url": origin}),
        )
        .await;
    assert_eq!(again["status"], "ok");

    // A changed file is swapped in; the first bytes back come from the cache.
    let changed = echo_changed();
    std::fs::write(&path, &changed).unwrap();
    providers_until(&api, "the changed bytes", |v| {
        file(v)["serving_sha256"] == sha256_hex(&changed)
    })
    .await;
    std::fs::write(&path, &echo).unwrap();
    let v = providers_until(&api, "the first bytes again", |v| {
        file(v)["serving_sha256"] == sha256_hex(&echo)
    })
    .await;
    assert_eq!(file(&v)["state"], "loaded");
    assert_eq!(file(&v)["cache"], "hit", "{v}");

    // Removed: unloaded, and its integration needs attention until it is back.
    std::fs::remove_file(&path).unwrap();
    let v = providers_until(&api, "removal", |v| file(v)["state"] == "removed").await;
    assert_eq!(provider(&v, "echo").unwrap()["status"], "not_loaded");
    assert_eq!(file(&v)["provider"], Value::Null);
    assert!(server.registry.get("echo").is_none());
    let i = api.get("/api/v1/orgs/acme/integrations/echo").await;
    assert_eq!(i["status"], "needs_attention", "{i}");
    assert!(i["last_error"].as_str().unwrap().contains("removed"), "{i}");
    // Enabling it needs the plugin: refused, the stored integration kept.
    let (status, v) = api
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/integrations/echo",
            Some(json!({"token": "echo-token-0123", "base_url": origin})),
        )
        .await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (409, &json!("provider_not_loaded")),
        "{v}"
    );
    assert_eq!(
        api.get("/api/v1/orgs/acme/integrations/echo").await["enabled"],
        true
    );
    std::fs::write(&path, &echo).unwrap();
    let v = providers_until(&api, "echo back", |v| file(v)["state"] == "loaded").await;
    assert_eq!(provider(&v, "echo").unwrap()["status"], "ok");
    let i = api.get("/api/v1/orgs/acme/integrations/echo").await;
    assert_eq!(
        (i["status"].as_str(), &i["last_error"]),
        (Some("ok"), &Value::Null)
    );
    server.stop().await.unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_file_watching_off_sighup_reloads_the_folder() {
    let (plugins, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = start(plugins.path(), data.path(), "", false).await;
    let api = Api::new(server.addr);
    std::fs::write(plugins.path().join("echo.wasm"), support::guest("echo")).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let v = providers_until(&api, "echo loaded by SIGHUP", |v| {
        provider(v, "echo").is_some()
    })
    .await;
    assert_eq!(file(&v)["state"], "loaded");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_during_swaps_all_end_with_a_result() {
    let plugins = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let path = plugins.path().join("echo.wasm");
    let versions = [support::guest("echo"), echo_changed()];
    std::fs::write(&path, &versions[0]).unwrap();
    let registry = Arc::new(
        Registry::builder()
            .builtin(false)
            .cache_dir(cache.path())
            .plugins_dir(plugins.path())
            .build()
            .await
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (registry, stop) = (registry.clone(), stop.clone());
            tokio::spawn(async move {
                // (sha of the plugin that served, whether it answered)
                let mut served = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let plugin = registry.get("echo").expect("echo is always loaded");
                    let answer = plugin.describe().await;
                    served.push((plugin.info.sha256.clone(), answer.map(|d| d.id)));
                }
                served
            })
        })
        .collect();
    for round in 1..=10 {
        std::fs::write(&path, &versions[round % 2]).unwrap();
        let report = registry.reload().await.unwrap();
        assert_eq!(report.loaded.len(), 1, "round {round}: {report:?}");
        assert_eq!(
            registry.get("echo").unwrap().info.sha256,
            sha256_hex(&versions[round % 2])
        );
    }
    stop.store(true, Ordering::SeqCst);
    let mut by_version = [0usize; 2];
    for caller in callers {
        for (sha, answer) in caller.await.unwrap() {
            assert_eq!(answer.as_deref().map_err(|e| e.to_string()), Ok("echo"));
            let v = versions.iter().position(|b| sha256_hex(b) == sha).unwrap();
            by_version[v] += 1;
        }
    }
    assert!(by_version.iter().all(|&n| n > 0), "{by_version:?}");
    let files = registry.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].state, FileState::Loaded);
}
