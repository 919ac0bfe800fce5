//! Bench-only seeding of deploys, for `host/api/examples/bench_http.sh`.
//!
//! Two modes:
//!
//! * `http BASE ORG PROJECT TOKEN COUNT [CONCURRENCY]`: registers COUNT
//!   deploys through a running server (`POST .../projects/{p}/deploys`) with
//!   CONCURRENCY keep-alive clients (default 8). Without an enabled
//!   integration every snapshot is `no_build_server`.
//! * `complete DATA_DIR ORG PROJECT COUNT`: with the server **stopped**, opens
//!   its data dir (default key file) and, in an org and project with one
//!   code deployment (created when the org does not exist yet), marks the `circleci` integration enabled
//!   with a placeholder token (no provider call: nothing will use it while
//!   `--sync-interval 0` and no capture is queued), makes it the project's
//!   build server, then stores COUNT deploys, each `complete` with 5 builds
//!   (2 pipelines, 3 to 6 jobs each) that are also in the build index, as a
//!   real capture leaves them.
//!
//! Prints how many deploys, how long, and the smallest and largest id; after
//! `complete`, also the bytes stored per deploy (whole database, and per
//! table where SQLite has `dbstat`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

mod realistic;
use realistic::sha;

use buildsnap_store::{Account, NewCodeDeployment, ProviderToken, SecretKey, Store};
use serde_json::{Value, json};

const USAGE: &str = "usage: seed_deploys http BASE ORG PROJECT TOKEN COUNT [CONCURRENCY]\n       \
                     seed_deploys complete DATA_DIR ORG PROJECT COUNT";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{USAGE}"))
    };
    let num = |i: usize| -> usize { arg(i).parse().unwrap_or_else(|_| panic!("{USAGE}")) };
    let started = Instant::now();
    let (min, max) = match arg(0) {
        "http" => http(
            arg(1),
            arg(2),
            arg(3),
            arg(4),
            num(5),
            args.get(6).map_or(8, |_| num(6)),
        ),
        "complete" => complete(arg(1), arg(2), arg(3), num(4)),
        _ => panic!("{USAGE}"),
    };
    println!(
        "{} deploys in {:.1}s, ids {min}..={max}",
        max - min + 1,
        started.elapsed().as_secs_f64()
    );
    if arg(0) == "complete" {
        report_bytes(std::path::Path::new(arg(1)), (max - min + 1) as u64);
    }
}

/// Prints the database's size per deploy (after a WAL checkpoint, so the
/// main file holds everything) and, where SQLite has `dbstat`, the tables
/// and indexes that take the most of it. Counts the whole database: with
/// deploys seeded into an otherwise empty data dir, that is their cost.
fn report_bytes(data_dir: &std::path::Path, deploys: u64) {
    let c = rusqlite::Connection::open(data_dir.join(Store::DB_FILE)).expect("open database");
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    let pragma = |p: &str| -> i64 {
        c.query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
            .expect(p)
    };
    let (pages, size, free) = (
        pragma("page_count"),
        pragma("page_size"),
        pragma("freelist_count"),
    );
    let bytes = (pages - free) * size;
    println!(
        "{bytes} bytes in use ({} MB), {} bytes stored per deploy",
        bytes / 1_000_000,
        bytes as u64 / deploys.max(1)
    );
    let (thinned, builds): (i64, i64) = c
        .query_row(
            "SELECT count(frozen_in), count(*) FROM provider_builds",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("index rows");
    println!(
        "{thinned} of {builds} build-index rows stored once (thinned: their snapshot holds the rest)"
    );
    let top = c
        .prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12")
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        });
    match top {
        Ok(rows) => {
            for (name, b) in rows {
                println!("  {name}: {} bytes per deploy", b as u64 / deploys.max(1));
            }
        }
        Err(e) => println!("  (no per-table figures: {e})"),
    }
}

#[tokio::main]
async fn http(
    base: &str,
    org: &str,
    project: &str,
    token: &str,
    total: usize,
    conc: usize,
) -> (i64, i64) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(conc)
        .build()
        .expect("http client");
    let url = Arc::new(format!(
        "{base}/api/v1/orgs/{org}/projects/{project}/deploys"
    ));
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    for _ in 0..conc {
        let (client, url, next, token) =
            (client.clone(), url.clone(), next.clone(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut min, mut max) = (i64::MAX, i64::MIN);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return (min, max);
                }
                let r = client
                    .post(url.as_str())
                    .bearer_auth(&token)
                    .json(&json!({ "sha": sha(i as u64) }))
                    .send()
                    .await
                    .expect("POST deploy");
                assert_eq!(r.status(), 202, "registering deploy {i}");
                let id = r.json::<Value>().await.expect("deploy JSON")["id"]
                    .as_i64()
                    .expect("deploy id");
                (min, max) = (min.min(id), max.max(id));
            }
        }));
    }
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for t in tasks {
        let (a, b) = t.await.expect("seeding task");
        (min, max) = (min.min(a), max.max(b));
    }
    (min, max)
}

fn complete(data_dir: &str, org: &str, project: &str, total: usize) -> (i64, i64) {
    let dir = std::path::Path::new(data_dir);
    let store =
        Store::open(dir, SecretKey::load_or_create(dir, None).expect("key")).expect("store");
    // A fresh data dir gets the org, project and code deployment it needs.
    if store.create_org(org, org).is_ok() {
        store
            .create_project(org, project, project)
            .expect("project");
        let cd = NewCodeDeployment {
            slug: "main".into(),
            repo_url: format!("https://github.com/{org}/{project}"),
            branch: "main".into(),
            build_project: None,
            branch_builds_only: false,
        };
        store
            .create_code_deployment(org, project, &cd)
            .expect("code deployment");
    }
    let account = Account {
        id: "1".into(),
        login: "bench".into(),
        name: "Bench".into(),
    };
    store
        .enable_integration(
            org,
            "circleci",
            "https://circleci.com",
            &ProviderToken::new("bench-placeholder".into()),
            &account,
        )
        .expect("enable circleci");
    store
        .set_default_build_server(org, "circleci", project)
        .expect("default build server");
    let (min, max) = realistic::store_complete(&store, org, project, total);
    assert_eq!(store.capture_queue_depth().expect("queue depth"), 0);
    (min, max)
}
