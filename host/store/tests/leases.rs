//! Replicas on one database: capture-job leases (claim, renew, takeover,
//! the old owner's writes refused) and named leases.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use buildsnap_domain::{Status, Summary};
use buildsnap_store::*;
use common::{TestDb, deploy_now, frozen, on_both, seed};

/// A job's `(lease_owner, lease_until)`, read straight from the database.
fn lease_of(db: &TestDb, id: i64) -> (Option<String>, Option<i64>) {
    const SQL: &str = "SELECT lease_owner, lease_until FROM capture_jobs WHERE deploy_id = ";
    match db.pg_client() {
        Some(mut c) => {
            let r = c.query_one(&format!("{SQL}{id}"), &[]).unwrap();
            (r.get(0), r.get(1))
        }
        None => rusqlite::Connection::open(db.dir.path().join(Store::DB_FILE))
            .unwrap()
            .query_row(&format!("{SQL}{id}"), [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap(),
    }
}

fn complete() -> FinalSnapshot {
    FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(Status::Success),
        builds: vec![frozen("wf", Status::Success)],
        explain: None,
        build_project: None,
        captured_at: ts::now(),
    }
}

#[test]
fn a_claim_leases_the_job_to_its_replica_and_settling_clears_the_lease() {
    on_both("claim_leases_the_job", |db| {
        let s = db
            .open()
            .with_capture_lease(Duration::from_secs(30))
            .unwrap();
        assert_eq!(s.capture_lease(), Duration::from_secs(30));
        seed(&s);
        let d = deploy_now(&s, "abcdef1");
        assert_eq!(lease_of(db, d.id), (None, None), "queued: no lease");
        let before = ts::to_nanos(ts::now());
        let job = s.next_capture_job().unwrap().unwrap();
        assert_eq!((job.deploy_id, job.attempts), (d.id, 1));
        let (owner, until) = lease_of(db, d.id);
        assert_eq!(owner.as_deref(), Some(s.replica_id()));
        let until = until.unwrap();
        let lease = Duration::from_secs(30).as_nanos() as i64;
        assert!(
            until >= before + lease && until <= ts::to_nanos(ts::now()) + lease,
            "{}: lease until {until}",
            db.name()
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.renew_capture_lease(d.id).unwrap());
        assert!(lease_of(db, d.id).1.unwrap() > until, "renewed further");
        // Deferred: queued again, lease cleared; renewing it now fails.
        assert!(s.defer_capture(d.id, ts::now(), "not due").unwrap());
        assert_eq!(lease_of(db, d.id), (None, None));
        assert!(!s.renew_capture_lease(d.id).unwrap());
        assert!(!s.defer_capture(d.id, ts::now(), "again").unwrap());
        // Retried: the same.
        s.next_capture_job().unwrap().unwrap();
        assert!(s.retry_capture(d.id, "503", ts::now()).unwrap());
        assert_eq!(lease_of(db, d.id), (None, None));
        // Completed: done, lease cleared.
        s.next_capture_job().unwrap().unwrap();
        assert!(s.complete_capture(d.id, &complete()).unwrap());
        assert_eq!(lease_of(db, d.id), (None, None));
        assert_eq!(s.capture_job_state(d.id).unwrap().unwrap().0, "done");
        assert!(!s.renew_capture_lease(d.id).unwrap());
        assert!(s.with_capture_lease(Duration::ZERO).is_err());
    });
}

/// Two replicas on one PostgreSQL database: the second cannot claim a
/// leased job; once the lease runs out it takes it over, and from then on
/// the first one's complete, defer, retry and renew write nothing.
#[test]
fn an_expired_lease_is_taken_over_and_the_old_owner_writes_nothing() {
    let Some(db) = TestDb::postgres("expired_lease_taken_over") else {
        return;
    };
    let lease = Duration::from_millis(300);
    let a = db.open().with_capture_lease(lease).unwrap();
    let b = db.open().with_capture_lease(lease).unwrap();
    seed(&a);
    let d = deploy_now(&a, "abcdef1");
    assert_eq!(a.next_capture_job().unwrap().unwrap().deploy_id, d.id);
    assert!(b.next_capture_job().unwrap().is_none(), "leased to a");
    // While a renews, b never gets it.
    for _ in 0..3 {
        std::thread::sleep(lease / 2);
        assert!(a.renew_capture_lease(d.id).unwrap());
        assert!(b.next_capture_job().unwrap().is_none(), "renewed by a");
    }
    std::thread::sleep(lease + Duration::from_millis(50));
    assert!(
        a.next_capture_job().unwrap().is_none(),
        "a replica does not take over its own job"
    );
    let job = b.next_capture_job().unwrap().expect("taken over");
    assert_eq!((job.deploy_id, job.attempts), (d.id, 2));
    assert_eq!(lease_of(&db, d.id).0.as_deref(), Some(b.replica_id()));
    assert_eq!(
        a.capture_job_owner(d.id).unwrap().as_deref(),
        Some(b.replica_id())
    );
    // The old owner's writes are refused, and leave the job as b has it.
    assert!(!a.renew_capture_lease(d.id).unwrap());
    assert!(!a.complete_capture(d.id, &complete()).unwrap());
    assert!(!a.retry_capture(d.id, "503", ts::now()).unwrap());
    assert!(!a.defer_capture(d.id, ts::now(), "shutdown").unwrap());
    assert_eq!(
        a.capture_job_state(d.id).unwrap().unwrap(),
        ("running".into(), 2, None)
    );
    assert_eq!(lease_of(&db, d.id).0.as_deref(), Some(b.replica_id()));
    assert_eq!(
        a.get_deploy("acme", d.id).unwrap().builds.state,
        SnapshotState::Pending
    );
    // The new owner finishes: one final snapshot, never rewritten.
    let fin = complete();
    assert!(b.complete_capture(d.id, &fin).unwrap());
    let captured = |s: &Store| s.get_deploy("acme", d.id).unwrap().builds.captured_at;
    let first = captured(&b);
    assert!(first.is_some());
    assert!(!a.complete_capture(d.id, &complete()).unwrap());
    assert!(!b.complete_capture(d.id, &complete()).unwrap());
    assert_eq!(captured(&a), first);
}

#[test]
fn named_leases_are_taken_renewed_expire_and_are_released() {
    on_both("named_leases", |db| {
        // Two stores of one database: on SQLite two in one data dir, which
        // serve never does but the lease table does not mind.
        let a = db.open();
        let b = db.open();
        let ttl = Duration::from_millis(300);
        assert!(a.try_lease("sync:acme:circleci:gh/acme/web", ttl).unwrap());
        assert_eq!(
            b.lease_holder("sync:acme:circleci:gh/acme/web")
                .unwrap()
                .as_deref(),
            Some(a.replica_id())
        );
        assert!(!b.try_lease("sync:acme:circleci:gh/acme/web", ttl).unwrap());
        assert!(b.try_lease("sync:acme:circleci:gh/acme/api", ttl).unwrap());
        // Renewed by its holder: still a's after the first ttl has passed.
        std::thread::sleep(ttl / 2);
        assert!(a.try_lease("sync:acme:circleci:gh/acme/web", ttl).unwrap());
        std::thread::sleep(ttl / 2 + Duration::from_millis(50));
        assert!(!b.try_lease("sync:acme:circleci:gh/acme/web", ttl).unwrap());
        // Expired: b takes it, and a's renewal is refused.
        std::thread::sleep(ttl + Duration::from_millis(50));
        assert_eq!(
            b.lease_holder("sync:acme:circleci:gh/acme/web").unwrap(),
            None
        );
        assert!(b.try_lease("sync:acme:circleci:gh/acme/web", ttl).unwrap());
        assert!(!a.try_lease("sync:acme:circleci:gh/acme/web", ttl).unwrap());
        // Released: only by its holder; then free at once.
        assert!(!a.release_lease("sync:acme:circleci:gh/acme/web").unwrap());
        assert!(b.release_lease("sync:acme:circleci:gh/acme/web").unwrap());
        assert!(!b.release_lease("sync:acme:circleci:gh/acme/web").unwrap());
        assert!(a.try_lease("sync:acme:circleci:gh/acme/web", ttl).unwrap());
        assert!(a.try_lease("", ttl).is_err());
    });
}

/// Four threads on each of two replicas claim 200 jobs at once: every job
/// is claimed exactly once (no job lost, none handed out twice).
#[test]
fn concurrent_claims_on_postgres_take_each_job_once() {
    let Some(db) = TestDb::postgres("concurrent_claims") else {
        return;
    };
    let stores = [db.open(), db.open()];
    seed(&stores[0]);
    let ids: Vec<i64> = (0..200)
        .map(|i| deploy_now(&stores[0], &format!("{:040x}", i + 1)).id)
        .collect();
    let claimed: Arc<Mutex<HashMap<i64, Vec<String>>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(120);
    std::thread::scope(|scope| {
        for store in &stores {
            for _ in 0..4 {
                let claimed = claimed.clone();
                scope.spawn(move || {
                    while claimed.lock().unwrap().len() < 200 && Instant::now() < deadline {
                        match store.next_capture_job().unwrap() {
                            Some(job) => claimed
                                .lock()
                                .unwrap()
                                .entry(job.deploy_id)
                                .or_default()
                                .push(store.replica_id().to_string()),
                            // Every due row locked by another claimer, or none left.
                            None => std::thread::sleep(Duration::from_millis(2)),
                        }
                    }
                });
            }
        }
    });
    let claimed = claimed.lock().unwrap();
    let twice: Vec<_> = claimed.iter().filter(|(_, v)| v.len() != 1).collect();
    assert!(twice.is_empty(), "claimed more than once: {twice:?}");
    let mut got: Vec<i64> = claimed.keys().copied().collect();
    got.sort();
    assert_eq!(got, ids, "every job claimed");
    let by: std::collections::HashSet<&String> = claimed.values().flatten().collect();
    assert_eq!(by.len(), 2, "both replicas claimed some");
    assert_eq!(
        db.scalar("SELECT count(*) FROM capture_jobs WHERE state = 'running' AND attempts = 1"),
        200
    );
}

/// The alert sender claims a delivery for its attempt: while the claim
/// holds, no other sender (replica) gets it; after it, the next does.
#[test]
fn an_alert_delivery_is_claimed_by_one_sender_at_a_time() {
    on_both("alert_delivery_claims", |db| {
        let (a, b) = (db.open(), db.open());
        seed(&a);
        let hook = a
            .create_alert_hook(
                "acme",
                &NewAlertHook {
                    url: "https://hooks.example.com/x".into(),
                    events: vec!["snapshot.completed".into()],
                    format: "buildsnap".into(),
                    secret: zeroize::Zeroizing::new("0123456789abcdef-secret".into()),
                },
            )
            .unwrap();
        let d = deploy_now(&a, "abcdef1");
        assert!(a.finish_capture(d.id, &complete()).unwrap());
        let now = ts::to_nanos(ts::now());
        let hold = Duration::from_secs(60);
        let got = a.claim_alert_delivery(now, hold).unwrap().expect("due");
        assert_eq!(
            (got.deploy_id, got.url.as_str()),
            (d.id, "https://hooks.example.com/x")
        );
        assert!(
            b.claim_alert_delivery(now, hold).unwrap().is_none(),
            "held by a"
        );
        assert!(a.next_alert_delivery(now).unwrap().is_none());
        let later = now + hold.as_nanos() as i64;
        let again = b
            .claim_alert_delivery(later, hold)
            .unwrap()
            .expect("hold over");
        assert_eq!(again.id, got.id);
        // The attempt's record sets the real next time.
        b.record_alert_attempt(got.id, true, Some(200), None, None)
            .unwrap();
        assert!(a.claim_alert_delivery(i64::MAX, hold).unwrap().is_none());
        assert_eq!(
            a.alert_deliveries("acme", hook.id, 10).unwrap().unwrap()[0].state,
            "delivered"
        );
    });
}
