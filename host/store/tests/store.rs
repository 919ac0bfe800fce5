//! Store behaviour through its public API, on real files.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod common;

use buildsnap_domain::{Status, Summary};
use buildsnap_store::*;
use common::{account, frozen, on_both, open, seed};

fn deploy(sha: &str) -> NewDeploy {
    NewDeploy {
        sha: sha.into(),
        environment: None,
        deployed_at: None,
        code_deployment: None,
    }
}

#[test]
fn everything_persists_across_reopen() {
    on_both("everything_persists_across_reopen", |db| {
        let s = db.open();
        let admin = s
            .bootstrap_admin(None)
            .unwrap()
            .expect("first start generates the admin token");
        assert!(admin.starts_with("bsa_"));
        seed(&s);
        let t = s.create_token("acme", "ci", Scope::RegisterDeploy).unwrap();
        let d = s
            .register_deploy("acme", "web", &deploy("ABCDEF1"))
            .unwrap();
        assert_eq!(d.sha, "abcdef1");
        assert_eq!(d.builds.state, SnapshotState::Pending);
        drop(s);

        let s = db.open();
        assert_eq!(
            s.bootstrap_admin(None).unwrap(),
            None,
            "generated only once"
        );
        assert_eq!(s.authenticate(&admin).unwrap(), Some(Principal::Admin));
        assert_eq!(
            s.authenticate(&t.token).unwrap(),
            Some(Principal::Org {
                org: "acme".into(),
                scope: Scope::RegisterDeploy
            })
        );
        assert_eq!(s.authenticate("bso_wrong").unwrap(), None);
        assert_eq!(s.get_deploy("acme", d.id).unwrap(), d);
        let p = &s.list_projects("acme").unwrap()[0];
        assert_eq!(
            (p.slug.as_str(), p.build_server.as_deref()),
            ("web", Some("circleci"))
        );
        let (base, tok) = s.integration_token("acme", "circleci").unwrap().unwrap();
        assert_eq!(
            (base.as_str(), tok.expose()),
            ("https://circleci.com", "tok-123456")
        );
        assert_eq!(s.capture_queue_depth().unwrap(), 1);
        // Schema version recorded.
        if db.is_postgres() {
            let v = db.scalar("SELECT MAX(version) FROM buildsnap_schema");
            assert_eq!(v, POSTGRES_SCHEMA_VERSION);
            return;
        }
        let c = rusqlite::Connection::open(s.path()).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 13, "migration 13 (changed final builds) applied");
        let mode: String = c
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    });
}

#[test]
fn admin_token_from_env_replaces_the_generated_one() {
    on_both("admin_token_from_env_replaces_the_generated_one", |db| {
        let s = db.open();
        let generated = s.bootstrap_admin(None).unwrap().unwrap();
        // Authenticated once, so it sits in the in-memory cache ...
        assert_eq!(s.authenticate(&generated).unwrap(), Some(Principal::Admin));
        assert_eq!(s.authenticate_cached(&generated), Some(Principal::Admin));
        assert_eq!(
            s.bootstrap_admin(Some("operator-chosen-admin-token"))
                .unwrap(),
            None
        );
        // ... which replacing the admin token clears.
        assert_eq!(s.authenticate_cached(&generated), None);
        assert_eq!(s.authenticate(&generated).unwrap(), None);
        assert_eq!(
            s.authenticate("operator-chosen-admin-token").unwrap(),
            Some(Principal::Admin)
        );
        assert!(s.bootstrap_admin(Some("  ")).is_err());
        // Only the hash is stored.
        drop(s);
        if db.is_postgres() {
            let n = db.scalar(
                "SELECT COUNT(*) FROM admin
                 WHERE position(convert_to('operator-chosen-admin-token', 'UTF8') IN token_hash) > 0
                    OR admin::text LIKE '%operator-chosen-admin-token%'",
            );
            assert_eq!(n, 0);
            return;
        }
        for f in std::fs::read_dir(db.dir.path()).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            assert!(
                !bytes
                    .windows(27)
                    .any(|w| w == b"operator-chosen-admin-token")
            );
        }
    });
}

