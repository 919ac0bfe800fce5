//! Index retention: rows no snapshot needs go once older than the horizon;
//! what snapshots, sync and captures rely on stays.

mod common;

use buildsnap_domain::{FinalSnapshot, IndexedBuild, SnapshotState, Status, Summary, freeze};
use buildsnap_store::*;
use common::{on_both, open, report, seed};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn build(id: &str, status: &str) -> IndexedBuild {
    // Finished before the deploy at 11:30 when final, so frozen as it is.
    let stopped = (status != "running").then_some("2025-06-01T11:08:00Z");
    serde_json::from_value(serde_json::json!({
        "id": id, "project": "gh/acme/web", "name": id, "status": status, "provider_status": status,
        "url": null, "pipeline_id": "p1", "pipeline_number": 1, "sha": SHA, "branch": "main", "tag": null,
        "created_at": "2025-06-01T11:00:00Z", "stopped_at": stopped, "jobs_complete": true,
        "jobs": [{"id": format!("{id}-job"), "name": "test", "number": 1, "kind": "build", "status": status,
                  "provider_status": status, "started_at": null, "stopped_at": null, "url": null}],
    }))
    .unwrap()
}

/// One whole pass with horizon `before`, `chunk` rows at a time.
fn pass(s: &Store, before: i64, chunk: i64) -> PruneChunk {
    let mut total = PruneChunk::default();
    let mut after = 0;
    loop {
        let c = s.prune_index_chunk(before, after, chunk).unwrap();
        total.builds += c.builds;
        total.searches += c.searches;
        total.webhook_ids += c.webhook_ids;
        match c.next {
            Some(n) => after = n,
            None => return total,
        }
    }
}

fn indexed_ids(s: &Store) -> Vec<String> {
    let mut ids: Vec<String> = s
        .index_lookup("acme", "circleci", "gh/acme/web", SHA)
        .unwrap()
        .builds
        .into_iter()
        .map(|b| b.id)
        .collect();
    ids.sort();
    ids
}

/// A complete snapshot of a deploy at 11:30 that froze `frozen` as they were.
fn snapshot_of(s: &Store, frozen: &[IndexedBuild]) -> i64 {
    let at = ts::parse("2025-06-01T11:30:00Z").unwrap();
    let new = NewDeploy {
        sha: SHA.into(),
        environment: None,
        deployed_at: Some(at),
        code_deployment: None,
    };
    let d = s.register_deploy("acme", "web", &new).unwrap();
    s.next_capture_job().unwrap().unwrap();
    let fin = FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(Status::Running),
        builds: frozen.iter().map(|b| freeze::freeze_build(b, at)).collect(),
        explain: None,
        build_project: Some("gh/acme/web".into()),
        captured_at: at,
    };
    assert!(s.complete_capture(d.id, &fin).unwrap());
    d.id
}

