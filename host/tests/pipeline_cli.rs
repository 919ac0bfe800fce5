//! The pipeline commands at the binary level: `buildsnap deploy` against a
//! running server (in process here) and the CircleCI simulator, with the
//! org token in BUILDSNAP_TOKEN.

#[path = "capture_support/mod.rs"]
mod support;

use std::process::{Command, Output};

use buildsnap::serve;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, SimOptions};
use serde_json::{Value, json};
use support::*;

/// Runs `buildsnap <args>` with BUILDSNAP_TOKEN set to `token` (unset when
/// `None`), on a blocking thread so the in-process server keeps serving.
async fn buildsnap(args: Vec<String>, token: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_buildsnap"));
        c.args(&args)
            .env_remove("BUILDSNAP_TOKEN")
            .env("NO_PROXY", "127.0.0.1");
        if let Some(t) = token {
            c.env("BUILDSNAP_TOKEN", t);
        }
        c.output().expect("run buildsnap")
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_registers_and_with_wait_prints_the_captured_snapshot() {
    let sha = stable_sha("pipeline:deploy");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("test"))),
        )
        .build()
        .unwrap();
    let sim = start_sim(scenario, SimOptions::default()).await;
    let start = sim_start(&sim);
    let dir = data_dir(&sim).await;
    let server = serve::start(serve_args(&sim, dir.path(), 0)).await.unwrap();
    let api = Api::new(server.addr);
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    let (s, v) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/orgs/acme/tokens",
            Some(json!({"name": "ci", "scope": "all"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "deploy",
            "--server",
            &api.base,
            "--org",
            "acme",
            "--project",
            "api",
            "--sha",
            &sha,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    // --wait: one line of JSON, the snapshot once it is captured.
    let at = plus(&start, 600);
    let out = buildsnap(
        base(&[
            "--deployed-at",
            &at,
            "--environment",
            "staging",
            "--wait",
            "--timeout",
            "60",
        ]),
        Some(token.clone()),
    )
    .await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let snap: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(snap["summary"], "success");
    assert_eq!(snap["builds"][0]["name"], "build");
    assert!(
        stderr.contains("registered deploy") && stderr.contains("(pending)"),
        "{stderr}"
    );
    assert!(
        !stdout.contains(&token) && !stderr.contains(&token),
        "the token is never printed"
    );
    let listed = api.get("/api/v1/orgs/acme/deploys").await;
    assert_eq!(listed["deploys"][0]["environment"], "staging");

    // Without --wait: the registered deploy, pending, at once.
    let out = buildsnap(base(&["--deployed-at", &at]), Some(token.clone())).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(d["builds"]["state"], "pending");
    assert_eq!(d["sha"], sha.as_str());

    // Still pending at the timeout (the provider hangs): exit 2, the
    // pending snapshot printed.
    // Another commit, so the capture must ask the provider.
    let hang = sim.set_fault(FaultRule::always("/api/v2/*", Fault::Hang { ms: None }));
    let at = plus(&start, 900);
    let mut other = base(&["--deployed-at", &at, "--wait", "--timeout", "2"]);
    other[8] = stable_sha("pipeline:other");
    let out = buildsnap(other, Some(token.clone())).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let snap: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(snap["state"], "pending");
    assert!(text(&out.stderr).contains("still pending after 2 s"));
    sim.remove_fault(hang);

    // Refusals: exit 1 with the server's words, or what to set.
    let out = buildsnap(base(&[]), Some("bso_not-a-token".into())).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("401 unauthorized"),
        "{}",
        text(&out.stderr)
    );
    let out = buildsnap(base(&[]), None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("BUILDSNAP_TOKEN"),
        "{}",
        text(&out.stderr)
    );
    let mut bad = base(&[]);
    bad[8] = "not-hex".into();
    let out = buildsnap(bad, Some(token.clone())).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("400 invalid_sha"),
        "{}",
        text(&out.stderr)
    );
    let mut gone = base(&[]);
    gone[2] = "http://127.0.0.1:9".into();
    let out = buildsnap(gone, Some(token.clone())).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("could not reach buildsnap at http://127.0.0.1:9"),
        "{}",
        text(&out.stderr)
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_passes_fails_and_times_out_on_the_builds_now() {
    let (green, red, slow, unknown) = (
        stable_sha("gate:green-later"),
        stable_sha("gate:red"),
        stable_sha("gate:slow"),
        stable_sha("gate:unknown"),
    );
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1).revision(&green).workflow(
                WorkflowSpec::new("build")
                    .status("running")
                    .then_at(120, "success")
                    .job(JobSpec::new("test")),
            ),
        )
        .pipeline(
            PipelineSpec::new(2).revision(&red).workflow(
                WorkflowSpec::new("build")
                    .status("failed")
                    .job(JobSpec::new("test")),
            ),
        )
        .pipeline(
            PipelineSpec::new(3).revision(&slow).workflow(
                WorkflowSpec::new("build")
                    .status("running")
                    .job(JobSpec::new("test")),
            ),
        )
        .build()
        .unwrap();
    let sim = start_sim(scenario, SimOptions::default()).await;
    let dir = data_dir(&sim).await;
    let server = serve::start(serve_args(&sim, dir.path(), 0)).await.unwrap();
    let api = Api::new(server.addr);
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    let (_, v) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/orgs/acme/tokens",
            Some(json!({"name": "ci", "scope": "all"})),
        )
        .await;
    let token = v["token"].as_str().unwrap().to_string();
    let gate = |sha: &str, timeout: &str| -> Vec<String> {
        [
            "gate",
            "--server",
            &api.base,
            "--org",
            "acme",
            "--project",
            "api",
            "--sha",
            sha,
            "--timeout",
            timeout,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    // Running when asked, green once the simulator's clock moves on: the
    // gate waits for it and passes.
    let waiting = tokio::spawn(buildsnap(gate(&green[..10], "60"), Some(token.clone())));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Its first look has seen the workflow running once the workflow's jobs
    // were asked for (the workflow list answered before).
    while sim.count("/api/v2/workflow/") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the gate never asked the provider"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sim.clock().advance(std::time::Duration::from_secs(200));
    let out = waiting.await.unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("success   build (pipeline #1)"), "{stdout}");
    assert!(
        stdout.contains(&format!("gate {}: passed", &green[..10])),
        "{stdout}"
    );

    let out = buildsnap(gate(&red, "60"), Some(token.clone())).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("failed: failed"),
        "{}",
        text(&out.stdout)
    );

    let out = buildsnap(gate(&slow, "2"), Some(token.clone())).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("still running after 2 s"),
        "{}",
        text(&out.stdout)
    );

    let out = buildsnap(gate(&unknown, "1"), Some(token.clone())).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("failed: no builds"),
        "{}",
        text(&out.stdout)
    );
    server.stop().await.unwrap();
}
