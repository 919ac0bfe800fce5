//! `copy_to_postgres`: a SQLite installation with every kind of data,
//! copied into an empty PostgreSQL database, reads back the same through
//! the store's public API; new rows get fresh ids; a non-empty target, a
//! wrong key and a data dir in use are refused, with nothing written.
//!
//! PostgreSQL only (the copy's target); skipped loudly without its
//! binaries, failing with `CI` set (`common::TestDb::postgres`).

mod common;

use buildsnap_domain::{IndexedBuild, SnapshotState, Status, Summary, freeze};
use buildsnap_store::*;
use common::{TestDb, deploy_now, report, seed};
use zeroize::Zeroizing;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const ADMIN: &str = "admin-token-0123456789abcdef";

fn build(id: &str, status: &str) -> IndexedBuild {
    let stopped = (status != "running").then_some("2025-06-01T11:08:00Z");
    serde_json::from_value(serde_json::json!({
        "id": id, "project": "gh/acme/web", "name": id, "status": status, "provider_status": status,
        "url": format!("https://ci.example/{id}"), "pipeline_id": "p1", "pipeline_number": 1, "sha": SHA,
        "branch": "main", "tag": null, "created_at": "2025-06-01T11:00:00Z", "stopped_at": stopped,
        "jobs_complete": true,
        "jobs": [{"id": format!("{id}-job"), "name": "test", "number": 1, "kind": "build", "status": status,
                  "provider_status": status, "started_at": null, "stopped_at": null, "url": null}],
    }))
    .unwrap()
}

/// Tokens made by the seeding, to authenticate with on the copy.
struct Seeded {
    org_token: String,
    deploy_token: String,
    alert_hook: i64,
}

/// Every kind of data the store holds: two orgs, admin and org tokens, an
/// integration with a sealed token and webhook secret, a project with two
/// code deployments, complete snapshots (frozen builds, an alert delivery
/// each) and pending captures, index rows with a commit search, a sync
/// cursor, a webhook event and an alert hook.
fn seed_everything(s: &Store) -> Seeded {
    seed(s);
    s.create_org("beta", "Beta Ltd").unwrap();
    s.create_project("beta", "api", "API").unwrap();
    s.bootstrap_admin(Some(ADMIN)).unwrap();
    let org_token = s.create_token("acme", "ops", Scope::All).unwrap().token;
    let deploy_token = s
        .create_token("acme", "ci", Scope::RegisterDeploy)
        .unwrap()
        .token;
    s.set_webhook_secret(
        "acme",
        "circleci",
        &ProviderToken::new("whsec-0123456789".into()),
    )
    .unwrap();
    let alert_hook = s
        .create_alert_hook(
            "acme",
            &NewAlertHook {
                url: "https://hooks.example.com/services/a1b2".into(),
                events: vec!["snapshot.completed".into()],
                format: "buildsnap".into(),
                secret: Zeroizing::new("0123456789abcdef-secret".into()),
            },
        )
        .unwrap()
        .id;
    let builds = [
        build("b1", "success"),
        build("b2", "failed"),
        build("b3", "running"),
    ];
    s.index_builds(
        "acme",
        "circleci",
        &builds,
        Some(("gh/acme/web", SHA, &report(3))),
    )
    .unwrap();
    s.save_sync(
        "acme",
        "circleci",
        "gh/acme/web",
        &builds[..1],
        Some("cursor-42"),
    )
    .unwrap();
    s.apply_webhook_event(
        "acme",
        "circleci",
        "evt-1",
        "workflow-completed",
        &[build("b4", "success")],
        &[],
    )
    .unwrap();
    // Deploys: the first ones captured (complete, builds frozen), the
    // last ones still pending in the capture queue.
    for i in 0..12 {
        let d = deploy_now(s, SHA);
        if i < 8 {
            let job = s.next_capture_job().unwrap().unwrap();
            assert_eq!(job.deploy_id, d.id);
            let at = ts::now();
            let fin = FinalSnapshot {
                state: SnapshotState::Complete,
                summary: Summary::Status(Status::Failed),
                builds: builds.iter().map(|b| freeze::freeze_build(b, at)).collect(),
                explain: None,
                build_project: Some("gh/acme/web".into()),
                captured_at: at,
            };
            assert!(s.complete_capture(d.id, &fin).unwrap());
        }
    }
    Seeded {
        org_token,
        deploy_token,
        alert_hook,
    }
}

