//! Index rows without redundancy (`index_thin.rs`): a final build a snapshot
//! froze as the index holds it is stored once, every read and write sees
//! the index as if it were stored whole, and an old database is thinned in
//! resumable chunks.

mod common;

use buildsnap_domain::{Summary, freeze};
use buildsnap_store::*;
use common::{TestDb, deploy_now, on_both, seed};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn job(id: &str, status: &str, url: Option<&str>) -> IndexedJob {
    IndexedJob {
        id: id.into(),
        name: format!("job {id}"),
        number: Some(7),
        kind: "build".into(),
        status: status.parse().unwrap(),
        provider_status: status.into(),
        started_at: Some("2025-06-01T11:00:01Z".into()),
        stopped_at: (status != "running").then(|| "2025-06-01T11:00:31Z".into()),
        url: url.map(Into::into),
    }
}

fn build(id: &str, status: &str, jobs: Vec<IndexedJob>) -> IndexedBuild {
    IndexedBuild {
        attempt: 1,
        parent_id: None,
        id: id.into(),
        project: "gh/acme/web".into(),
        name: format!("workflow {id}"),
        status: status.parse().unwrap(),
        provider_status: status.into(),
        url: Some(format!(
            "https://app.circleci.com/pipelines/gh/acme/web/1/workflows/{id}"
        )),
        pipeline_id: "p1".into(),
        pipeline_number: Some(1),
        sha: SHA.into(),
        branch: Some("main".into()),
        tag: None,
        created_at: "2025-06-01T11:00:00Z".into(),
        stopped_at: (status != "running").then(|| "2025-06-01T11:01:00Z".into()),
        jobs_complete: true,
        jobs,
        first_seen: None,
        last_seen: None,
    }
}

/// Two final builds and one still running.
fn builds() -> Vec<IndexedBuild> {
    vec![
        build(
            "w1",
            "success",
            vec![
                job("a", "success", Some("https://x/a")),
                job("b", "success", None),
            ],
        ),
        build("w2", "failed", vec![job("c", "failed", None)]),
        build("w3", "running", vec![job("d", "running", None)]),
    ]
}

fn deploy(s: &Store) -> Deploy {
    deploy_now(s, SHA)
}

/// Completes deploy `id`'s snapshot with `indexed` frozen now.
fn complete(s: &Store, id: i64, indexed: &[IndexedBuild]) {
    let frozen = freeze::freeze(indexed, ts::now());
    let snap = FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(buildsnap_domain::Status::Failed),
        builds: frozen,
        explain: None,
        build_project: Some("gh/acme/web".into()),
        captured_at: ts::now(),
    };
    assert!(s.finish_capture(id, &snap).unwrap());
}

/// What the index answers for the commit, without the times of sight
/// (those move with every observation).
fn lookup(s: &Store) -> Vec<IndexedBuild> {
    let mut builds = s
        .index_lookup("acme", "circleci", "gh/acme/web", SHA)
        .unwrap()
        .builds;
    for b in &mut builds {
        b.first_seen = None;
        b.last_seen = None;
    }
    builds
}

