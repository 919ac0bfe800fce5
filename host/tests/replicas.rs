//! Two replicas of the real `buildsnap serve` on one PostgreSQL database
//! (host/pg-cluster; skipped loudly without PostgreSQL binaries, failing
//! when `CI` is set), capturing from one slow CircleCI simulator. Deploys
//! are registered through both; one replica is SIGKILLed while it holds
//! captures in flight. Every deploy whose registration was acknowledged
//! ends `complete` exactly once: the survivor takes the dead replica's jobs
//! over when their (short) leases run out, one `snapshot.completed` event is
//! queued per deploy (one final snapshot write), and the snapshots read the
//! same from the survivor before and after a further wait.

#[path = "support/ports.rs"]
mod ports;
#[path = "capture_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use buildsnap_pg_cluster::PgCluster;
use buildsnap_store::{SecretKey, Store};
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, SimHandle, SimOptions};
use ports::free_port;
use serde_json::{Value, json};
use support::*;

const KEY: &str = "5151515151515151515151515151515151515151515151515151515151515151";
/// Deploys registered in all, half through each replica.
const DEPLOYS: usize = 12;
/// The capture lease of both replicas: short, so the takeover is quick.
const LEASE_S: &str = "2";

/// `buildsnap serve` on `url`, with its own data dir (as on its own
/// machine), granting the simulator and the (closed) alert hook origin.
fn spawn(url: &str, sim: &SimHandle, hook: &str, dir: &Path, port: u16, log: &str) -> Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_buildsnap"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args(["--database-url", url])
        .args(["--allow-hosts", &format!("{},{hook}", sim.base_url())])
        .args(["--admin-token", ADMIN, "--sync-interval", "0"])
        .args(["--capture-lease-seconds", LEASE_S])
        .env("BUILDSNAP_SECRET_KEY", KEY)
        .env_remove("BUILDSNAP_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn buildsnap")
}

