//! What another replica on the same PostgreSQL database tells a running
//! `serve` (in-process, on a throwaway cluster; skipped loudly without
//! PostgreSQL binaries): a disable fired there ends this server's calls of
//! that integration, a pause recorded there holds this server's requests,
//! and after its listener lost its connection the server re-reads the
//! pauses. The other replica is a plain client doing what its store does
//! in the same transaction (`pg_notify('buildsnap', …)`), so the test
//! controls exactly what is sent (`tests/replicas.rs` runs two real ones).
//! Also: the pause file of an older version is imported at start.

use std::time::{Duration, Instant, SystemTime};

use buildsnap::runtime::origin::Origin;
use buildsnap::runtime::pause::PauseKey;
use buildsnap::serve;
use buildsnap::settings::Settings;
use buildsnap_pg_cluster::PgCluster;

const KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn key(org: &str) -> PauseKey {
    PauseKey {
        org: org.into(),
        plugin: "circleci".into(),
        origin: Origin::parse("https://circleci.com").unwrap(),
    }
}

fn ms_from_now(ms: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    u64::try_from(now.as_millis()).unwrap() + ms
}

/// Waits up to `within` for `ok`.
async fn until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The other replica's commit of `event` (JSON), from a blocking thread.
async fn notify(url: &str, event: String) {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.execute("SELECT pg_notify('buildsnap', $1)", &[&event])
            .unwrap();
    })
    .await
    .unwrap();
}

async fn sql(url: &str, text: &'static str) -> u64 {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.execute(text, &[]).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replicas_disables_and_pauses_reach_a_running_server() {
    let Some(cluster) = tokio::task::spawn_blocking(|| PgCluster::start().unwrap())
        .await
        .unwrap()
    else {
        return;
    };
    let url = cluster.create_database("replica_events").unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A pause written by a version that kept them in a file.
    let old_until = ms_from_now(60_000);
    std::fs::write(
        dir.path().join("rate-limit-pauses.json"),
        format!(
            r#"[{{"org":"old","plugin":"circleci","origin":"https://circleci.com","until_unix_ms":{old_until}}}]"#
        ),
    )
    .unwrap();
    let settings = Settings::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir.path())
        .database_url(Some(url.clone()))
        .secret_key(Some(KEY.into()))
        .admin_token(Some("admin-token-for-replica-events".into()))
        .sync_interval(Duration::ZERO)
        .build()
        .unwrap();
    let server = serve::start(settings).await.unwrap();
    let pauses = server.registry.pauses();

    // The file's pause is in force, in the store, and the file is gone.
    assert!(pauses.get(key("old")).until().is_some());
    assert!(!dir.path().join("rate-limit-pauses.json").exists());
    assert_eq!(
        sql(
            &url,
            "UPDATE rate_limit_pauses SET org = org WHERE org = 'old'"
        )
        .await,
        1
    );

    // A disable committed by the other replica ends this one's calls.
    let disabled = server.capture.disables.listen("acme", "circleci");
    notify(
        &url,
        r#"{"event":"integration_disabled","org":"acme","provider":"circleci"}"#.into(),
    )
    .await;
    until("the disable", Duration::from_secs(2), || {
        disabled.has_changed().unwrap()
    })
    .await;

    // A pause the other replica hit holds this one's requests.
    assert!(pauses.get(key("acme")).until().is_none());
    notify(
        &url,
        format!(
            r#"{{"event":"pause_changed","org":"acme","plugin":"circleci","origin":"https://circleci.com","until_unix_ms":{}}}"#,
            ms_from_now(30_000)
        ),
    )
    .await;
    until("the pause", Duration::from_secs(2), || {
        pauses.get(key("acme")).until().is_some()
    })
    .await;

    // A pause recorded while the listener was away (no event heard) is
    // taken up by the resync once it is back.
    sql(
        &url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE application_name = 'buildsnap-listener' AND datname = current_database()",
    )
    .await;
    let quiet = ms_from_now(30_000);
    let insert = format!(
        "INSERT INTO rate_limit_pauses VALUES ('quiet', 'circleci', 'https://circleci.com', {quiet})"
    );
    let u = url.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
        c.batch_execute(&insert).unwrap();
    })
    .await
    .unwrap();
    until("the resync", Duration::from_secs(10), || {
        pauses.get(key("quiet")).until().is_some()
    })
    .await;

    server.stop().await.unwrap();
}
