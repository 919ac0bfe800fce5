//! The capture worker's part of the store: the provider-build index, commit
//! searches, sync cursors, webhook de-duplication and secrets, and the
//! guarded capture completion.

mod common;

use buildsnap_domain::{Status, Summary};
use buildsnap_store::*;
use common::{deploy_now, frozen, on_both, report, seed};

fn job(id: &str, status: &str) -> IndexedJob {
    IndexedJob {
        id: id.into(),
        name: id.into(),
        number: Some(1),
        kind: "build".into(),
        status: status.parse().unwrap(),
        provider_status: status.into(),
        started_at: Some("2025-06-01T11:00:01Z".into()),
        stopped_at: (status == "success").then(|| "2025-06-01T11:00:31Z".into()),
        url: None,
    }
}

fn build(id: &str, sha: &str, status: &str, jobs: Vec<IndexedJob>, complete: bool) -> IndexedBuild {
    IndexedBuild {
        attempt: 1,
        parent_id: None,
        id: id.into(),
        project: "gh/acme/web".into(),
        name: "build".into(),
        status: status.parse().unwrap(),
        provider_status: status.into(),
        url: Some(format!("https://app.circleci.com/{id}")),
        pipeline_id: "p1".into(),
        pipeline_number: Some(1),
        sha: sha.into(),
        branch: Some("main".into()),
        tag: None,
        created_at: "2025-06-01T11:00:00.5+00:00".into(),
        stopped_at: (status == "success").then(|| "2025-06-01T11:01:00Z".into()),
        jobs_complete: complete,
        jobs,
        first_seen: None,
        last_seen: None,
    }
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn index_merges_observations_and_records_searches() {
    on_both("index_merges_observations_and_records_searches", |db| {
        let s = db.open();
        seed(&s);
        let running = build(
            "w1",
            SHA,
            "running",
            vec![job("a", "running"), job("b", "queued")],
            true,
        );
        assert!(
            s.index_builds(
                "acme",
                "circleci",
                &[running],
                Some(("gh/acme/web", SHA, &report(1)))
            )
            .unwrap()
        );
        let l = s
            .index_lookup("acme", "circleci", "gh/acme/web", SHA)
            .unwrap();
        let search = l.search.expect("search recorded");
        assert_eq!(search.report, Some(report(1)));
        assert_eq!(l.builds.len(), 1);
        assert_eq!(
            l.builds[0].created_at, "2025-06-01T11:00:00.5Z",
            "normalised"
        );
        assert_eq!(
            l.builds[0]
                .jobs
                .iter()
                .map(|j| j.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        // A prefix finds it, another prefix has no search of its own.
        let l = s
            .index_lookup("acme", "circleci", "gh/acme/web", &SHA[..8])
            .unwrap();
        assert_eq!(l.builds.len(), 1);
        assert!(l.search.is_none());
        assert_eq!(
            s.unfinished_builds(
                "acme",
                "circleci",
                "gh/acme/web",
                "2025-01-01T00:00:00Z",
                10
            )
            .unwrap(),
            ["w1"]
        );

        // A webhook without jobs: status updated, jobs kept.
        let done = build("w1", SHA, "success", vec![], false);
        assert_eq!(
            s.apply_webhook_event(
                "acme",
                "circleci",
                "ev-1",
                "workflow-completed",
                std::slice::from_ref(&done),
                &[]
            )
            .unwrap(),
            Some(true)
        );
        assert_eq!(
            s.apply_webhook_event(
                "acme",
                "circleci",
                "ev-1",
                "workflow-completed",
                &[done],
                &[]
            )
            .unwrap(),
            Some(false)
        );
        let l = s
            .index_lookup("acme", "circleci", "gh/acme/web", SHA)
            .unwrap();
        assert_eq!(l.builds[0].status, Status::Success);
        assert_eq!(l.builds[0].jobs.len(), 2);
        assert!(
            l.builds[0].jobs_complete,
            "still the complete list seen before"
        );
        assert!(
            s.unfinished_builds(
                "acme",
                "circleci",
                "gh/acme/web",
                "2025-01-01T00:00:00Z",
                10
            )
            .unwrap()
            .is_empty()
        );
        // A stale observation does not reopen a final build.
        let stale = build("w1", SHA, "running", vec![job("a", "running")], true);
        assert!(
            s.save_sync(
                "acme",
                "circleci",
                "gh/acme/web",
                &[stale],
                Some("cursor-1")
            )
            .unwrap()
        );
        let l = s
            .index_lookup("acme", "circleci", "gh/acme/web", SHA)
            .unwrap();
        assert_eq!(l.builds[0].status, Status::Success);
        assert_eq!(
            s.sync_cursor("acme", "circleci", "gh/acme/web")
                .unwrap()
                .as_deref(),
            Some("cursor-1")
        );
        let targets = s.sync_targets().unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(
            targets[0].sources,
            [(
                Some("gh/acme/web".to_string()),
                "https://github.com/acme/web".to_string()
            )]
        );
    });
}

#[test]
fn webhook_secret_is_sealed_and_disable_erases_it_with_the_index() {
    on_both(
        "webhook_secret_is_sealed_and_disable_erases_it_with_the_index",
        |db| {
            let s = db.open();
            seed(&s);
            assert!(
                !s.integration("acme", "circleci")
                    .unwrap()
                    .webhook_configured
            );
            s.set_webhook_secret(
                "acme",
                "circleci",
                &ProviderToken::new("hook-secret-xyz".into()),
            )
            .unwrap();
            assert!(
                s.integration("acme", "circleci")
                    .unwrap()
                    .webhook_configured
            );
            let (base, secret) = s.webhook_secret("acme", "circleci").unwrap().unwrap();
            assert_eq!(
                (base.as_str(), secret.expose()),
                ("https://circleci.com", "hook-secret-xyz")
            );
            s.index_builds(
                "acme",
                "circleci",
                &[build("w1", SHA, "running", vec![], true)],
                Some(("gh/acme/web", SHA, &report(0))),
            )
            .unwrap();
            drop(s);
            if db.is_postgres() {
                let n = db.scalar(
                    "SELECT COUNT(*) FROM integrations
                     WHERE position(convert_to('hook-secret-xyz', 'UTF8') IN webhook_secret_sealed) > 0
                        OR integrations::text LIKE '%hook-secret-xyz%'",
                );
                assert_eq!(n, 0, "secret stored in plain text");
            } else {
                let raw = std::fs::read(db.dir.path().join(Store::DB_FILE)).unwrap();
                assert!(
                    !raw.windows(15).any(|w| w == b"hook-secret-xyz"),
                    "secret stored in plain text"
                );
            }
            let s = db.open();
            s.disable_integration("acme", "circleci").unwrap();
            assert!(s.webhook_secret("acme", "circleci").unwrap().is_none());
            assert!(
                !s.integration("acme", "circleci")
                    .unwrap()
                    .webhook_configured
            );
            let l = s
                .index_lookup("acme", "circleci", "gh/acme/web", SHA)
                .unwrap();
            assert!(
                l.builds.is_empty() && l.search.is_none(),
                "fetched data erased with the token"
            );
            // Writes after the disable are refused.
            assert!(
                !s.index_builds(
                    "acme",
                    "circleci",
                    &[build("w2", SHA, "running", vec![], true)],
                    None
                )
                .unwrap()
            );
            assert_eq!(
                s.apply_webhook_event("acme", "circleci", "ev-2", "x", &[], &[])
                    .unwrap(),
                None
            );
            assert!(
                s.set_webhook_secret("acme", "circleci", &ProviderToken::new("again".into()))
                    .is_err()
            );
        },
    );
}

/// A deploy of `SHA` to acme/web, deployed now.

#[test]
fn complete_capture_only_for_a_job_still_running_and_defer_does_not_count() {
    on_both(
        "complete_capture_only_for_a_job_still_running_and_defer_does_not_count",
        |db| {
            let s = db.open();
            seed(&s);
            let d = deploy_now(&s, SHA);
            let job = s.next_capture_job().unwrap().unwrap();
            assert_eq!(job.attempts, 1);
            s.defer_capture(d.id, ts::now(), "interrupted by shutdown")
                .unwrap();
            assert_eq!(
                s.capture_job_state(d.id).unwrap().unwrap().1,
                0,
                "a deferral is not an attempt"
            );
            let job = s.next_capture_job().unwrap().unwrap();
            assert_eq!(job.attempts, 1);
            let fin = FinalSnapshot {
                state: SnapshotState::Complete,
                summary: Summary::Status(Status::Success),
                builds: vec![frozen("w1", Status::Success)],
                explain: None,
                build_project: Some("gh/acme/web".into()),
                captured_at: ts::now(),
            };
            // Disabled while in flight: the capture's result is not written.
            s.disable_integration("acme", "circleci").unwrap();
            assert!(!s.complete_capture(d.id, &fin).unwrap());
            let got = s.get_deploy("acme", d.id).unwrap();
            assert_eq!(got.builds.state, SnapshotState::Error);
            assert!(got.builds.explain.unwrap().contains("disabled"));
            assert_eq!(s.capture_job_state(d.id).unwrap().unwrap().0, "done");
        },
    );
}

#[test]
fn current_status_is_shown_beside_a_frozen_build() {
    on_both("current_status_is_shown_beside_a_frozen_build", |db| {
        let s = db.open();
        seed(&s);
        let d = deploy_now(&s, SHA);
        s.next_capture_job().unwrap().unwrap();
        let fin = FinalSnapshot {
            state: SnapshotState::Complete,
            summary: Summary::Status(Status::Running),
            builds: vec![frozen("w1", Status::Running), frozen("w2", Status::Success)],
            explain: None,
            build_project: Some("gh/acme/web".into()),
            captured_at: ts::now(),
        };
        assert!(s.complete_capture(d.id, &fin).unwrap());
        // While no build's status has moved on, the stored text is handed on
        // byte for byte.
        let raw = s.get_deploy_with_current("acme", d.id).unwrap();
        assert_eq!(
            raw.builds.builds.get(),
            serde_json::to_string(&fin.builds).unwrap()
        );
        s.index_builds(
            "acme",
            "circleci",
            &[
                build("w1", SHA, "success", vec![], true),
                build("w2", SHA, "success", vec![], true),
            ],
            None,
        )
        .unwrap();
        let got = s.get_deploy_with_current("acme", d.id).unwrap();
        let builds: serde_json::Value = serde_json::from_str(got.builds.builds.get()).unwrap();
        assert_eq!(builds[0]["status"], "running");
        assert_eq!(builds[0]["current_status"], "success");
        assert!(
            builds[1].get("current_status").is_none(),
            "same status: nothing beside it"
        );
        assert_eq!(builds[1], serde_json::to_value(&fin.builds[1]).unwrap());
        // The stored snapshot itself is untouched.
        assert!(
            s.get_deploy("acme", d.id).unwrap().builds.builds[0]
                .get("current_status")
                .is_none()
        );
    });
}

/// A deploy of [`SHA`] captured the way the worker does it: `indexed` in
/// the index first, then the snapshot `complete` with `builds` frozen.
fn captured(
    s: &Store,
    indexed: &[IndexedBuild],
    builds: Vec<buildsnap_domain::FrozenBuild>,
) -> Deploy {
    s.index_builds("acme", "circleci", indexed, None).unwrap();
    let d = deploy_now(s, SHA);
    s.next_capture_job().unwrap().unwrap();
    let fin = FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(Status::Failed),
        builds,
        explain: None,
        build_project: Some("gh/acme/web".into()),
        captured_at: ts::now(),
    };
    assert!(s.complete_capture(d.id, &fin).unwrap());
    d
}

/// A build frozen final can still move on: a GitHub re-run keeps the run's
/// id and ends with another conclusion. Reads look such a build up only
/// once its final status changed in the index (a trigger keeps
/// `changed_final_builds`), or when the index held it otherwise as it was
/// frozen; this checks both, and that the usual case stays a pass-through.
#[test]
fn current_status_follows_a_final_build_that_ran_again() {
    on_both(
        "current_status_follows_a_final_build_that_ran_again",
        |db| {
            let s = db.open();
            seed(&s);
            // The capture's order: the builds are indexed, then frozen as indexed.
            let d = captured(
                &s,
                &[
                    build("w1", SHA, "failed", vec![], true),
                    build("w2", SHA, "success", vec![], true),
                    build("w3", SHA, "success", vec![], true),
                ],
                vec![
                    frozen("w1", Status::Failed),
                    frozen("w2", Status::Success),
                    // Frozen from other news than the index's (the index says
                    // success): looked up from the start.
                    frozen("w3", Status::Failed),
                ],
            );
            let moved = |s: &Store| -> Vec<(String, Option<String>)> {
                let got = s.get_deploy_with_current("acme", d.id).unwrap();
                let builds: serde_json::Value =
                    serde_json::from_str(got.builds.builds.get()).unwrap();
                builds
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| {
                        let now = b
                            .get("current_status")
                            .map(|v| v.as_str().unwrap().to_string());
                        (b["id"].as_str().unwrap().to_string(), now)
                    })
                    .collect()
            };
            assert_eq!(
                moved(&s),
                [
                    ("w1".into(), None),
                    ("w2".into(), None),
                    ("w3".into(), Some("success".into()))
                ]
            );
            assert_eq!(db.scalar("SELECT count(*) FROM changed_final_builds"), 1);
            // w1 is re-run and passes; w2 is seen again unchanged.
            s.index_builds(
                "acme",
                "circleci",
                &[
                    build("w1", SHA, "success", vec![], true),
                    build("w2", SHA, "success", vec![], true),
                ],
                None,
            )
            .unwrap();
            assert_eq!(
                moved(&s),
                [
                    ("w1".into(), Some("success".into())),
                    ("w2".into(), None),
                    ("w3".into(), Some("success".into()))
                ]
            );
            assert_eq!(db.scalar("SELECT count(*) FROM changed_final_builds"), 2);
            // And again: a build already listed changes once more.
            s.index_builds(
                "acme",
                "circleci",
                &[build("w1", SHA, "failed", vec![], true)],
                None,
            )
            .unwrap();
            assert_eq!(moved(&s)[0], ("w1".into(), None));
            assert_eq!(db.scalar("SELECT count(*) FROM changed_final_builds"), 2);
        },
    );
}

/// A database migrated from before `changed_final_builds` (SQLite 13,
/// PostgreSQL 3) starts with the frozen-final builds whose index status
/// already differs in it, so their `current_status` stays shown.
#[test]
fn the_migration_finds_the_final_builds_already_changed() {
    on_both(
        "the_migration_finds_the_final_builds_already_changed",
        |db| {
            let s = db.open();
            seed(&s);
            let d = captured(
                &s,
                &[
                    build("w1", SHA, "failed", vec![], true),
                    build("w2", SHA, "success", vec![], true),
                ],
                vec![frozen("w1", Status::Failed), frozen("w2", Status::Success)],
            );
            drop(s);
            // Back to the schema before the migration, with w1's status changed
            // while no trigger watched.
            let mut back = vec![
                "DROP TRIGGER provider_builds_final_changed",
                "DROP TABLE changed_final_builds",
                "DROP INDEX provider_builds_by_sha7",
                "CREATE INDEX provider_builds_by_sha7 ON provider_builds (org_id, substr(sha, 1, 7))",
                "UPDATE provider_builds SET status = 'success' WHERE build_id = 'w1'",
            ];
            if db.is_postgres() {
                back[0] = "DROP TRIGGER provider_builds_final_changed ON provider_builds";
                back.push("DROP FUNCTION buildsnap_final_changed");
                back.push("DELETE FROM buildsnap_schema WHERE version = 3");
            } else {
                back.push("PRAGMA user_version = 12");
            }
            for sql in back {
                db.execute_bytes(sql, &[]);
            }
            let s = db.open();
            let got = s.get_deploy_with_current("acme", d.id).unwrap();
            let builds: serde_json::Value = serde_json::from_str(got.builds.builds.get()).unwrap();
            assert_eq!(builds[0]["current_status"], "success");
            assert!(builds[1].get("current_status").is_none());
            assert_eq!(db.scalar("SELECT count(*) FROM changed_final_builds"), 1);
        },
    );
}

/// A final snapshot is written as one zstd frame (`builds_encoding` says
/// so per row, the text column is left empty); the served form is that
/// frame untouched while nothing moved, decoding byte for byte to the JSON
/// text, and decoded JSON once a `current_status` has to be added. A row
/// still holding text (written before migration 4) reads as it is.
#[test]
fn snapshots_are_stored_compressed_and_served_as_stored() {
    on_both(
        "snapshots_are_stored_compressed_and_served_as_stored",
        |db| {
            let s = db.open();
            seed(&s);
            let d = deploy_now(&s, SHA);
            s.next_capture_job().unwrap().unwrap();
            let builds: Vec<_> = (0..20)
                .map(|i| frozen(&format!("w{i}"), Status::Success))
                .collect();
            let fin = FinalSnapshot {
                state: SnapshotState::Complete,
                summary: Summary::Status(Status::Success),
                builds,
                explain: None,
                build_project: Some("gh/acme/web".into()),
                captured_at: ts::now(),
            };
            assert!(s.complete_capture(d.id, &fin).unwrap());
            let text = serde_json::to_string(&fin.builds).unwrap();
            // Straight to the database: rusqlite, or a PostgreSQL client.
            let mut pg = db.pg_client();
            let c = (!db.is_postgres())
                .then(|| rusqlite::Connection::open(db.dir.path().join(Store::DB_FILE)).unwrap());
            let c = || c.as_ref().unwrap();
            let (encoding, column, frame): (String, String, Vec<u8>) = match &mut pg {
                Some(pg) => {
                    let r = pg
                        .query_one(
                            "SELECT builds_encoding, builds, builds_zstd FROM snapshots WHERE deploy_id = $1",
                            &[&d.id],
                        )
                        .unwrap();
                    (r.get(0), r.get(1), r.get(2))
                }
                None => c()
                    .query_row(
                        "SELECT builds_encoding, builds, builds_zstd FROM snapshots WHERE deploy_id = ?1",
                        [d.id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .unwrap(),
            };
            assert_eq!((encoding.as_str(), column.as_str()), ("zstd", ""));
            assert!(
                frame.len() * 4 < text.len(),
                "{} of {} bytes",
                frame.len(),
                text.len()
            );

            let served = s.get_deploy_served("acme", d.id).unwrap();
            let ServedBuilds::Zstd(z) = &served.builds.builds else {
                panic!("unpatched compressed snapshot not passed through: {served:?}")
            };
            assert_eq!(z, &frame);
            assert_eq!(zstd::decode_all(&z[..]).unwrap(), text.as_bytes());
            assert_eq!(
                s.get_deploy_with_current("acme", d.id)
                    .unwrap()
                    .builds
                    .builds
                    .get(),
                text
            );
            assert_eq!(
                s.get_deploy("acme", d.id).unwrap().builds.builds,
                serde_json::to_value(&fin.builds).unwrap()
            );
            assert_eq!(
                s.list_deploys("acme", None, 10).unwrap()[0].builds.builds,
                serde_json::to_value(&fin.builds).unwrap()
            );

            // A build moved on: decoded, patched JSON.
            s.index_builds(
                "acme",
                "circleci",
                &[build("w3", SHA, "failed", vec![], true)],
                None,
            )
            .unwrap();
            let ServedBuilds::Json(raw) = s.get_deploy_served("acme", d.id).unwrap().builds.builds
            else {
                panic!("a patched snapshot must be JSON")
            };
            let v: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
            assert_eq!(v[3]["current_status"], "failed");

            // An old row (text, encoding 'json') reads unchanged; a damaged frame
            // is an encoding error, not a panic or a client error.
            let json = "UPDATE snapshots SET builds_encoding = 'json', builds = ?2, builds_zstd = NULL WHERE deploy_id = ?1";
            match &mut pg {
                Some(pg) => {
                    pg.execute(&json.replace('?', "$"), &[&d.id, &text])
                        .unwrap();
                }
                None => {
                    c().execute(json, rusqlite::params![d.id, text]).unwrap();
                }
            }
            let ServedBuilds::Json(raw) = s.get_deploy_served("acme", d.id).unwrap().builds.builds
            else {
                panic!("a text row is served as JSON")
            };
            let v: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
            assert_eq!(v[3]["current_status"], "failed");
            assert_eq!(v[0], serde_json::to_value(&fin.builds[0]).unwrap());
            let damaged = "UPDATE snapshots SET builds_encoding = 'zstd', builds = '', builds_zstd = ?2 WHERE deploy_id = ?1";
            let frame_start = vec![0x28u8, 0xb5, 0x2f, 0xfd, 0x00];
            match &mut pg {
                Some(pg) => {
                    pg.execute(&damaged.replace('?', "$"), &[&d.id, &frame_start])
                        .unwrap();
                }
                None => {
                    c().execute(damaged, rusqlite::params![d.id, frame_start])
                        .unwrap();
                }
            }
            assert!(
                matches!(s.get_deploy("acme", d.id), Err(StoreError::Encoding(_))),
                "{:?}",
                s.get_deploy("acme", d.id)
            );
        },
    );
}

/// A webhook's single-job updates (GitHub `workflow_job`): the job replaces
/// its namesake or is appended, a running build with a failed job becomes
/// failing, a build not held is left to the next sync, a final build keeps
/// its jobs, and the attempt and parent link are kept.
#[test]
fn job_updates_replace_or_append_one_job() {
    on_both("job_updates_replace_or_append_one_job", |db| {
        let s = db.open();
        seed(&s);
        let mut running = build("r1/2", SHA, "running", vec![job("a", "running")], true);
        running.attempt = 2;
        running.parent_id = Some("r0".into());
        s.index_builds("acme", "circleci", &[running], None)
            .unwrap();
        let update = |build_id: &str, j: IndexedJob| JobUpdate {
            build_id: build_id.into(),
            sha: SHA.into(),
            job: j,
        };
        assert_eq!(
            s.apply_webhook_event(
                "acme",
                "circleci",
                "job-1",
                "workflow_job",
                &[],
                &[
                    update("r1/2", job("a", "success")),
                    update("r1/2", job("b", "failed")),
                    update("unknown/1", job("z", "running")),
                ],
            )
            .unwrap(),
            Some(true)
        );
        let l = s
            .index_lookup("acme", "circleci", "gh/acme/web", SHA)
            .unwrap();
        assert_eq!(l.builds.len(), 1, "the unknown build is not invented");
        let b = &l.builds[0];
        assert_eq!((b.attempt, b.parent_id.as_deref()), (2, Some("r0")));
        assert_eq!(b.status, Status::Failing, "running with a failed job");
        assert_eq!(b.provider_status, "running", "the provider's word is kept");
        let jobs: Vec<(&str, Status)> = b.jobs.iter().map(|j| (j.id.as_str(), j.status)).collect();
        assert_eq!(jobs, [("a", Status::Success), ("b", Status::Failed)]);

        // Once final, a late job update changes nothing.
        let done = build("r1/2", SHA, "failed", vec![], false);
        s.apply_webhook_event("acme", "circleci", "run-1", "workflow_run", &[done], &[])
            .unwrap();
        s.apply_webhook_event(
            "acme",
            "circleci",
            "job-2",
            "workflow_job",
            &[],
            &[update("r1/2", job("b", "running"))],
        )
        .unwrap();
        let l = s
            .index_lookup("acme", "circleci", "gh/acme/web", SHA)
            .unwrap();
        assert_eq!(l.builds[0].status, Status::Failed);
        assert_eq!(l.builds[0].jobs[1].status, Status::Failed);
    });
}