/// What the public reads of `s` return, as text to compare.
fn reads(s: &Store, seeded: &Seeded) -> Vec<String> {
    let mut out = Vec::new();
    let page = s.list_deploys_page("acme", None, 100, None).unwrap();
    out.push(serde_json::to_string(&page.deploys).unwrap());
    let small = s.list_deploys_page("acme", Some("web"), 5, None).unwrap();
    let next = s
        .list_deploys_page("acme", Some("web"), 5, small.next)
        .unwrap();
    out.push(serde_json::to_string(&next.deploys).unwrap());
    let id = page.deploys.last().unwrap().id;
    out.push(serde_json::to_string(&s.get_deploy("acme", id).unwrap()).unwrap());
    out.push(format!("{:?}", s.get_org("beta").unwrap()));
    out.push(format!("{:?}", s.list_projects("acme").unwrap()));
    out.push(format!("{:?}", s.integration("acme", "circleci").unwrap()));
    let (url, token) = s.integration_token("acme", "circleci").unwrap().unwrap();
    out.push(format!("{url} {}", token.expose()));
    let (_, secret) = s.webhook_secret("acme", "circleci").unwrap().unwrap();
    out.push(secret.expose().to_string());
    out.push(format!("{:?}", s.alert_hooks("acme").unwrap()));
    out.push(format!(
        "{:?}",
        s.alert_deliveries("acme", seeded.alert_hook, 100).unwrap()
    ));
    let lookup = s
        .index_lookup("acme", "circleci", "gh/acme/web", SHA)
        .unwrap();
    out.push(format!("{:?} {:?}", lookup.search, lookup.builds));
    out.push(format!(
        "{:?}",
        s.sync_cursor("acme", "circleci", "gh/acme/web").unwrap()
    ));
    for t in [ADMIN, &seeded.org_token, &seeded.deploy_token] {
        out.push(format!("{:?}", s.authenticate(t).unwrap()));
    }
    out.push(format!("{}", s.capture_queue_depth().unwrap()));
    out
}

fn sqlite_counts(dir: &std::path::Path) -> Vec<(String, i64)> {
    let c = rusqlite::Connection::open(dir.join(Store::DB_FILE)).unwrap();
    let names: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .map(|n| {
            let count = c
                .query_row(&format!("SELECT count(*) FROM {n}"), [], |r| r.get(0))
                .unwrap();
            (n, count)
        })
        .collect()
}

fn pg_rows(db: &TestDb) -> i64 {
    let mut c = db.pg_client().unwrap();
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_name <> 'buildsnap_schema'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tables
        .iter()
        .map(|t| {
            c.query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .unwrap()
                .get::<_, i64>(0)
        })
        .sum()
}