#[test]
fn wrong_secret_key_is_refused_with_a_clear_error() {
    on_both("wrong_secret_key_is_refused_with_a_clear_error", |db| {
        let s = db.open();
        seed(&s);
        drop(s);
        let err = db.open_with(SecretKey::generate().unwrap()).unwrap_err();
        assert!(matches!(err, StoreError::WrongSecretKey), "{err}");
        assert!(err.to_string().contains("BUILDSNAP_SECRET_KEY"));
        // The right key still works.
        assert!(
            db.open()
                .integration_token("acme", "circleci")
                .unwrap()
                .is_some()
        );
    });
}

#[test]
fn capture_job_lifecycle() {
    on_both("capture_job_lifecycle", |db| {
        let s = db.open();
        seed(&s);
        let at = ts::parse("2024-01-02T03:04:05Z").unwrap();
        let d = s
            .register_deploy(
                "acme",
                "web",
                &NewDeploy {
                    deployed_at: Some(at),
                    environment: Some("staging".into()),
                    ..deploy("abcdef1")
                },
            )
            .unwrap();
        let job = s.next_capture_job().unwrap().unwrap();
        assert_eq!(
            job,
            CaptureJob {
                deploy_id: d.id,
                org: "acme".into(),
                project: "web".into(),
                code_deployment: "main".into(),
                repo_url: "https://github.com/acme/web".into(),
                branch: "main".into(),
                build_project: Some("gh/acme/web".into()),
                provider: "circleci".into(),
                sha: "abcdef1".into(),
                deployed_at: at,
                attempts: 1,
                branch_builds_only: false,
            }
        );
        assert!(
            s.next_capture_job().unwrap().is_none(),
            "claimed jobs are not handed out twice"
        );
        // A restart: on SQLite (one process per data dir) the interrupted
        // job is re-queued at open; on PostgreSQL, where other replicas may
        // run it, it waits for its lease to run out, then is taken over.
        drop(s);
        let s = if db.is_postgres() {
            let s = db
                .open()
                .with_capture_lease(std::time::Duration::from_millis(200))
                .unwrap();
            assert!(s.next_capture_job().unwrap().is_none(), "still leased");
            let (mut c, id) = (db.pg_client().unwrap(), d.id);
            c.execute(
                "UPDATE capture_jobs SET lease_until = 0 WHERE deploy_id = $1",
                &[&id],
            )
            .unwrap();
            s
        } else {
            db.open()
        };
        let job = s.next_capture_job().unwrap().unwrap();
        assert_eq!(job.attempts, 2);
        // Transient failure: back in the queue, not due yet.
        let later = ts::now() + time::Duration::hours(1);
        assert!(s.retry_capture(d.id, "429 from provider", later).unwrap());
        assert!(s.next_capture_job().unwrap().is_none());
        assert_eq!(s.capture_queue_depth().unwrap(), 1);
        assert_eq!(
            s.next_capture_due().unwrap().map(ts::format),
            Some(ts::format(later))
        );
        assert!(
            !s.retry_capture(d.id, "429 from provider", ts::now())
                .unwrap(),
            "a queued job is no one's to retry"
        );
        assert_eq!(s.wake_captures("acme", "circleci").unwrap(), 1);
        s.next_capture_job().unwrap().unwrap();

        let written = vec![frozen("wf", Status::Success)];
        let builds = serde_json::to_value(&written).unwrap();
        let fin = FinalSnapshot {
            state: SnapshotState::Complete,
            summary: Summary::Status(Status::Success),
            builds: written,
            explain: None,
            build_project: None,
            captured_at: ts::now(),
        };
        assert!(s.finish_capture(d.id, &fin).unwrap());
        assert_eq!(s.capture_queue_depth().unwrap(), 0);
        let snap = s.get_deploy("acme", d.id).unwrap().builds;
        assert_eq!(
            (snap.state, snap.summary.as_str(), &snap.builds),
            (SnapshotState::Complete, "success", &builds)
        );
        assert_eq!(snap.as_of, "2024-01-02T03:04:05Z");
        assert_eq!(snap.build_project.as_deref(), Some("gh/acme/web"));
        // Complete never changes.
        let other = FinalSnapshot {
            summary: Summary::Status(Status::Failed),
            builds: vec![],
            ..fin.clone()
        };
        assert!(!s.finish_capture(d.id, &other).unwrap());
        assert_eq!(
            s.get_deploy("acme", d.id).unwrap().builds.summary.as_str(),
            "success"
        );
        // Invalid final snapshots are refused.
        let pending = FinalSnapshot {
            state: SnapshotState::Pending,
            ..fin.clone()
        };
        assert!(s.finish_capture(d.id, &pending).is_err());
        // (A `builds` that is not an array, once refused here, cannot be built:
        // `FinalSnapshot::builds` is a list of frozen builds.)
    });
}

