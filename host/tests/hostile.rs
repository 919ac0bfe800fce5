//! Regression tests of the security review's findings (issue 18) that need
//! the real binary: files of a data dir the server creates are owner-only
//! from the start (F3), and values from requests never forge a log line nor
//! put raw escape sequences in the log (F4). docs/reliability.md.

#[path = "support/ports.rs"]
mod ports;

use ports::free_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "hostile-admin-token-0123456789";

/// `buildsnap serve` on `data_dir`, its stderr (the log) into `log`.
fn spawn(data_dir: &Path, port: u16, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_buildsnap"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--admin-token",
            ADMIN,
            "--sync-interval",
            "0",
            "--log-format",
            "text",
        ])
        .env_remove("BUILDSNAP_SECRET_KEY")
        .env_remove("BUILDSNAP_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn buildsnap")
}

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "buildsnap did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_dir_is_owner_only_and_request_values_never_forge_log_lines() {
    let tmp = tempfile::tempdir().unwrap();
    // Neither the data dir nor its parent exists yet.
    let data = tmp.path().join("state").join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port();
    let _server = Running(spawn(&data, port, &log));
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/orgs"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"slug": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // F3: the directory, the key, the database and its WAL and shared
    // memory (which SQLite creates lazily; the server has written by now).
    assert_eq!(mode(&data), 0o700, "data dir");
    for f in [
        "secret.key",
        "buildsnap.db",
        "buildsnap.db-wal",
        "buildsnap.db-shm",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }

    // F4: a token name with a newline and an escape sequence.
    let name = "a\nFORGED line\x1b[31m";
    let r = http
        .post(format!("{base}/api/v1/orgs/acme/tokens"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"name": name, "scope": "all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let bytes = std::fs::read(&log).unwrap();
        let text = String::from_utf8_lossy(&bytes).to_string();
        if text.contains("token created") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no `token created` line:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let forged: Vec<&str> = text.lines().filter(|l| l.contains("FORGED")).collect();
    assert_eq!(forged.len(), 1, "{text}");
    assert!(forged[0].contains("token created"), "{}", forged[0]);
    assert!(
        forged[0].contains(r"a\nFORGED line\x1b[31m"),
        "{}",
        forged[0]
    );
    assert!(!text.contains('\x1b'), "raw ESC in the log:\n{text:?}");
}