#[test]
fn a_whole_installation_reads_back_the_same_from_postgres() {
    let Some(target) = TestDb::postgres("copy_whole") else {
        return;
    };
    let source = TestDb::sqlite();
    let key = || SecretKey::load_or_create(source.dir.path(), None).unwrap();
    let s = source.open();
    let seeded = seed_everything(&s);
    let before = reads(&s, &seeded);
    drop(s);
    let counts = sqlite_counts(source.dir.path());

    let report = copy_to_postgres(source.dir.path(), key(), target.url().unwrap()).unwrap();

    // Every table, with SQLite's row count; the kinds seeded all have rows.
    let mut copied: Vec<(String, i64)> = report
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows as i64))
        .collect();
    copied.sort();
    assert_eq!(copied, counts);
    for t in [
        "meta",
        "admin",
        "orgs",
        "tokens",
        "integrations",
        "projects",
        "code_deployments",
        "deploys",
        "snapshots",
        "capture_jobs",
        "provider_builds",
        "provider_jobs",
        "commit_searches",
        "sync_cursors",
        "webhook_events",
        "snapshot_builds",
        "alert_hooks",
        "alert_deliveries",
    ] {
        assert!(
            copied.iter().any(|(n, rows)| n == t && *rows > 0),
            "{t}: {copied:?}"
        );
    }
    assert_eq!(
        report.rows() as i64,
        counts.iter().map(|c| c.1).sum::<i64>()
    );
    assert!(report.bytes() > 0);
    // Two sealed integration values, two of the alert hook.
    assert_eq!(report.sealed_checked, 4);
    assert_eq!(report.schema_version, POSTGRES_SCHEMA_VERSION);

    // Analyzed: the planner knows each table's size (a table never
    // analyzed has reltuples -1), so the first queries are not planned
    // for empty tables.
    assert_eq!(
        target.scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'r'
               AND c.relname <> 'buildsnap_schema' AND c.reltuples < 0"
        ),
        0
    );
    assert_eq!(
        target.scalar("SELECT reltuples::bigint FROM pg_class WHERE relname = 'deploys'"),
        counts.iter().find(|c| c.0 == "deploys").unwrap().1
    );

    let p = target.open_with(key()).unwrap();
    assert_eq!(reads(&p, &seeded), before);
    // The served form too (builds as stored, zstd frames passed through).
    let sqlite = source.open();
    let id = p.list_deploys_page("acme", None, 1, None).unwrap().deploys[0].id;
    assert_eq!(
        format!("{:?}", p.get_deploy_served("acme", id).unwrap()),
        format!("{:?}", sqlite.get_deploy_served("acme", id).unwrap())
    );
    drop(sqlite);

    // The sequences are past the copied ids: new rows get fresh ones.
    let max_deploy = target.scalar("SELECT max(id) FROM deploys");
    let d = deploy_now(&p, SHA);
    assert_eq!(d.id, max_deploy + 1);
    p.create_org("gamma", "Gamma").unwrap();
    assert_eq!(target.scalar("SELECT id FROM orgs WHERE slug = 'gamma'"), 3);
    let t = p.create_token("gamma", "x", Scope::All).unwrap();
    assert!(p.authenticate(&t.token).unwrap().is_some());
    assert_eq!(target.scalar("SELECT max(id) FROM tokens"), 3);
    p.create_project("gamma", "site", "Site").unwrap();
    assert_eq!(
        target.scalar("SELECT id FROM projects WHERE slug = 'site'"),
        3
    );
    // The pending captures are still queued, and the new one after them.
    assert_eq!(p.capture_queue_depth().unwrap(), 5);
}

