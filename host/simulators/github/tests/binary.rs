//! The binary serves a scenario on 127.0.0.1, prints where and with which token, and
//! honours the control endpoints.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/example.json");

/// Kills the child process we started (by handle, never by name) when the test ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free port and waits for its banner; returns the banner lines.
fn spawn(extra: &[&str]) -> (Guard, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_github-sim"))
        .args(["--listen", "127.0.0.1:0", "--frozen-clock"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next().expect("a banner").unwrap();
    let base = banner
        .strip_prefix("github-sim listening on ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected banner {banner}"))
        .to_owned();
    let mut tokens = vec![];
    if let Some(Ok(first)) = lines.next()
        && first.starts_with("token for ")
    {
        tokens.push(first);
    }
    // Keep reading what the binary prints for as long as it runs: a closed
    // pipe would make its next line fail and end it mid-test (seen under
    // load, when it printed after this returned).
    std::thread::spawn(move || lines.for_each(drop));
    (Guard(child), base, tokens)
}

#[tokio::test]
async fn binary_serves_a_scenario_file_and_prints_url_and_token() {
    let (_guard, base, tokens) = spawn(&["--scenario", EXAMPLE]);
    assert_eq!(tokens, ["token for octocat: example-token-octocat"]);
    let auth = [("authorization", "Bearer example-token-octocat")];
    let me = request("GET", &format!("{base}/user"), &auth, None)
        .await
        .unwrap();
    assert_eq!(
        (me.status, me.json()["login"].as_str()),
        (200, Some("octocat"))
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
    let counters = request("GET", &format!("{base}/_sim/counters"), &[], None)
        .await
        .unwrap()
        .json();
    assert_eq!(counters["by_status"]["200"], 1);
}

#[tokio::test]
async fn binary_serves_the_demo_in_enterprise_mode_with_a_small_budget() {
    let (_guard, base, _) = spawn(&[
        "--demo",
        "--enterprise",
        "--rate-limit",
        "1",
        "--rate-limit-status",
        "429",
    ]);
    assert!(base.ends_with("/api/v3"), "{base}");
    let auth = [("authorization", "Bearer demo-token-octocat")];
    let r = request(
        "GET",
        &format!("{base}/repos/acme/api/actions/runs"),
        &auth,
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let r = request("GET", &format!("{base}/user"), &auth, None)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.header("x-ratelimit-remaining")),
        (429, Some("0"))
    );
}

#[test]
fn binary_refuses_a_non_loopback_listen_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_github-sim"))
        .args(["--demo", "--listen", "0.0.0.0:0"])
        .output()
        .expect("binary runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback"));
}

#[test]
fn binary_writes_a_generated_scenario_that_loads_back() {
    let dir = std::env::temp_dir().join(format!("github-sim-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gen.json");
    let status = Command::new(env!("CARGO_BIN_EXE_github-sim"))
        .args(["--generate", "250", "--seed", "9", "--write-scenario"])
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let s = github_sim::Scenario::from_file(&file).unwrap();
    assert_eq!(s.repos[0].runs.len(), 250);
    assert_eq!(
        s.to_json_pretty(),
        github_sim::generate::large(250, 9).to_json_pretty()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