/// (build id, frozen_in, job rows), read straight from the database.
fn rows(s: &Store) -> Vec<(String, Option<i64>, i64)> {
    let c = rusqlite::Connection::open(s.path()).unwrap();
    let mut st = c
        .prepare(
            "SELECT b.build_id, b.frozen_in,
                    (SELECT count(*) FROM provider_jobs j WHERE j.build_id = b.build_id)
             FROM provider_builds b ORDER BY b.build_id",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// [`rows`] on either backend.
fn rows_in(db: &TestDb, s: &Store) -> Vec<(String, Option<i64>, i64)> {
    let Some(mut c) = db.pg_client() else {
        return rows(s);
    };
    c.query(
        "SELECT b.build_id, b.frozen_in,
                (SELECT count(*) FROM provider_jobs j WHERE j.build_id = b.build_id)
         FROM provider_builds b ORDER BY b.build_id",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[test]
fn a_final_snapshot_stores_the_builds_it_froze_final_once_and_reads_are_unchanged() {
    on_both(
        "a_final_snapshot_stores_the_builds_it_froze_final_once_and_reads_are_unchanged",
        |db| {
            let s = db.open();
            seed(&s);
            let d = deploy(&s);
            assert!(s.index_builds("acme", "circleci", &builds(), None).unwrap());
            let before = lookup(&s);
            let before_deploy = s.get_deploy("acme", d.id).unwrap();
            complete(&s, d.id, &builds());

            assert_eq!(
                rows_in(db, &s),
                vec![
                    ("w1".into(), Some(d.id), 0),
                    ("w2".into(), Some(d.id), 0),
                    ("w3".into(), None, 1),
                ],
                "the two final builds are thinned, the running one is whole"
            );
            assert_eq!(lookup(&s), before, "the index reads as before");
            assert_eq!(s.index_thin_counts().unwrap(), (2, 0));
            // The deploy itself: its snapshot is the one just written.
            let after = s.get_deploy("acme", d.id).unwrap();
            assert_eq!(after.id, before_deploy.id);
            assert_eq!(after.builds.state, SnapshotState::Complete);
        },
    );
}

#[test]
fn a_build_that_changed_since_its_snapshot_is_not_thinned() {
    on_both(
        "a_build_that_changed_since_its_snapshot_is_not_thinned",
        |db| {
            let s = db.open();
            seed(&s);
            let d = deploy(&s);
            let old = builds();
            assert!(s.index_builds("acme", "circleci", &old, None).unwrap());
            // The provider reports w1 again, final, with another word, before the
            // snapshot (frozen from the older reading) is written.
            let mut newer = old[0].clone();
            newer.provider_status = "success-with-notes".into();
            assert!(s.index_builds("acme", "circleci", &[newer], None).unwrap());
            complete(&s, d.id, &old);
            let r = rows_in(db, &s);
            assert_eq!(
                r[0],
                ("w1".into(), None, 2),
                "w1 differs from its frozen copy: kept whole"
            );
            assert_eq!(r[1], ("w2".into(), Some(d.id), 0));
        },
    );
}

/// The same writes on a thinned index and on a whole one read the same
/// after each step; the thinned one is thinned again where it can be.
#[test]
fn writes_to_thinned_rows_read_as_on_whole_rows() {
    on_both("writes_to_thinned_rows_read_as_on_whole_rows", |thin_db| {
        let whole_db = thin_db.another("writes_to_thinned_rows_whole");
        let (thin, whole) = (thin_db.open(), whole_db.open());
        for s in [&thin, &whole] {
            seed(s);
        }
        // Thinned: indexed, then frozen. Whole: frozen first (nothing to thin
        // then), indexed after.
        let dt = deploy(&thin);
        assert!(
            thin.index_builds("acme", "circleci", &builds(), None)
                .unwrap()
        );
        complete(&thin, dt.id, &builds());
        let dw = deploy(&whole);
        complete(&whole, dw.id, &builds());
        assert!(
            whole
                .index_builds("acme", "circleci", &builds(), None)
                .unwrap()
        );
        assert_eq!(rows_in(thin_db, &thin)[0].1, Some(dt.id));
        assert_eq!(rows_in(&whole_db, &whole)[0].1, None);
        assert_eq!(lookup(&thin), lookup(&whole));

        let mut stale_bare = build("w1", "running", vec![job("a", "running", None)]);
        (
            stale_bare.url,
            stale_bare.pipeline_number,
            stale_bare.branch,
        ) = (None, None, None);
        let mut stale_fills = build("w2", "running", vec![]);
        stale_fills.tag = Some("v1.2.3".into());
        let mut final_again = builds()[0].clone();
        final_again.provider_status = "success-again".into();
        let steps: Vec<(&str, Vec<IndexedBuild>)> = vec![
            ("a stale observation with nothing to fill", vec![stale_bare]),
            ("a stale observation that fills the tag", vec![stale_fills]),
            ("the same final builds again", builds()),
            ("a final observation with another word", vec![final_again]),
        ];
        for (what, step) in steps {
            for s in [&thin, &whole] {
                assert!(
                    s.index_builds("acme", "circleci", &step, None).unwrap(),
                    "{what}"
                );
            }
            assert_eq!(lookup(&thin), lookup(&whole), "after {what}");
        }
        // A webhook's job news for a thinned final build changes nothing.
        let update = JobUpdate {
            build_id: "w2".into(),
            sha: SHA.into(),
            job: job("c", "running", None),
        };
        for s in [&thin, &whole] {
            s.apply_webhook_event(
                "acme",
                "circleci",
                "ev-1",
                "job-completed",
                &[],
                std::slice::from_ref(&update),
            )
            .unwrap();
        }
        assert_eq!(lookup(&thin), lookup(&whole), "after a job update");
        let r = rows_in(thin_db, &thin);
        assert_eq!(
            r[0],
            ("w1".into(), None, 2),
            "w1 now differs from its copy: whole"
        );
        assert_eq!(
            r[1],
            ("w2".into(), None, 1),
            "w2's tag was filled in: it differs from its copy"
        );
        assert_eq!(r[2], ("w3".into(), None, 1), "w3 never was final");
    });
}

/// A database whose snapshots were written before their builds were
/// indexed (as every database from before migration 11 is) is thinned by
/// the background pass in chunks, carrying on after a restart from where
/// the last chunk got to.
#[test]
fn old_rows_are_thinned_in_chunks_that_resume_after_a_restart() {
    on_both("old_rows_are_thinned_in_chunks", |db| {
        let (ids, before) = {
            let s = db.open();
            seed(&s);
            let ids: Vec<i64> = (0..7).map(|_| deploy(&s).id).collect();
            for id in &ids {
                complete(&s, *id, &builds());
            }
            assert!(s.index_builds("acme", "circleci", &builds(), None).unwrap());
            assert_eq!(s.index_thin_counts().unwrap(), (0, 2));
            assert_eq!(
                s.thin_index_chunk(3).unwrap(),
                ThinChunk::default(),
                "a new database has no old snapshots"
            );
            // What migration 11 records in a database it upgrades: its last snapshot.
            // (PostgreSQL's baseline migration has no data step: no row yet.)
            db.execute_bytes(
                "INSERT INTO meta (key, value) VALUES ('index_thin_until', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[ids[6].to_string().as_bytes()],
            );
            let before = lookup(&s);
            let first = s.thin_index_chunk(3).unwrap();
            assert_eq!(
                (first.snapshots, first.thinned, first.next),
                (3, 2, Some(ids[2]))
            );
            (ids, before)
            // Dropped here: the process "stops" after one chunk.
        };
        {
            let s = db.open();
            let mut seen = 0;
            loop {
                let c = s.thin_index_chunk(3).unwrap();
                seen += c.snapshots;
                if c.next.is_none() {
                    break;
                }
            }
            assert_eq!(
                seen, 4,
                "the restart read only the snapshots after the progress"
            );
            assert_eq!(s.index_thin_counts().unwrap(), (2, 0));
        }
        let s = db.open();
        assert_eq!(lookup(&s), before);
        assert_eq!(
            rows_in(db, &s)[0].1,
            Some(ids[0]),
            "thinned against the first snapshot that froze it"
        );
        assert_eq!(
            s.thin_index_chunk(3).unwrap(),
            ThinChunk::default(),
            "through: nothing left"
        );
    });
}
