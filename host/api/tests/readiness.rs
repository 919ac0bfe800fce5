//! `GET /readyz` for load balancers: ready while the database answers,
//! 503 with the reason when it does not, while `/healthz` (liveness) still
//! answers 200; on SQLite and on a real PostgreSQL server that is killed.

mod common;

use std::time::{Duration, Instant};

use buildsnap_pg_cluster::PgCluster;
use buildsnap_store::{SecretKey, Store};
use common::*;
use serde_json::json;

#[tokio::test]
async fn ready_on_sqlite_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    let c = client();
    let r = call(&c, "GET", &format!("{}/readyz", srv.base), None, None).await;
    assert_eq!(
        (r.status, r.body),
        (200, json!({"status": "ready", "database": "sqlite"}))
    );
    srv.stop().await;
}

#[tokio::test]
async fn unready_when_postgresql_goes_away_and_alive_all_along() {
    let Some(mut cluster) = tokio::task::spawn_blocking(|| PgCluster::start().unwrap())
        .await
        .unwrap()
    else {
        eprintln!("readiness: NO POSTGRESQL BINARIES, the PostgreSQL half is skipped");
        assert!(std::env::var_os("CI").is_none(), "CI must run it");
        return;
    };
    let url = cluster.create_database("readiness").unwrap();
    let store = tokio::task::spawn_blocking(move || {
        Store::open_postgres(&url, SecretKey::generate().unwrap()).unwrap()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_on(dir.path(), store, |b| b).await;
    let c = client();
    let ready = format!("{}/readyz", srv.base);
    let r = call(&c, "GET", &ready, None, None).await;
    assert_eq!(
        (r.status, r.body),
        (200, json!({"status": "ready", "database": "postgresql"}))
    );
    tokio::task::spawn_blocking(move || {
        cluster.kill_server().unwrap();
        cluster
    })
    .await
    .unwrap();
    let started = Instant::now();
    let r = call(&c, "GET", &ready, None, None).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.body["status"], "unavailable");
    assert_eq!(r.body["database"], "postgresql");
    assert!(!r.body["reason"].as_str().unwrap().is_empty(), "{}", r.text);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered within the timeout"
    );
    let r = call(&c, "GET", &format!("{}/healthz", srv.base), None, None).await;
    assert_eq!(r.status, 200, "alive while the database is away");
}
