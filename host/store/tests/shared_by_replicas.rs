//! What replicas on one PostgreSQL database rely on the database for, with
//! two `Store`s on one database standing in for two replicas: webhook
//! de-duplication and disables, and call slots under contention. PostgreSQL
//! only (one SQLite file has one process).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use buildsnap_store::{SlotKind, Store};
use common::{TestDb, seed};

fn two(test: &str) -> Option<(TestDb, Store, Store)> {
    let db = TestDb::postgres(test)?;
    let (a, b) = (db.open(), db.open());
    Some((db, a, b))
}

/// The same delivery arriving at both replicas at once is applied once.
#[test]
fn a_webhook_delivery_is_applied_once_across_replicas() {
    let Some((_db, a, b)) = two("shared_webhook_dedup") else {
        return;
    };
    seed(&a);
    for round in 0..20 {
        let id = format!("delivery-{round}");
        let results: Vec<Option<bool>> = std::thread::scope(|scope| {
            let runs: Vec<_> = [&a, &b, &a, &b]
                .into_iter()
                .map(|s| {
                    let id = id.clone();
                    scope.spawn(move || {
                        s.apply_webhook_event(
                            "acme",
                            "circleci",
                            &id,
                            "workflow-completed",
                            &[],
                            &[],
                        )
                        .unwrap()
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let applied = results.iter().filter(|r| **r == Some(true)).count();
        assert_eq!(applied, 1, "round {round}: {results:?}");
        assert_eq!(
            results.iter().filter(|r| **r == Some(false)).count(),
            3,
            "the others saw it as seen"
        );
    }
}

/// A disable through one replica stops the other's webhook writes at once.
#[test]
fn a_disable_through_one_replica_holds_on_the_other() {
    let Some((_db, a, b)) = two("shared_disable") else {
        return;
    };
    seed(&a);
    assert_eq!(
        a.apply_webhook_event("acme", "circleci", "d1", "k", &[], &[])
            .unwrap(),
        Some(true)
    );
    b.disable_integration("acme", "circleci").unwrap();
    assert_eq!(
        a.apply_webhook_event("acme", "circleci", "d2", "k", &[], &[])
            .unwrap(),
        None,
        "not enabled any more, as the other replica sees it"
    );
    assert!(a.integration_token("acme", "circleci").unwrap().is_none());
}

/// Eight threads over two stores taking and releasing an integration's
/// three slots: never more than three held at once.
#[test]
fn call_slots_stay_within_the_budget_under_contention() {
    let Some((_db, a, b)) = two("shared_call_slots") else {
        return;
    };
    let held = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let taken = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for t in 0..8 {
            let s = if t % 2 == 0 { a.clone() } else { b.clone() };
            let (held, most, taken) = (held.clone(), most.clone(), taken.clone());
            scope.spawn(move || {
                let kind = if t % 4 == 3 {
                    SlotKind::Sync
                } else {
                    SlotKind::Capture
                };
                for _ in 0..15 {
                    let slot = loop {
                        match s
                            .take_call_slot("acme", "circleci", 3, kind, Duration::from_secs(60))
                            .unwrap()
                        {
                            Some(slot) => break slot,
                            None => std::thread::sleep(Duration::from_millis(2)),
                        }
                    };
                    let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    taken.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(3));
                    held.fetch_sub(1, Ordering::SeqCst);
                    s.release_call_slot(&slot).unwrap();
                }
            });
        }
    });
    assert_eq!(taken.load(Ordering::SeqCst), 120);
    let most = most.load(Ordering::SeqCst);
    assert!(most <= 3, "{most} slots held at once");
    assert!(most >= 2, "the slots were contended ({most})");
    assert_eq!(a.call_slots_held("acme", "circleci").unwrap(), 0);
}
