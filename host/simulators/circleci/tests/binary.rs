//! The binary serves scenarios/demo.json on 127.0.0.1 and honours the admin endpoints.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// Kills the child process we started (by handle, never by name) when the test ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_up(base: &str) {
    for _ in 0..200 {
        if request("GET", &format!("{base}/_sim/health"), &[], None)
            .await
            .is_ok_and(|r| r.status == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("binary did not come up at {base}");
}

#[tokio::test]
async fn binary_serves_the_demo_scenario_with_a_frozen_clock() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_circleci-sim"))
        .args([
            "--scenario",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/demo.json"),
        ])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--frozen-clock"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let _guard = Guard(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&base).await;
    let auth = [("Circle-Token", ALICE)];
    let me = request("GET", &format!("{base}/api/v2/me"), &auth, None)
        .await
        .unwrap();
    assert_eq!(
        (me.status, me.json()["login"].as_str()),
        (200, Some("alice"))
    );
    let clock = request("GET", &format!("{base}/_sim/clock"), &[], None)
        .await
        .unwrap()
        .json();
    assert_eq!(clock["running"], false);
    assert!(
        clock["now"]
            .as_str()
            .unwrap()
            .starts_with("2025-06-01T12:00:00")
    );
    let rule =
        r#"{"path": "/api/v2/me", "times": 1, "fault": {"kind": "server_error", "status": 503}}"#;
    request("POST", &format!("{base}/_sim/faults"), &[], Some(rule))
        .await
        .unwrap();
    assert_eq!(
        request("GET", &format!("{base}/api/v2/me"), &auth, None)
            .await
            .unwrap()
            .status,
        503
    );
    let counters = request("GET", &format!("{base}/_sim/counters"), &[], None)
        .await
        .unwrap()
        .json();
    assert_eq!(counters["by_status"]["503"], 1);
}

#[test]
fn binary_refuses_a_non_loopback_listen_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_circleci-sim"))
        .args([
            "--scenario",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/demo.json"),
        ])
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .expect("binary runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback"));
}

#[test]
fn binary_writes_a_generated_scenario_that_loads_back() {
    let dir = std::env::temp_dir().join(format!("circleci-sim-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gen.json");
    let status = Command::new(env!("CARGO_BIN_EXE_circleci-sim"))
        .args(["--generate", "250", "--seed", "9", "--write-scenario"])
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let s = circleci_sim::Scenario::from_file(&file).unwrap();
    assert_eq!(s.projects[0].pipelines.len(), 250);
    std::fs::remove_dir_all(&dir).unwrap();
}