#[test]
fn a_pass_drops_only_what_no_snapshot_sync_or_search_needs() {
    on_both(
        "a_pass_drops_only_what_no_snapshot_sync_or_search_needs",
        |db| {
            let s = db.open();
            seed(&s);
            // Frozen while running, final since: its row gives the snapshot its
            // current_status. Frozen final: its row adds nothing.
            let deploy = snapshot_of(
                &s,
                &[
                    build("was-running", "running"),
                    build("frozen-final", "success"),
                ],
            );
            let now = [
                build("was-running", "failed"),
                build("frozen-final", "success"),
                build("never-frozen", "success"),
                build("still-running", "running"),
            ];
            assert!(
                s.index_builds(
                    "acme",
                    "circleci",
                    &now,
                    Some(("gh/acme/web", SHA, &report(4)))
                )
                .unwrap()
            );
            assert_eq!(
                s.apply_webhook_event(
                    "acme",
                    "circleci",
                    "delivery-1",
                    "workflow-completed",
                    &[],
                    &[]
                )
                .unwrap(),
                Some(true)
            );
            let before_read =
                serde_json::to_string(&s.get_deploy_with_current("acme", deploy).unwrap()).unwrap();
            assert!(
                before_read.contains("\"current_status\":\"failed\""),
                "{before_read}"
            );

            // A horizon in the past: every row is younger, nothing goes.
            assert_eq!(pass(&s, 0, 1000), PruneChunk::default());
            assert_eq!(indexed_ids(&s).len(), 4);

            // A horizon after everything was seen.
            let horizon = ts::to_nanos(ts::now()) + 1;
            let done = pass(&s, horizon, 1);
            assert_eq!((done.builds, done.searches, done.webhook_ids), (2, 1, 1));
            assert_eq!(indexed_ids(&s), ["still-running", "was-running"]);
            // The snapshot reads exactly as before, current_status included.
            let after_read =
                serde_json::to_string(&s.get_deploy_with_current("acme", deploy).unwrap()).unwrap();
            assert_eq!(after_read, before_read);
            // The search is gone, so a capture searches the provider again rather
            // than trusting an index that lost builds.
            assert!(
                s.index_lookup("acme", "circleci", "gh/acme/web", SHA)
                    .unwrap()
                    .search
                    .is_none()
            );
            // The delivery id is forgotten: a redelivery that old applies again.
            assert_eq!(
                s.apply_webhook_event(
                    "acme",
                    "circleci",
                    "delivery-1",
                    "workflow-completed",
                    &[],
                    &[]
                )
                .unwrap(),
                Some(true)
            );
            // Sync still knows the unfinished build.
            assert_eq!(
                s.unfinished_builds(
                    "acme",
                    "circleci",
                    "gh/acme/web",
                    "2025-01-01T00:00:00Z",
                    10
                )
                .unwrap()
                .len(),
                1
            );
            // A second pass finds nothing more.
            assert_eq!(pass(&s, horizon, 1000).builds, 0);
        },
    );
}

#[test]
fn the_unsettled_predicate_is_the_domain_s_non_final_statuses() {
    // The partial index and the query name the final words; they must be
    // exactly the domain's final statuses.
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    drop(s);
    let db = rusqlite::Connection::open(dir.path().join(Store::DB_FILE)).unwrap();
    let sql: String = db
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'snapshot_builds_unsettled'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for &st in Status::ALL {
        let named = sql.contains(&format!("'{}'", st.as_str()));
        assert_eq!(named, st.is_final(), "{st} in {sql}");
    }
    // And the pass's lookup uses that index.
    let plan: Vec<String> = db
        .prepare(
            "EXPLAIN QUERY PLAN SELECT 1 FROM snapshot_builds sb WHERE sb.build_id = 'x'
             AND (sb.status IS NULL OR sb.status NOT IN ('success', 'failed', 'error', 'canceled', 'not_run'))",
        )
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.join(";").contains("snapshot_builds_unsettled"),
        "{plan:?}"
    );
}

/// A pass over more rows than a chunk holds walks them all, chunk after
/// chunk: by rowid on SQLite, by heap page on PostgreSQL (where `chunk`
/// rows are about `chunk / 40` pages).
#[test]
fn a_pass_walks_every_chunk_to_the_end() {
    on_both("a_pass_walks_every_chunk_to_the_end", |db| {
        let s = db.open();
        seed(&s);
        let many: Vec<IndexedBuild> = (0..600)
            .map(|i| build(&format!("b{i:04}"), "success"))
            .collect();
        assert!(s.index_builds("acme", "circleci", &many, None).unwrap());
        let (mut after, mut chunks, mut dropped) = (0, 0, 0);
        loop {
            let c = s.prune_index_chunk(i64::MAX, after, 40).unwrap();
            chunks += 1;
            dropped += c.builds;
            match c.next {
                Some(n) => {
                    assert!(n > after, "{} moves forward", db.name());
                    after = n;
                }
                None => break,
            }
        }
        assert_eq!(dropped, 600, "{}", db.name());
        assert!(chunks > 2, "{}: {chunks} chunks", db.name());
        assert!(indexed_ids(&s).is_empty());
    });
}