#[test]
fn integration_status_and_disable() {
    on_both("integration_status_and_disable", |db| {
        let s = db.open();
        seed(&s);
        s.set_integration_status("acme", "circleci", true, Some("401 Unauthorized"))
            .unwrap();
        let st = s.integration("acme", "circleci").unwrap();
        assert_eq!(
            (st.status.as_str(), st.last_error.as_deref()),
            ("needs_attention", Some("401 Unauthorized"))
        );
        // Re-enabling clears the verdict.
        s.enable_integration(
            "acme",
            "circleci",
            "https://circleci.com",
            &ProviderToken::new("tok-2".into()),
            &account(),
        )
        .unwrap();
        assert_eq!(s.integration("acme", "circleci").unwrap().status, "ok");

        s.disable_integration("acme", "circleci").unwrap();
        let st = s.integration("acme", "circleci").unwrap();
        assert!(!st.enabled && st.account.is_none() && st.default_build_server_for.is_empty());
        assert!(s.integration_token("acme", "circleci").unwrap().is_none());
        // The ciphertext row is gone from the table.
        let n = db.scalar("SELECT COUNT(*) FROM integrations WHERE token_sealed IS NOT NULL");
        assert_eq!(n, 0);
        assert!(matches!(
            s.set_default_build_server("acme", "circleci", "web"),
            Err(StoreError::IntegrationDisabled { .. })
        ));
        assert_eq!(
            s.register_deploy("acme", "web", &deploy("abcdef1"))
                .unwrap()
                .builds
                .state,
            SnapshotState::NoBuildServer
        );
    });
}

#[test]
fn validation_and_isolation_in_the_store() {
    on_both("validation_and_isolation_in_the_store", |db| {
        let s = db.open();
        seed(&s);
        s.create_org("globex", "Globex").unwrap();
        assert!(matches!(
            s.create_org("acme", "x"),
            Err(StoreError::SlugTaken { .. })
        ));
        assert!(matches!(
            s.create_org("Acme", "x"),
            Err(StoreError::InvalidSlug(_))
        ));
        assert!(matches!(
            s.register_deploy("acme", "web", &deploy("xyz1234")),
            Err(StoreError::InvalidSha(_))
        ));
        let d = s
            .register_deploy("acme", "web", &deploy("abcdef1"))
            .unwrap();
        assert!(matches!(
            s.get_deploy("globex", d.id),
            Err(StoreError::DeployNotFound(_))
        ));
        assert!(s.list_deploys("globex", None, 10).unwrap().is_empty());
        assert!(matches!(
            s.list_deploys("acme", Some("ghost"), 10),
            Err(StoreError::ProjectNotFound(_))
        ));
        assert!(s.integration_token("globex", "circleci").unwrap().is_none());
        assert!(matches!(
            s.create_token("nope", "t", Scope::All),
            Err(StoreError::OrgNotFound(_))
        ));
    });
}

