//! `buildsnap plugin call` at the binary level: the built-in CircleCI
//! component's exports run in the real sandbox against the CircleCI
//! simulator with `--record`, then with `--replay` after the simulator is
//! gone, printing the same JSON; the recording holds no token; a request
//! the recording cannot answer fails the call, named; bad input is a clear
//! error.

#[path = "support/sim.rs"]
mod sim;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sim::{ALICE, demo_scenario, start};

const API: &str = "gh/acme/api";
const SHA_45: &str = "607ed3348ddd5e74b8bb4b0d227bc63bf4ec2b64";

fn component() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/circleci.wasm")
}

/// Runs `buildsnap plugin call` with the token in `CIRCLE_TOKEN`.
fn call(args: &[impl AsRef<std::ffi::OsStr>]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_buildsnap"))
        .args(["plugin", "call"])
        .arg(component())
        .args(args)
        .env("CIRCLE_TOKEN", ALICE)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn commit_query(sha: &str) -> String {
    json!({"project": API, "sha": sha, "horizon": {"max_pipelines": 200}}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_against_the_simulator_then_replay_without_it_prints_the_same() {
    let sim = start(demo_scenario()).await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for (export, input) in [
        ("validate-credentials", None),
        ("builds-for-commit", Some(commit_query(SHA_45))),
    ] {
        let tape = dir.path().join(format!("{export}.json"));
        let mut args: Vec<String> = [export, "--base-url", &base, "--token-env", "CIRCLE_TOKEN"]
            .map(String::from)
            .to_vec();
        if let Some(i) = input {
            args.extend(["--input".to_string(), i]);
        }
        let record = ["--record", tape.to_str().unwrap()].map(String::from);
        let (code, out, err) = call(&[&args[..], &record].concat());
        assert_eq!(code, Some(0), "{export}: {err}");
        let recording = std::fs::read_to_string(&tape).unwrap();
        assert!(!recording.contains(ALICE), "the token is in the recording");
        assert!(!recording.to_ascii_lowercase().contains("circle-token"));
        let rec: Value = serde_json::from_str(&recording).unwrap();
        assert_eq!(rec["format"], 1);
        assert!(!rec["exchanges"].as_array().unwrap().is_empty());
        outputs.push((args, tape, out));
    }
    let v: Value = serde_json::from_str(&outputs[0].2).unwrap();
    assert_eq!(v["login"], "alice", "{v}");
    let v: Value = serde_json::from_str(&outputs[1].2).unwrap();
    assert!(!v["builds"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["builds"][0]["sha"], SHA_45);

    sim.shutdown().await;
    for (args, tape, recorded) in &outputs {
        let replay = ["--replay", tape.to_str().unwrap()].map(String::from);
        let (code, out, err) = call(&[&args[..], &replay].concat());
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(&out, recorded, "replay of {}", args[0]);
    }
    // Another commit: requests the recording never saw.
    let other = commit_query("773bae214fb25ffda72072354e94b5a2c62d4ea5");
    let tape = &outputs[1].1;
    let (code, out, err) = call(&[
        "builds-for-commit",
        "--base-url",
        &base,
        "--token-env",
        "CIRCLE_TOKEN",
        "--input",
        &other,
        "--replay",
        tape.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        err.contains("the recording has no answer for: GET http://127.0.0.1"),
        "{err}"
    );
}

#[test]
fn describe_needs_no_network_and_bad_input_is_a_clear_error() {
    let (code, out, err) = call(&["describe"]);
    assert_eq!(code, Some(0), "{err}");
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["id"], "circleci");
    assert_eq!(d["max_concurrency"], 8);

    let (code, _, err) = call(&["builds-for-commit", "--input", "{\"project\": 1}"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--input for builds-for-commit"), "{err}");
    let (code, _, err) = call(&["no-such-export"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("unknown export `no-such-export`; one of: describe"),
        "{err}"
    );
    let (code, _, err) = call(&[
        "validate-credentials",
        "--token-env",
        "BUILDSNAP_TEST_UNSET",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("BUILDSNAP_TEST_UNSET: the variable is not set"),
        "{err}"
    );
    let (code, _, err) = call(&["describe", "--replay", "/nonexistent/tape.json"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cannot read recording /nonexistent/tape.json"),
        "{err}"
    );
}