async fn wait_healthy(child: &mut Child, port: u16, dir: &Path, log: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let url = format!("http://127.0.0.1:{port}/healthz");
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
            panic!("buildsnap exited ({status}) before serving: {log}");
        }
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "no /healthz on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A blocking call on the test's own store (one more replica of the
/// database, used only to look), off the async workers.
async fn look<T: Send + 'static>(store: &Store, f: impl FnOnce(&Store) -> T + Send + 'static) -> T {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&s)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_killed_mid_capture_every_deploy_completes_once() {
    let Some(cluster) = PgCluster::start().expect("starting a PostgreSQL cluster") else {
        return;
    };
    let url = cluster.create_database("replicas").unwrap();
    let shas: Vec<String> = (0..DEPLOYS)
        .map(|i| stable_sha(&format!("replicas:{i}")))
        .collect();
    let mut b = builder();
    for (i, sha) in shas.iter().enumerate() {
        b = b.pipeline(
            PipelineSpec::new(i as i64 + 1)
                .revision(sha)
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("test"))),
        );
    }
    let sim = start_sim(b.build().unwrap(), SimOptions::default()).await;
    let start = sim_start(&sim);
    let hook = format!("http://127.0.0.1:{}", free_port());

    let (dir_a, dir_b) = (data_dir(&sim).await, data_dir(&sim).await);
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = spawn(&url, &sim, &hook, dir_a.path(), port_a, "a.log");
    wait_healthy(&mut a, port_a, dir_a.path(), "a.log").await;
    let mut b = spawn(&url, &sim, &hook, dir_b.path(), port_b, "b.log");
    wait_healthy(&mut b, port_b, dir_b.path(), "b.log").await;
    let api_a = Api::new(format!("127.0.0.1:{port_a}").parse().unwrap());
    let api_b = Api::new(format!("127.0.0.1:{port_b}").parse().unwrap());
    api_a.setup(&sim, ALICE, Some(PROJECT)).await;
    // A hook on snapshot.completed: the store queues one delivery per final
    // snapshot it writes, in the write's transaction (its origin is closed,
    // so the deliveries only fail and wait; what counts is the queue).
    let (s, v) = api_b
        .call(
            reqwest::Method::POST,
            "/api/v1/orgs/acme/alert-hooks",
            Some(
                json!({"url": format!("{hook}/hook"), "events": ["snapshot.completed"],
                        "secret": "replicas-alert-secret-0123456789"}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let hook_id = v["id"].as_i64().unwrap();

    // Slow workflow lists: captures stay in flight for a while.
    sim.set_fault(FaultRule::always(
        "/api/v2/pipeline/*/workflow",
        Fault::Latency { ms: 1_500 },
    ));
    let mut ids = Vec::new();
    for (i, sha) in shas.iter().enumerate() {
        let api = if i % 2 == 0 { &api_a } else { &api_b };
        ids.push(api.deploy(sha, &plus(&start, 120), "production").await);
    }

    // Kill B once it holds captures (its replica id carries its pid).
    let store = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            Store::open_postgres(&url, SecretKey::parse(KEY, "test key").unwrap()).unwrap()
        })
        .await
        .unwrap()
    };
    let b_marker = format!("-{}-", b.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    let held_by_b = loop {
        let (ids2, marker) = (ids.clone(), b_marker.clone());
        let held: Vec<i64> = look(&store, move |s| {
            ids2.into_iter()
                .filter(|id| {
                    s.capture_job_owner(*id)
                        .unwrap()
                        .is_some_and(|o| o.contains(&marker))
                })
                .collect()
        })
        .await;
        if !held.is_empty() {
            break held;
        }
        assert!(
            Instant::now() < deadline,
            "replica B never claimed a capture"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    b.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
    assert!(!b.wait().unwrap().success());

    // Every acknowledged deploy completes, read through the survivor.
    let mut snaps: Vec<Value> = Vec::new();
    for id in &ids {
        let snap = api_a.wait_snapshot(*id, Duration::from_secs(120)).await;
        assert_eq!(snap["state"], "complete", "deploy {id}: {snap}");
        assert_eq!(snap["summary"], "success", "deploy {id}: {snap}");
        snaps.push(snap);
    }
    let log_a = std::fs::read_to_string(dir_a.path().join("a.log")).unwrap();
    assert!(
        log_a.contains("taking over a capture job whose lease ran out"),
        "B held {held_by_b:?} when killed; A never took one over: {log_a}"
    );
    // Exactly once: one final snapshot write (one snapshot.completed
    // delivery queued) per deploy, every job done, and nothing changes
    // after more than a lease more.
    let (ids2, org) = (ids.clone(), "acme");
    let (per_deploy, states) = look(&store, move |s| {
        let deliveries = s.alert_deliveries(org, hook_id, 1000).unwrap().unwrap();
        let per: Vec<usize> = ids2
            .iter()
            .map(|id| {
                deliveries
                    .iter()
                    .filter(|d| d.deploy_id == *id && d.event == "snapshot.completed")
                    .count()
            })
            .collect();
        let states: Vec<String> = ids2
            .iter()
            .map(|id| s.capture_job_state(*id).unwrap().unwrap().0)
            .collect();
        (per, states)
    })
    .await;
    assert_eq!(
        per_deploy,
        vec![1; DEPLOYS],
        "snapshot.completed per deploy"
    );
    assert_eq!(states, vec!["done"; DEPLOYS]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    for (id, snap) in ids.iter().zip(&snaps) {
        assert_eq!(
            &api_a.snapshot(*id).await,
            snap,
            "a complete snapshot never changes"
        );
        let stored = look(&store, {
            let id = *id;
            move |s| s.get_deploy("acme", id).unwrap().builds.captured_at
        })
        .await;
        assert_eq!(stored.as_deref(), snap["captured_at"].as_str());
    }
    assert_eq!(
        metric(&api_a.metrics().await, "buildsnap_capture_queue_depth"),
        0
    );

    a.kill().unwrap();
    a.wait().unwrap();
    drop(store);
    drop(cluster);
}
