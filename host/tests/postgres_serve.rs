//! `buildsnap serve --database-url`: the real binary keeps its state in a
//! throwaway PostgreSQL database (host/pg-cluster; skipped loudly without
//! PostgreSQL binaries, failing when `CI` is set): a deploy registered over
//! the HTTP API survives a restart, no SQLite file appears in the data dir,
//! a second server on the same database serves beside the first (both see
//! what either wrote), and the starts that must be refused are (no secret
//! key, a wrong one).

#[path = "support/ports.rs"]
mod ports;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use buildsnap_pg_cluster::PgCluster;
use ports::free_port;
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-for-postgres-serve";
const KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";
const WRONG_KEY: &str = "1717171717171717171717171717171717171717171717171717171717171717";

/// `buildsnap serve` on `url`, with `key` (none: no key at all).
fn serve(url: &str, key: Option<&str>, dir: &Path, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_buildsnap"));
    c.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(dir)
    .args(["--database-url", url])
    .args(["--admin-token", ADMIN, "--sync-interval", "0"])
    .env_remove("BUILDSNAP_SECRET_KEY")
    .env_remove("BUILDSNAP_DATABASE_URL");
    if let Some(key) = key {
        c.env("BUILDSNAP_SECRET_KEY", key);
    }
    c
}

fn spawn(url: &str, dir: &Path, port: u16, log: &str) -> Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    serve(url, Some(KEY), dir, port)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn buildsnap")
}

/// Waits until the server on `port` answers `/healthz`.
fn wait_healthy(child: &mut Child, port: u16, dir: &Path, log: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
            panic!("buildsnap exited ({status}) before serving: {log}");
        }
        if healthy(port) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for /healthz");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `/healthz` on `port` answers 200.
fn healthy(port: u16) -> bool {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        match client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            Ok(r) => r.status() == 200,
            Err(_) => false,
        }
    })
}

/// A refused start: its exit status is not success, its stderr is returned.
fn refused(mut c: Command) -> String {
    let out: Output = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run buildsnap");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "should have been refused: {err}");
    err
}

async fn call(port: u16, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{port}{path}");
    let req = match method {
        "POST" => client.post(&url).json(&body.unwrap_or(json!({}))),
        _ => client.get(&url),
    };
    let r = req.bearer_auth(token).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

#[test]
fn serve_keeps_its_state_in_postgres_beside_a_second_replica() {
    let Some(cluster) = PgCluster::start().expect("starting a PostgreSQL cluster") else {
        return;
    };
    let url = cluster.create_database("postgres_serve").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rt = tokio::runtime::Runtime::new().unwrap();

    // No key: refused before anything is written, naming the setting.
    let err = refused(serve(&url, None, dir, free_port()));
    assert!(err.contains("BUILDSNAP_SECRET_KEY"), "{err}");
    assert!(!dir.join("secret.key").exists(), "no key file made");

    let port = free_port();
    let mut first = spawn(&url, dir, port, "first.log");
    wait_healthy(&mut first, port, dir, "first.log");
    let (token, id) = rt.block_on(async {
        call(port, "POST", "/api/v1/orgs", ADMIN, Some(json!({"slug": "acme"}))).await;
        let token = call(
            port,
            "POST",
            "/api/v1/orgs/acme/tokens",
            ADMIN,
            Some(json!({"name": "t", "scope": "all"})),
        )
        .await["token"]
            .as_str()
            .unwrap()
            .to_string();
        call(
            port,
            "POST",
            "/api/v1/orgs/acme/projects",
            &token,
            Some(json!({"slug": "web"})),
        )
        .await;
        call(
            port,
            "POST",
            "/api/v1/orgs/acme/projects/web/code-deployments",
            &token,
            Some(json!({"slug": "main", "repo_url": "https://github.com/acme/web", "branch": "main"})),
        )
        .await;
        let d = call(
            port,
            "POST",
            "/api/v1/orgs/acme/projects/web/deploys",
            &token,
            Some(json!({"sha": "abcdef1", "environment": "staging"})),
        )
        .await;
        let id = d["id"].as_i64().unwrap();
        let back = call(port, "GET", &format!("/api/v1/orgs/acme/deploys/{id}"), &token, None).await;
        assert_eq!((back["sha"].as_str(), back["environment"].as_str()), (Some("abcdef1"), Some("staging")));
        (token, id)
    });

    // A second server on the same database (its own data dir, as on
    // another machine) serves while the first does: each sees what the
    // other wrote.
    let other = tempfile::tempdir().unwrap();
    let other_port = free_port();
    let mut replica = spawn(&url, other.path(), other_port, "replica.log");
    wait_healthy(&mut replica, other_port, other.path(), "replica.log");
    rt.block_on(async {
        let back = call(
            other_port,
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(back["sha"].as_str(), Some("abcdef1"));
        let d = call(
            other_port,
            "POST",
            "/api/v1/orgs/acme/projects/web/deploys",
            &token,
            Some(json!({"sha": "abcdef2"})),
        )
        .await;
        let id2 = d["id"].as_i64().unwrap();
        let back = call(
            port,
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{id2}"),
            &token,
            None,
        )
        .await;
        assert_eq!(
            back["sha"].as_str(),
            Some("abcdef2"),
            "written by the replica, read by the first"
        );
    });
    replica.kill().unwrap();
    replica.wait().unwrap();

    // A clean stop (SIGTERM): exits 0, its PostgreSQL connections closed
    // (off the async workers).
    let status = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = first.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join("first.log")).unwrap_or_default();
            assert!(status.success(), "{status:?}: {log}");
            assert!(!log.contains("panicked"), "{log}");
            break;
        }
        assert!(Instant::now() < deadline, "no clean stop");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A wrong key: refused, saying so.
    let err = refused(serve(&url, Some(WRONG_KEY), dir, free_port()));
    assert!(err.contains("does not open the stored tokens"), "{err}");

    // Started again on the same database: the deploy is still there.
    let port = free_port();
    let mut second = spawn(&url, dir, port, "second.log");
    wait_healthy(&mut second, port, dir, "second.log");
    rt.block_on(async {
        let back = call(
            port,
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(back["sha"].as_str(), Some("abcdef1"));
        let list = call(port, "GET", "/api/v1/orgs/acme/deploys", &token, None).await;
        assert_eq!(list["deploys"].as_array().map(Vec::len), Some(2), "{list}");
    });
    second.kill().unwrap();
    second.wait().unwrap();

    for f in ["buildsnap.db", "buildsnap.db-wal", "secret.key"] {
        assert!(!dir.join(f).exists(), "{f} in the data dir");
    }
    drop(cluster);
}