#[test]
fn a_target_with_data_is_refused_and_left_unchanged() {
    let Some(target) = TestDb::postgres("copy_not_empty") else {
        return;
    };
    let source = TestDb::sqlite();
    let s = source.open();
    seed(&s);
    deploy_now(&s, SHA);
    drop(s);
    let key = || SecretKey::load_or_create(source.dir.path(), None).unwrap();

    // A target a server was started on once: only `meta` (its key check)
    // and what was made there.
    let p = target.open();
    p.create_org("other", "Other").unwrap();
    drop(p);
    let rows = pg_rows(&target);
    let e = copy_to_postgres(source.dir.path(), key(), target.url().unwrap()).unwrap_err();
    assert!(matches!(e, StoreError::TargetNotEmpty { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("not empty") && msg.contains("table "), "{msg}");
    assert_eq!(pg_rows(&target), rows);
    assert_eq!(target.scalar("SELECT count(*) FROM deploys"), 0);

    // Only the key check, as a bare `serve` start leaves it: refused too.
    let bare = TestDb::postgres("copy_meta_only").unwrap();
    drop(bare.open());
    let e = copy_to_postgres(source.dir.path(), key(), bare.url().unwrap()).unwrap_err();
    assert!(e.to_string().contains("table meta has rows"), "{e}");
}

#[test]
fn a_wrong_key_is_refused_before_anything_is_written() {
    let Some(target) = TestDb::postgres("copy_wrong_key") else {
        return;
    };
    let source = TestDb::sqlite();
    let s = source.open();
    seed(&s);
    drop(s);
    let wrong = SecretKey::generate().unwrap();
    let e = copy_to_postgres(source.dir.path(), wrong, target.url().unwrap()).unwrap_err();
    assert!(matches!(e, StoreError::WrongSecretKey), "{e}");
    // Not even the schema: the target was never connected to.
    assert_eq!(
        target
            .scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"),
        0
    );

    // A token sealed under another key, with the right key check, is
    // found too: every sealed value is opened, not only the sample.
    let other = SecretKey::generate().unwrap();
    let elsewhere = TestDb::sqlite();
    let o = Store::open(elsewhere.dir.path(), other).unwrap();
    seed(&o);
    drop(o);
    let sealed: Vec<u8> = rusqlite::Connection::open(elsewhere.dir.path().join(Store::DB_FILE))
        .unwrap()
        .query_row("SELECT token_sealed FROM integrations", [], |r| r.get(0))
        .unwrap();
    source.execute_bytes("UPDATE integrations SET token_sealed = ?1", &[&sealed]);
    let key = SecretKey::load_or_create(source.dir.path(), None).unwrap();
    let e = copy_to_postgres(source.dir.path(), key, target.url().unwrap()).unwrap_err();
    assert!(matches!(e, StoreError::WrongSecretKey), "{e}");
    assert_eq!(
        target
            .scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"),
        0
    );
}

#[test]
fn a_data_dir_in_use_is_refused_and_held_alone_during_the_copy() {
    let Some(target) = TestDb::postgres("copy_in_use") else {
        return;
    };
    let source = TestDb::sqlite();
    let s = source.open();
    seed(&s);
    let key = || SecretKey::load_or_create(source.dir.path(), None).unwrap();
    // Another open store (as a running server holds it): refused, nothing
    // written.
    let e = copy_to_postgres(source.dir.path(), key(), target.url().unwrap()).unwrap_err();
    assert!(matches!(e, StoreError::DataDirInUse { .. }), "{e}");
    assert!(e.to_string().contains("stop it first"), "{e}");
    assert_eq!(
        target
            .scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"),
        0
    );
    drop(s);
    // A directory that is not a data dir at all.
    let empty = tempfile::tempdir().unwrap();
    let e = copy_to_postgres(empty.path(), key(), target.url().unwrap()).unwrap_err();
    assert!(e.to_string().contains("not a buildsnap data dir"), "{e}");
    // Stopped: the copy runs, and a store opened on it afterwards works.
    copy_to_postgres(source.dir.path(), key(), target.url().unwrap()).unwrap();
    drop(source.open());
}

#[test]
fn a_failure_part_way_leaves_the_target_empty() {
    let Some(target) = TestDb::postgres("copy_fails") else {
        return;
    };
    let source = TestDb::sqlite();
    let s = source.open();
    seed_everything(&s);
    drop(s);
    // A column PostgreSQL lacks, on a table copied after most others:
    // the tables before it are copied, then the copy fails on it.
    rusqlite::Connection::open(source.dir.path().join(Store::DB_FILE))
        .unwrap()
        .execute_batch("ALTER TABLE alert_deliveries ADD COLUMN extra TEXT")
        .unwrap();
    let key = || SecretKey::load_or_create(source.dir.path(), None).unwrap();
    let e = copy_to_postgres(source.dir.path(), key(), target.url().unwrap()).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, StoreError::CopyFailed { ref table, .. } if table == "alert_deliveries"),
        "{msg}"
    );
    assert!(msg.contains("extra"), "{msg}");
    // The schema is there (migrated before the copy), with no row at all.
    assert_eq!(pg_rows(&target), 0);
    assert!(target.scalar("SELECT count(*) FROM buildsnap_schema") > 0);
}
