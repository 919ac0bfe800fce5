//! The in-place migrations `serve` runs in the background survive a kill:
//! the real `buildsnap` binary is SIGKILLed mid-way, started again on the
//! same data dir, and carries on until it is done; everything then reads
//! exactly as it did before.
//! - Re-encoding snapshots stored as JSON text (before migration 4) into
//!   zstd frames, read back through the HTTP API too.
//! - Thinning the build index of snapshots written before migration 11,
//!   read back through the store.

#[path = "support/ports.rs"]
mod ports;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use buildsnap_store::{NewCodeDeployment, Scope, SecretKey, Store};
use ports::free_port;
use serde_json::json;

/// Text snapshots written the way a database from before migration 4 holds
/// them. Enough that a debug build takes seconds over them, so the kill
/// lands mid-way.
const ROWS: i64 = 3000;
const ADMIN: &str = "admin-token-for-upkeep-restart";

/// The builds text of deploy `id`: five builds of five jobs, the id inside
/// so that rows cannot be mixed up unnoticed.
fn builds_text(id: i64) -> String {
    let builds: Vec<_> = (0..5)
        .map(|b| {
            json!({
                "id": format!("wf-{id}-{b}"), "name": format!("build {b}"), "status": "success",
                "provider_status": "success", "url": format!("https://app.circleci.com/pipelines/gh/acme/web/{id}/workflows/wf-{id}-{b}"),
                "pipeline_id": format!("p-{id}"), "pipeline_number": id, "sha": "a".repeat(40),
                "branch": "main", "tag": null, "created_at": "2025-06-01T11:00:00Z", "stopped_at": "2025-06-01T11:08:00Z",
                "jobs": (0..5).map(|j| json!({
                    "id": format!("job-{id}-{b}-{j}"), "name": format!("job {j}"), "number": id * 100 + j,
                    "type": "build", "status": "success", "provider_status": "success",
                    "started_at": "2025-06-01T11:01:00Z", "stopped_at": "2025-06-01T11:02:00Z", "url": null,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string(&builds).unwrap()
}

/// The store of `dir` with org acme (and an org token, returned), project
/// web and its code deployment.
fn acme(dir: &Path) -> (Store, String) {
    let store = Store::open(dir, SecretKey::load_or_create(dir, None).unwrap()).unwrap();
    store.create_org("acme", "Acme").unwrap();
    let token = store.create_token("acme", "t", Scope::All).unwrap().token;
    store.create_project("acme", "web", "Web").unwrap();
    let cd = NewCodeDeployment {
        slug: "main".into(),
        repo_url: "https://github.com/acme/web".into(),
        branch: "main".into(),
        build_project: Some("gh/acme/web".into()),
        branch_builds_only: false,
    };
    store.create_code_deployment("acme", "web", &cd).unwrap();
    (store, token)
}

/// A data dir whose store holds `ROWS` complete snapshots as JSON text.
fn legacy_data_dir(dir: &Path) -> String {
    let (store, token) = acme(dir);
    drop(store);
    let mut c = rusqlite::Connection::open(dir.join(Store::DB_FILE)).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut deploy = tx
            .prepare(
                "INSERT INTO deploys (id, org_id, project_id, code_deployment_id, sha, environment, deployed_at, created_at)
                 VALUES (?1, 1, 1, 1, ?2, 'production', ?3, ?3)",
            )
            .unwrap();
        let mut snapshot = tx
            .prepare(
                "INSERT INTO snapshots (deploy_id, state, captured_at, provider, build_project, summary, builds, explain)
                 VALUES (?1, 'complete', ?2, 'circleci', 'gh/acme/web', 'success', ?3, NULL)",
            )
            .unwrap();
        for id in 1..=ROWS {
            let at = 1_748_779_200_000_000_000i64 + id * 1_000_000_000;
            deploy
                .execute(rusqlite::params![id, "a".repeat(40), at])
                .unwrap();
            snapshot
                .execute(rusqlite::params![id, at, builds_text(id)])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    token
}

fn spawn(dir: &Path, port: u16, log: &str) -> Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_buildsnap"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args(["--admin-token", ADMIN, "--sync-interval", "0"])
        .env_remove("BUILDSNAP_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn buildsnap")
}

/// (rows stored as zstd, rows stored as text), read beside the server.
fn counts(dir: &Path) -> (i64, i64) {
    let c = rusqlite::Connection::open_with_flags(
        dir.join(Store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row(
        "SELECT sum(builds_encoding = 'zstd'), sum(builds_encoding = 'json') FROM snapshots",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_9_while_re_encoding_then_restart_finishes_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let token = legacy_data_dir(dir);
    assert_eq!(counts(dir), (0, ROWS));

    let port = free_port();
    let mut first = spawn(dir, port, "first.log");
    // Mid-way: some rows re-encoded, some not.
    wait_until(
        "the first re-encoded batch",
        Duration::from_secs(120),
        || counts(dir).0 > 0,
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let (zstd, text) = counts(dir);
    assert!(
        zstd > 0 && text > 0,
        "the kill must land mid-way to prove anything: {zstd} re-encoded, {text} left"
    );
    assert_eq!(zstd + text, ROWS);

    let mut second = spawn(dir, port, "second.log");
    wait_until(
        "the re-encoding to finish",
        Duration::from_secs(600),
        || counts(dir) == (ROWS, 0),
    );
    let log = std::fs::read_to_string(dir.join("second.log")).unwrap();
    assert!(
        log.contains(&format!("snapshots={text}"))
            || log.contains(&format!("\"snapshots\":{text}")),
        "the second run picked up exactly the rows left: {log}"
    );

    // Every snapshot reads as the text it was, straight from the store
    // (decoded) and through the API.
    let c = rusqlite::Connection::open_with_flags(
        dir.join(Store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut rows = c
        .prepare("SELECT deploy_id, builds, builds_zstd FROM snapshots ORDER BY deploy_id")
        .unwrap();
    let rows: Vec<(i64, String, Vec<u8>)> = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len() as i64, ROWS);
    for (id, text, frame) in &rows {
        assert_eq!(text, "", "deploy {id}: the text is gone");
        let decoded = zstd::decode_all(&frame[..]).unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            builds_text(*id),
            "deploy {id}"
        );
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        for id in [1, ROWS / 2, ROWS] {
            let url = format!("http://127.0.0.1:{port}/api/v1/orgs/acme/deploys/{id}/builds");
            let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
            let want: serde_json::Value = serde_json::from_str(&builds_text(id)).unwrap();
            assert_eq!(body["builds"], want, "deploy {id}");
        }
    });
    second.kill().unwrap();
    second.wait().unwrap();
}

/// Five final builds of two jobs each for deploy `i`'s commit.
fn indexed_builds(i: i64) -> Vec<buildsnap_store::IndexedBuild> {
    (0..5)
        .map(|b| {
            serde_json::from_value(json!({
                "id": format!("wf-{i}-{b}"), "project": "gh/acme/web", "name": format!("build {b}"),
                "status": "success", "provider_status": "success",
                "url": format!("https://app.circleci.com/pipelines/gh/acme/web/{i}/workflows/wf-{i}-{b}"),
                "pipeline_id": format!("p-{i}"), "pipeline_number": i, "sha": sha_of(i),
                "branch": "main", "tag": null, "created_at": "2025-06-01T11:00:00Z",
                "stopped_at": "2025-06-01T11:08:00Z", "jobs_complete": true,
                "jobs": (0..2).map(|j| json!({
                    "id": format!("job-{i}-{b}-{j}"), "name": format!("job {j}"), "number": i * 100 + j,
                    "kind": "build", "status": "success", "provider_status": "success",
                    "started_at": "2025-06-01T11:01:00Z", "stopped_at": "2025-06-01T11:02:00Z", "url": null,
                })).collect::<Vec<_>>(),
            }))
            .unwrap()
        })
        .collect()
}

fn sha_of(i: i64) -> String {
    format!("{i:040x}")
}

/// (index rows thinned, final rows not thinned, the pass's stored progress).
fn thin_counts(dir: &Path) -> (i64, i64, i64) {
    let c = rusqlite::Connection::open_with_flags(
        dir.join(Store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    let (thin, whole) = c
        .query_row(
            "SELECT count(frozen_in), count(*) - count(frozen_in) FROM provider_builds",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let through: Option<Vec<u8>> = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'index_thin_through'",
            [],
            |r| r.get(0),
        )
        .ok();
    let through = through.map_or(0, |v| String::from_utf8(v).unwrap().parse().unwrap());
    (thin, whole, through)
}

#[test]
fn kill_9_while_thinning_the_build_index_then_restart_finishes_and_reads_the_same() {
    use buildsnap_domain::{Status, Summary, freeze};
    use buildsnap_store::{FinalSnapshot, NewDeploy, ProviderToken, SnapshotState, ts};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Snapshots written before their builds were indexed: nothing thinned
    // as written, as in a database from before migration 11.
    let (store, _) = acme(dir);
    let account = buildsnap_store::Account {
        id: "1".into(),
        login: "octo".into(),
        name: "Octo".into(),
    };
    let token = ProviderToken::new("tok-123456".into());
    store
        .enable_integration("acme", "circleci", "https://circleci.com", &token, &account)
        .unwrap();
    store
        .set_default_build_server("acme", "circleci", "web")
        .unwrap();
    const DEPLOYS: i64 = 1500;
    let mut last = 0;
    for i in 1..=DEPLOYS {
        let new = NewDeploy {
            sha: sha_of(i),
            environment: None,
            deployed_at: None,
            code_deployment: None,
        };
        let d = store.register_deploy("acme", "web", &new).unwrap();
        let builds = indexed_builds(i);
        let snap = FinalSnapshot {
            state: SnapshotState::Complete,
            summary: Summary::Status(Status::Success),
            builds: freeze::freeze(&builds, ts::now()),
            explain: None,
            build_project: Some("gh/acme/web".into()),
            captured_at: ts::now(),
        };
        assert!(store.finish_capture(d.id, &snap).unwrap());
        assert!(
            store
                .index_builds("acme", "circleci", &builds, None)
                .unwrap()
        );
        last = d.id;
    }
    let lookup = |s: &Store, i: i64| {
        let mut builds = s
            .index_lookup("acme", "circleci", "gh/acme/web", &sha_of(i))
            .unwrap()
            .builds;
        for b in &mut builds {
            b.last_seen = None;
        }
        builds
    };
    let probes = [1, DEPLOYS / 2, DEPLOYS];
    let before: Vec<_> = probes.iter().map(|i| lookup(&store, *i)).collect();
    drop(store);
    // What migration 11 records when it upgrades such a database.
    rusqlite::Connection::open(dir.join(Store::DB_FILE))
        .unwrap()
        .execute(
            "UPDATE meta SET value = CAST(?1 AS BLOB) WHERE key = 'index_thin_until'",
            [last.to_string()],
        )
        .unwrap();
    let rows = DEPLOYS * 5;
    assert_eq!(thin_counts(dir), (0, rows, 0));

    let port = free_port();
    let mut first = spawn(dir, port, "first.log");
    wait_until("the first thinned chunk", Duration::from_secs(120), || {
        thin_counts(dir).0 > 0
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let (thin, whole, through) = thin_counts(dir);
    assert!(
        thin > 0 && whole > 0,
        "the kill must land mid-way to prove anything: {thin} thinned, {whole} left"
    );
    assert_eq!(thin, through * 5, "the progress is what was thinned");

    let mut second = spawn(dir, port, "second.log");
    wait_until("the thinning to finish", Duration::from_secs(600), || {
        thin_counts(dir).0 == rows
    });
    wait_until("the pass to log its end", Duration::from_secs(60), || {
        std::fs::read_to_string(dir.join("second.log"))
            .unwrap()
            .contains("each final build once")
    });
    second.kill().unwrap();
    second.wait().unwrap();
    let log = std::fs::read_to_string(dir.join("second.log")).unwrap();
    let left = DEPLOYS - through;
    assert!(
        log.contains(&format!("snapshots={left}"))
            || log.contains(&format!("\"snapshots\":{left}")),
        "the second run read exactly the snapshots after the progress ({left}): {log}"
    );
    let store = Store::open(dir, SecretKey::load_or_create(dir, None).unwrap()).unwrap();
    let after: Vec<_> = probes.iter().map(|i| lookup(&store, *i)).collect();
    assert_eq!(after, before, "the index reads as before");
}
