//! Capture latency with one and two replicas of `buildsnap serve` on one
//! PostgreSQL database, against the CircleCI simulator (`generate::large`)
//! with 100 ms injected on every CircleCI request.
//!
//! For each replica count, a fresh database on a cluster this program
//! starts on 127.0.0.1 (`buildsnap-pg-cluster`), the replicas (each its own
//! data dir and `serve::start`), one org set up through the first; then:
//!
//! 1. one at a time: a deploy registered on replica `i % n`, its snapshot
//!    polled (every 5 ms) on replica `(i + 1) % n` until it is no longer
//!    `pending`: register → complete as another replica sees it;
//! 2. a burst: BURST deploys registered at once, spread over the replicas;
//!    the time until the last is complete. The integration's call budget
//!    is shared by the replicas (`capture/shared_slots.rs`), so a second
//!    replica adds capture workers but not provider concurrency.
//!
//! `cargo run --release -p buildsnap --example replica_capture [pipelines] [burst]`
//! (defaults 400 and 16).

use std::time::{Duration, Instant};

use buildsnap::settings::Settings;
use buildsnap_pg_cluster::PgCluster;
use circleci_sim::generate::{BENCH_TOKEN, large};
use circleci_sim::model::Pipeline;
use circleci_sim::{Fault, FaultRule, SimOptions, Simulator};
use serde_json::{Value, json};

const ADMIN: &str = "bench-admin-token-0123456789";
const KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Registers a deploy of `pipeline` (an hour after it, so its builds had
/// finished) on `base`; returns its id.
async fn register(
    http: &reqwest::Client,
    base: &str,
    p: &Pipeline,
    env: &str,
) -> anyhow::Result<i64> {
    let sha = p.sha().expect("pipeline with a commit");
    let created = buildsnap_store::ts::parse(&p.created_at.to_string()).expect("timestamp");
    let deployed_at = buildsnap_store::ts::format(created + Duration::from_secs(3600));
    let d: Value = http
        .post(format!("{base}/api/v1/orgs/bench/projects/app/deploys"))
        .bearer_auth(ADMIN)
        .json(&json!({"sha": sha, "deployed_at": deployed_at, "environment": env}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(d["id"].as_i64().expect("deploy id"))
}

/// Polls `base` until deploy `id` is no longer pending; returns its state.
async fn settled(http: &reqwest::Client, base: &str, id: i64) -> anyhow::Result<String> {
    loop {
        let s: Value = http
            .get(format!("{base}/api/v1/orgs/bench/deploys/{id}/builds"))
            .bearer_auth(ADMIN)
            .send()
            .await?
            .json()
            .await?;
        if s["state"] != "pending" {
            return Ok(s["state"].as_str().unwrap_or("?").to_string());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(400);
    let burst: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let scenario = large(n, 1);
    let mut pipelines: Vec<Pipeline> = scenario.projects[0].pipelines.clone();
    pipelines.sort_by_key(|p| std::cmp::Reverse(p.number));
    pipelines.retain(|p| p.sha().is_some());
    let sim = Simulator::start(
        scenario,
        SimOptions {
            clock_running: Some(false),
            ..SimOptions::default()
        },
    )
    .await?;
    let Some(cluster) = PgCluster::start()? else {
        anyhow::bail!("no PostgreSQL binaries: install Debian's `postgresql`");
    };
    let http = reqwest::Client::builder().no_proxy().build()?;
    println!(
        "| replicas | one at a time: median register → complete (seen on another replica) | burst of {burst}: all complete |"
    );
    println!("| --- | --- | --- |");
    for replicas in [1usize, 2] {
        sim.clear_faults();
        let url = cluster.create_database(&format!("capture_{replicas}"))?;
        let mut dirs = vec![];
        let mut servers = vec![];
        for _ in 0..replicas {
            let dir = tempfile::tempdir()?;
            let settings = Settings::builder()
                .listen("127.0.0.1:0".parse()?)
                .data_dir(dir.path())
                .database_url(Some(url.clone()))
                .secret_key(Some(KEY.into()))
                .allow_hosts(sim.base_url())
                .admin_token(Some(ADMIN.into()))
                .sync_interval(Duration::ZERO)
                .log("warn")
                .build()?;
            servers.push(buildsnap::serve::start(settings).await?);
            dirs.push(dir);
        }
        let bases: Vec<String> = servers
            .iter()
            .map(|s| format!("http://{}", s.addr))
            .collect();
        let admin = |m: reqwest::Method, path: &str, body: Value| {
            http.request(m, format!("{}{path}", bases[0]))
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
        };
        use reqwest::Method;
        admin(
            Method::POST,
            "/api/v1/orgs",
            json!({"slug": "bench", "name": "Bench"}),
        )
        .await?
        .error_for_status()?;
        admin(
            Method::POST,
            "/api/v1/orgs/bench/projects",
            json!({"slug": "app", "name": "App"}),
        )
        .await?
        .error_for_status()?;
        admin(
            Method::POST,
            "/api/v1/orgs/bench/projects/app/code-deployments",
            json!({"slug": "prod", "repo_url": "https://github.com/bench/app", "branch": "main"}),
        )
        .await?
        .error_for_status()?;
        admin(
            Method::PUT,
            "/api/v1/orgs/bench/integrations/circleci",
            json!({"token": BENCH_TOKEN, "base_url": sim.base_url()}),
        )
        .await?
        .error_for_status()?;
        admin(
            Method::PUT,
            "/api/v1/orgs/bench/integrations/circleci/default-build-server",
            json!({"project": "app"}),
        )
        .await?
        .error_for_status()?;
        sim.set_fault(FaultRule::always("/api/v2/*", Fault::Latency { ms: 100 }));

        // One at a time, on fresh commits (positions 1..=6, two pipeline pages).
        let mut one = vec![];
        for i in 0..6 {
            let t = Instant::now();
            let id = register(
                &http,
                &bases[i % replicas],
                &pipelines[1 + i],
                &format!("s{i}"),
            )
            .await?;
            let state = settled(&http, &bases[(i + 1) % replicas], id).await?;
            anyhow::ensure!(state == "complete", "deploy {id} ended {state}");
            one.push(t.elapsed());
        }

        // A burst of fresh commits (positions 10..10+burst).
        let t = Instant::now();
        let mut ids = vec![];
        let registered = futures::future::join_all((0..burst).map(|i| {
            let (http, base, p) = (&http, &bases[i % replicas], &pipelines[10 + i]);
            async move { register(http, base, p, &format!("b{i}")).await }
        }))
        .await;
        for r in registered {
            ids.push(r?);
        }
        for (i, id) in ids.iter().enumerate() {
            let state = settled(&http, &bases[(i + 1) % replicas], *id).await?;
            anyhow::ensure!(state == "complete", "deploy {id} ended {state}");
        }
        let all = t.elapsed();
        println!(
            "| {replicas} | {} ms | {} ms |",
            median(one).as_millis(),
            all.as_millis()
        );
        for s in servers {
            s.stop().await?;
        }
    }
    sim.shutdown().await;
    Ok(())
}
