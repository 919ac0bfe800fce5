//! Replica bench: deploy registrations per second and snapshot reads per
//! second through the HTTP API, for one server on SQLite and one and two
//! servers (replicas) on one PostgreSQL database, in one run on one machine.
//!
//! For each set-up: a fresh store (SQLite data dir, or a fresh database on
//! a PostgreSQL cluster this program starts on 127.0.0.1 with the
//! `buildsnap-pg-cluster` harness), an org whose project has an enabled
//! build server, SEED deploys stored `complete` with the realistic 5-build
//! snapshot (`realistic::store_complete`); then the replicas (each its own
//! `App` with its own `Store`, on 127.0.0.1:0) and:
//!
//! 1. registrations: CONCURRENCY keep-alive clients, client `k` on replica
//!    `k % replicas`, register TOTAL deploys (each writes a deploy, a pending
//!    snapshot and a queued capture job);
//! 2. reads: CONCURRENCY clients read `GET .../deploys/{id}/builds` at
//!    random seeded ids for READ_SECS seconds, spread over the replicas the
//!    same way.
//!
//! `cargo run --release -p buildsnap-api --example replicas -- [TOTAL] [CONCURRENCY] [SEED] [READ_SECS]`
//! (defaults 5000 16 2000 10). Without PostgreSQL binaries only SQLite runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod bench_services;
mod realistic;

use bench_services::{Fake, bench_account};

use buildsnap_api::{App, ProviderToken};
use buildsnap_pg_cluster::PgCluster;
use buildsnap_store::{NewCodeDeployment, SecretKey, Store};
use serde_json::json;