/// Child mode of the kill -9 test: registers deploys forever, printing
/// `ack <id>` after each acknowledged (committed) registration.
fn kill_child(dir: &str) -> ! {
    let s = open(std::path::Path::new(dir));
    let mut out = std::io::stdout().lock();
    let mut i: u64 = 0;
    loop {
        i += 1;
        let d = s
            .register_deploy("acme", "web", &deploy(&format!("{:07x}", i)))
            .unwrap();
        use std::io::Write;
        writeln!(out, "ack {}", d.id).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if let Ok(dir) = std::env::var("BUILDSNAP_STORE_KILL_CHILD") {
        kill_child(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    seed(&open(dir.path()));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_writes_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BUILDSNAP_STORE_KILL_CHILD", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = vec![];
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(id) = line.unwrap().strip_prefix("ack ") {
            acked.push(id.parse::<i64>().unwrap());
            if acked.len() == 300 {
                break;
            }
        }
    }
    // SIGKILL while the child is still writing.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acked.len(), 300);
    let s = open(dir.path());
    for id in &acked {
        let d = s.get_deploy("acme", *id).unwrap();
        assert_eq!(d.builds.state, SnapshotState::Pending);
    }
    // Each registration's capture job committed with it.
    assert!(s.capture_queue_depth().unwrap() >= 300);
}

#[test]
fn the_branch_rule_is_stored_shown_and_handed_to_the_capture() {
    on_both(
        "the_branch_rule_is_stored_shown_and_handed_to_the_capture",
        |db| {
            let s = db.open();
            seed(&s);
            s.create_project("acme", "api", "API").unwrap();
            let cd = NewCodeDeployment {
                slug: "prod".into(),
                repo_url: "https://github.com/acme/api".into(),
                branch: "release".into(),
                build_project: Some("gh/acme/api".into()),
                branch_builds_only: true,
            };
            assert!(
                s.create_code_deployment("acme", "api", &cd)
                    .unwrap()
                    .branch_builds_only
            );
            let p = s
                .list_projects("acme")
                .unwrap()
                .into_iter()
                .find(|p| p.slug == "api")
                .unwrap();
            assert!(p.code_deployments[0].branch_builds_only);
            let web = s
                .list_projects("acme")
                .unwrap()
                .into_iter()
                .find(|p| p.slug == "web")
                .unwrap();
            assert!(
                !web.code_deployments[0].branch_builds_only,
                "off by default"
            );
            // Through the JSON the API takes: absent is off.
            let from_json: NewCodeDeployment = serde_json::from_value(serde_json::json!({
                "slug": "x", "repo_url": "https://github.com/acme/x", "branch": "main"
            }))
            .unwrap();
            assert!(!from_json.branch_builds_only);
            s.enable_integration(
                "acme",
                "circleci",
                "https://circleci.com",
                &ProviderToken::new("t".into()),
                &account(),
            )
            .unwrap();
            s.set_default_build_server("acme", "circleci", "api")
                .unwrap();
            s.register_deploy("acme", "api", &deploy("abcdef1"))
                .unwrap();
            let job = s.next_capture_job().unwrap().unwrap();
            assert_eq!(
                (job.branch.as_str(), job.branch_builds_only),
                ("release", true)
            );
        },
    );
}

/// Writes from many threads at once that read before they write
/// (registering a deploy reads its project and code deployment, then
/// inserts the deploy, its snapshot and its capture job) all land, once
/// each, and claims of the capture queue from many threads hand out each
/// job once: on SQLite through its single writer, on PostgreSQL through
/// `SERIALIZABLE` transactions run again when they fail to serialize.
#[test]
fn concurrent_writes_all_land_once() {
    on_both("concurrent_writes_all_land_once", |db| {
        let s = db.open();
        seed(&s);
        std::thread::scope(|scope| {
            for t in 0..8u32 {
                let s = s.clone();
                scope.spawn(move || {
                    for i in 0..10u32 {
                        s.register_deploy("acme", "web", &deploy(&format!("{t:x}{i:06x}")))
                            .unwrap();
                        s.create_token("acme", &format!("t{t}-{i}"), Scope::All)
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(s.capture_queue_depth().unwrap(), 80);
        let mut shas: Vec<String> = s
            .list_deploys("acme", None, 100)
            .unwrap()
            .into_iter()
            .map(|d| d.sha)
            .collect();
        shas.sort();
        shas.dedup();
        assert_eq!(shas.len(), 80);
        // Claims read the queue, then take its head: eight claimers at
        // once never get the same job, and get every one.
        let claimed = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    while let Some(job) = s.next_capture_job().unwrap() {
                        claimed.lock().unwrap().push(job.deploy_id);
                    }
                });
            }
        });
        let mut claimed = claimed.into_inner().unwrap();
        claimed.sort();
        let n = claimed.len();
        claimed.dedup();
        assert_eq!((n, claimed.len()), (80, 80), "each job claimed once");
    });
}

/// What only PostgreSQL does: a URL that requires TLS of a server without
/// it is refused (never served in the clear), reads are never offered to
/// async workers (the sync client must not run on one), and there are no
/// database files. (TLS itself: `pg_tls.rs`.)
#[test]
fn postgres_requires_tls_when_asked_and_never_reads_inline() {
    on_both("postgres_never_reads_inline", |db| {
        let s = db.open();
        assert_eq!(s.reader_available(), !db.is_postgres());
        assert_eq!(s.files().is_empty(), db.is_postgres());
        if let Some(url) = db.url() {
            let key = SecretKey::load_or_create(db.dir.path(), None).unwrap();
            let err = match Store::open_postgres(&format!("{url}?sslmode=require"), key) {
                Ok(_) => panic!("sslmode=require served by a server without TLS"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains("TLS"), "{err}");
        }
    });
}

/// Several PostgreSQL stores share one database (replicas): a second
/// open succeeds while the first lives, sees what it wrote, and does not
/// re-queue the job the first holds `running`.
#[test]
fn postgres_stores_share_one_database() {
    let Some(db) = common::TestDb::postgres("postgres_stores_share_one_database") else {
        return;
    };
    let first = db.open();
    seed(&first);
    let d = first
        .register_deploy("acme", "web", &deploy("abcdef1"))
        .unwrap();
    assert_eq!(first.next_capture_job().unwrap().unwrap().deploy_id, d.id);
    let second = db.open();
    assert_ne!(first.replica_id(), second.replica_id());
    assert_eq!(second.get_deploy("acme", d.id).unwrap().sha, "abcdef1");
    assert_eq!(
        second.capture_job_state(d.id).unwrap().unwrap().0,
        "running",
        "a second open leaves the first one's job running"
    );
    assert!(second.next_capture_job().unwrap().is_none());
    // No advisory lock is held for the store's life any more.
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        0
    );
}

/// News from a provider makes its waiting captures due at once, except
/// those waiting out a rate limit, whatever the case of its error's words
/// (SQLite's LIKE ignores case; PostgreSQL's statement says ILIKE).
#[test]
fn webhooks_wake_waiting_captures_but_not_rate_limited_ones() {
    on_both("webhooks_wake_waiting_captures", |db| {
        let s = db.open();
        seed(&s);
        let later = ts::now() + time::Duration::hours(1);
        let mut ids = Vec::new();
        for (sha, error) in [
            ("aaaaaaa", "429 from provider"),
            ("bbbbbbb", "rate limited (retry after 5000 ms): slow down"),
            ("ccccccc", "Rate Limited: slow down"),
        ] {
            let d = s.register_deploy("acme", "web", &deploy(sha)).unwrap();
            assert_eq!(s.next_capture_job().unwrap().unwrap().deploy_id, d.id);
            s.retry_capture(d.id, error, later).unwrap();
            ids.push(d.id);
        }
        assert!(s.next_capture_job().unwrap().is_none());
        assert_eq!(s.wake_captures("acme", "circleci").unwrap(), 1);
        assert_eq!(s.next_capture_job().unwrap().unwrap().deploy_id, ids[0]);
        assert!(
            s.next_capture_job().unwrap().is_none(),
            "{}: rate-limited jobs still wait",
            db.name()
        );
    });
}
