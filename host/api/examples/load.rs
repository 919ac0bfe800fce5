//! Load program: deploy registrations per second through the HTTP API.
//!
//! Starts the real server on 127.0.0.1:0 over a fresh data dir (WAL,
//! synchronous=NORMAL, as in production) with an in-process fake provider,
//! sets up an org whose project has an enabled build server (so every
//! registration also writes a snapshot row and a capture job), then runs
//! CONCURRENCY keep-alive clients registering TOTAL deploys.
//!
//! `cargo run --release -p buildsnap-api --example load -- [TOTAL] [CONCURRENCY]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use buildsnap_api::App;
use buildsnap_store::{SecretKey, Store};
use serde_json::json;

mod bench_services;
use bench_services::Fake;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let conc: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        SecretKey::load_or_create(dir.path(), None).unwrap(),
    )
    .unwrap();
    let admin = "load-admin-token-0123456789abcdef";
    store.bootstrap_admin(Some(admin)).unwrap();
    let app = App::builder()
        .store(store.clone())
        .services(Arc::new(Fake))
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stop_rx.await;
    }));

    let c = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(conc)
        .build()
        .unwrap();
    let post = |p: &str, t: &str, b: serde_json::Value| {
        c.post(format!("{base}{p}"))
            .bearer_auth(t.to_string())
            .json(&b)
            .send()
    };
    post(
        "/api/v1/orgs",
        admin,
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await
    .unwrap();
    let tok: serde_json::Value = post(
        "/api/v1/orgs/acme/tokens",
        admin,
        json!({"name": "cd", "scope": "register_deploy"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let tok = tok["token"].as_str().unwrap().to_string();
    post(
        "/api/v1/orgs/acme/projects",
        admin,
        json!({"slug": "web", "name": "Web"}),
    )
    .await
    .unwrap();
    post(
        "/api/v1/orgs/acme/projects/web/code-deployments",
        admin,
        json!({"slug": "main", "repo_url": "https://github.com/acme/web", "branch": "main"}),
    )
    .await
    .unwrap();
    c.put(format!("{base}/api/v1/orgs/acme/integrations/circleci"))
        .bearer_auth(admin)
        .json(&json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    c.put(format!(
        "{base}/api/v1/orgs/acme/integrations/circleci/default-build-server"
    ))
    .bearer_auth(admin)
    .json(&json!({"project": "web"}))
    .send()
    .await
    .unwrap();

    let url = Arc::new(format!("{base}/api/v1/orgs/acme/projects/web/deploys"));
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..conc {
        let (c, url, tok, counter) = (c.clone(), url.clone(), tok.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            loop {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return lat;
                }
                let t = Instant::now();
                let r = c
                    .post(url.as_str())
                    .bearer_auth(&tok)
                    .json(&json!({"sha": format!("{:040x}", i)}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
                let b: serde_json::Value = r.json().await.unwrap();
                assert_eq!(b["builds"]["state"], "pending");
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat: Vec<Duration> = vec![];
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{total} deploy registrations, {conc} concurrent clients: {:.2}s, {:.0} registrations/s, p50 {:?}, p99 {:?}",
        secs,
        total as f64 / secs,
        pct(0.50),
        pct(0.99)
    );
    assert_eq!(store.capture_queue_depth().unwrap() as usize, total);
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
