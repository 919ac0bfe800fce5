//! Durability: the real `buildsnap` binary is SIGKILLed while a capture is
//! in flight (the simulator holds the answer back), then started again on
//! the same data dir; the capture completes, exactly once.

#[path = "support/ports.rs"]
mod ports;
#[path = "capture_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, SimHandle, SimOptions};
use ports::free_port;
use support::*;

fn spawn(sim: &SimHandle, dir: &Path, port: u16, log: &str) -> Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_buildsnap"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args([
            "--allow-hosts",
            &sim.base_url(),
            "--admin-token",
            ADMIN,
            "--sync-interval",
            "0",
        ])
        .env_remove("BUILDSNAP_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn buildsnap")
}

async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let url = format!("http://127.0.0.1:{port}/healthz");
    loop {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "buildsnap did not come up on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_capture_then_restart_completes_exactly_once() {
    let sha = stable_sha("capture:kill9");
    let scenario = builder()
        .pipeline(
            PipelineSpec::new(1)
                .revision(&sha)
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("test")))
                .workflow(WorkflowSpec::new("lint").job(JobSpec::new("lint"))),
        )
        .build()
        .unwrap();
    let sim = start_sim(scenario, SimOptions::default()).await;
    let start = sim_start(&sim);
    let dir = data_dir(&sim).await;

    let port = free_port();
    let mut first = spawn(&sim, dir.path(), port, "first.log");
    wait_healthy(port).await;
    let api = Api::new(format!("127.0.0.1:{port}").parse().unwrap());
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    // The workflow list hangs: the capture is in flight when the process dies.
    let hang = sim.set_fault(FaultRule::always(
        "/api/v2/pipeline/*/workflow",
        Fault::Hang { ms: None },
    ));
    let id = api.deploy(&sha, &plus(&start, 120), "production").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sim
        .requests()
        .iter()
        .any(|r| r.route == "/api/v2/pipeline/{id}/workflow")
    {
        assert!(
            Instant::now() < deadline,
            "capture never reached the workflow list"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(api.snapshot(id).await["state"], "pending");
    first.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
    let status = first.wait().unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");

    sim.remove_fault(hang);
    sim.clear_requests();
    let port = free_port();
    let mut second = spawn(&sim, dir.path(), port, "second.log");
    wait_healthy(port).await;
    let api = Api::new(format!("127.0.0.1:{port}").parse().unwrap());
    let snap = api.wait_snapshot(id, Duration::from_secs(60)).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(snap["summary"], "success");
    assert_eq!(statuses(&snap), ["success", "success"]);
    assert!(
        snap["builds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["sha"] == sha.as_str())
    );
    // Exactly once: one search after the restart, one completed capture, and
    // nothing more happens afterwards.
    expect_metric(&api, "buildsnap_captures_total{outcome=\"complete\"}", 1).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let pages = sim
        .requests()
        .iter()
        .filter(|r| r.route == "/api/v2/project/{slug}/pipeline")
        .count();
    assert_eq!(pages, 1, "{:#?}", sim.requests());
    assert_eq!(
        metric(
            &api.metrics().await,
            "buildsnap_captures_total{outcome=\"complete\"}"
        ),
        1
    );
    assert_eq!(
        metric(&api.metrics().await, "buildsnap_capture_queue_depth"),
        0
    );
    let again = api.snapshot(id).await;
    assert_eq!(again, snap, "a complete snapshot never changes");
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(log.contains("re-queued capture jobs interrupted"), "{log}");
    assert!(
        !log.contains(ALICE) && !log.contains(WEBHOOK_SECRET),
        "secrets in the log"
    );

    // A clean stop (SIGTERM) ends background work and exits 0.
    sigterm(&second);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = second.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no clean stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