/// What one set-up measured.
struct Figures {
    name: String,
    registrations_per_s: f64,
    reg_p50: Duration,
    reg_p99: Duration,
    reads_per_s: f64,
    read_p50: Duration,
    read_p99: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// The org, project, integration and SEED complete deploys; returns the
/// org token for registrations and the seeded id range.
fn prepare(store: &Store, seed: usize) -> (String, (i64, i64)) {
    store.create_org("acme", "Acme").expect("org");
    store.create_project("acme", "web", "Web").expect("project");
    let cd = NewCodeDeployment {
        slug: "main".into(),
        repo_url: "https://github.com/acme/web".into(),
        branch: "main".into(),
        build_project: None,
        branch_builds_only: false,
    };
    store
        .create_code_deployment("acme", "web", &cd)
        .expect("code deployment");
    store
        .enable_integration(
            "acme",
            "circleci",
            "https://circleci.com",
            &ProviderToken::new("bench-placeholder".into()),
            &bench_account(),
        )
        .expect("enable");
    store
        .set_default_build_server("acme", "circleci", "web")
        .expect("build server");
    let ids = realistic::store_complete(store, "acme", "web", seed);
    // Scope `all`: the same token registers and reads.
    let token = store
        .create_token("acme", "bench", buildsnap_store::Scope::All)
        .expect("org token")
        .token;
    (token, ids)
}

/// Runs one set-up. `analyze` runs after the seed deploys are stored: on
/// PostgreSQL, `ANALYZE`, as an operator does after a bulk load. Without
/// it the planner has no statistics until autovacuum's first pass (up to a
/// minute after the load), and the reads measured plans for empty tables:
/// below 100 reads/s or about 2,000/s from one run to the next.
async fn run(
    name: &str,
    stores: Vec<Store>,
    analyze: impl FnOnce() + Send + 'static,
    (total, conc, seed, read_secs): (usize, usize, usize, u64),
) -> Figures {
    let first = stores[0].clone();
    let (token, (min_id, max_id)) = tokio::task::spawn_blocking(move || {
        let prepared = prepare(&first, seed);
        analyze();
        prepared
    })
    .await
    .unwrap();
    let mut bases = vec![];
    let mut stops = vec![];
    for store in &stores {
        let app = App::builder()
            .store(store.clone())
            .services(Arc::new(Fake))
            .build()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        bases.push(format!("http://{}", listener.local_addr().unwrap()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push((
            tx,
            tokio::spawn(app.serve(listener, async move {
                let _ = rx.await;
            })),
        ));
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(conc)
        .build()
        .unwrap();

    // Registrations.
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = vec![];
    for k in 0..conc {
        let url = format!(
            "{}/api/v1/orgs/acme/projects/web/deploys",
            bases[k % bases.len()]
        );
        let (c, tok, counter) = (client.clone(), token.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return lat;
                }
                let t = Instant::now();
                let r = c
                    .post(&url)
                    .bearer_auth(&tok)
                    .json(&json!({ "sha": format!("{:040x}", i + 1_000_000_000) }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
                let _ = r.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
        }));
    }
    let mut reg: Vec<Duration> = vec![];
    for t in tasks {
        reg.extend(t.await.unwrap());
    }
    let reg_secs = started.elapsed().as_secs_f64();
    reg.sort();

    // Reads at random seeded ids (SplitMix64 per client: no shared state).
    let deadline = Instant::now() + Duration::from_secs(read_secs);
    let started = Instant::now();
    let mut tasks = vec![];
    for k in 0..conc {
        let base = bases[k % bases.len()].clone();
        let (c, tok) = (client.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            let mut state = k as u64 + 1;
            let span = (max_id - min_id + 1) as u64;
            while Instant::now() < deadline {
                state = state.wrapping_add(0x9e3779b97f4a7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
                let id = min_id + ((z ^ (z >> 31)) % span) as i64;
                let t = Instant::now();
                let r = c
                    .get(format!("{base}/api/v1/orgs/acme/deploys/{id}/builds"))
                    .bearer_auth(&tok)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let body = r.bytes().await.unwrap();
                assert!(body.len() > 1000, "a complete realistic snapshot");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut reads: Vec<Duration> = vec![];
    for t in tasks {
        reads.extend(t.await.unwrap());
    }
    let read_secs = started.elapsed().as_secs_f64();
    reads.sort();
    let first = stores[0].clone();
    let queued = tokio::task::spawn_blocking(move || first.capture_queue_depth().unwrap())
        .await
        .unwrap() as usize;
    assert_eq!(queued, total, "every acknowledged registration queued once");
    for (tx, server) in stops {
        let _ = tx.send(());
        server.await.unwrap().unwrap();
    }
    Figures {
        name: name.to_string(),
        registrations_per_s: total as f64 / reg_secs,
        reg_p50: percentile(&reg, 0.5),
        reg_p99: percentile(&reg, 0.99),
        reads_per_s: reads.len() as f64 / read_secs,
        read_p50: percentile(&reads, 0.5),
        read_p99: percentile(&reads, 0.99),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut num = |default: usize| args.next().and_then(|a| a.parse().ok()).unwrap_or(default);
    let (total, conc, seed, read_secs) = (num(5000), num(16), num(2000), num(10) as u64);
    let key = SecretKey::generate().unwrap();
    let mut figures = vec![];

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(dir.path(), key.clone()).unwrap();
    let sizes = (total, conc, seed, read_secs);
    figures.push(run("SQLite, 1 server", vec![sqlite], || (), sizes).await);

    match PgCluster::start() {
        Ok(Some(cluster)) => {
            let cluster = Arc::new(cluster);
            for replicas in [1, 2] {
                let url = cluster
                    .create_database(&format!("replicas_{replicas}"))
                    .unwrap();
                // The PostgreSQL client blocks: never on an async worker.
                let (url, key) = (url.clone(), key.clone());
                let stores = tokio::task::spawn_blocking(move || {
                    (0..replicas)
                        .map(|_| Store::open_postgres(&url, key.clone()).unwrap())
                        .collect()
                })
                .await
                .unwrap();
                let name = format!(
                    "PostgreSQL, {replicas} replica{}",
                    if replicas > 1 { "s" } else { "" }
                );
                let (cluster, db) = (cluster.clone(), format!("replicas_{replicas}"));
                let analyze = move || cluster.execute(&db, "ANALYZE").expect("ANALYZE");
                figures.push(run(&name, stores, analyze, sizes).await);
            }
        }
        Ok(None) => eprintln!("no PostgreSQL binaries: SQLite only"),
        Err(e) => panic!("cannot start PostgreSQL: {e}"),
    }

    println!(
        "{total} registrations and {read_secs} s of random reads over {seed} complete deploys, {conc} clients"
    );
    println!("| set-up | registrations/s | p50 | p99 | snapshot reads/s | p50 | p99 |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for f in figures {
        println!(
            "| {} | {:.0} | {:.2?} | {:.2?} | {:.0} | {:.2?} | {:.2?} |",
            f.name,
            f.registrations_per_s,
            f.reg_p50,
            f.reg_p99,
            f.reads_per_s,
            f.read_p50,
            f.read_p99
        );
    }
}
