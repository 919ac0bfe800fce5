//! Store events: a committed write is heard by every process on the
//! database (PostgreSQL, through `LISTEN buildsnap`), or by this process's
//! subscribers once after its commit (SQLite); and rate-limit pauses in
//! the database.

mod common;

use std::sync::mpsc::Receiver;
use std::time::Duration;

use buildsnap_store::*;
use common::*;

/// How soon an event committed elsewhere must be heard.
const SOON: Duration = Duration::from_secs(2);

fn next(rx: &Receiver<StoreEvent>, what: &str) -> StoreEvent {
    rx.recv_timeout(SOON)
        .unwrap_or_else(|e| panic!("{what}: no event within {SOON:?} ({e})"))
}

fn nothing_more(rx: &Receiver<StoreEvent>, what: &str) {
    if let Ok(e) = rx.recv_timeout(Duration::from_millis(300)) {
        panic!("{what}: unexpected {e:?}");
    }
}

fn pause(org: &str, until_unix_ms: i64) -> RateLimitPause {
    RateLimitPause {
        org: org.into(),
        plugin: "circleci".into(),
        origin: "https://circleci.com".into(),
        until_unix_ms,
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A second replica is stood in for by a listener of its own: what
/// another replica's store runs.
#[test]
fn postgres_events_committed_by_one_store_reach_another_listener() {
    let Some(db) = TestDb::postgres("events_cross") else {
        return;
    };
    let a = db.open();
    let other = PgListener::start(db.url().unwrap()).unwrap();
    let rx = other.subscribe();
    let own = a.subscribe().unwrap();
    seed(&a);
    nothing_more(&rx, "seeding queues no capture");

    deploy_now(&a, &"a".repeat(40));
    assert_eq!(next(&rx, "deploy"), StoreEvent::CapturesQueued);
    assert_eq!(
        next(&own, "deploy, own listener"),
        StoreEvent::CapturesQueued
    );

    // A wake with waiting jobs tells; one that woke nothing does not.
    db.pg_client()
        .unwrap()
        .execute(
            "UPDATE capture_jobs SET not_before = not_before + 3600000000000",
            &[],
        )
        .unwrap();
    assert_eq!(a.wake_captures("acme", "circleci").unwrap(), 1);
    assert_eq!(next(&rx, "wake"), StoreEvent::CapturesQueued);
    assert_eq!(a.wake_captures("acme", "github").unwrap(), 0);
    nothing_more(&rx, "a wake of nothing");

    let until = now_ms() + 60_000;
    assert!(a.record_pause(&pause("acme", until)).unwrap());
    assert_eq!(
        next(&rx, "pause"),
        StoreEvent::PauseChanged {
            org: "acme".into(),
            plugin: "circleci".into(),
            origin: "https://circleci.com".into(),
            until_unix_ms: until,
        }
    );
    // A shorter pause changes nothing, and says nothing.
    assert!(!a.record_pause(&pause("acme", until - 1_000)).unwrap());
    nothing_more(&rx, "a shorter pause");

    a.disable_integration("acme", "circleci").unwrap();
    assert_eq!(
        next(&rx, "disable"),
        StoreEvent::IntegrationDisabled {
            org: "acme".into(),
            provider: "circleci".into()
        }
    );
    // A write that fails (an unknown org) tells nobody.
    assert!(a.disable_integration("nobody", "circleci").is_err());
    nothing_more(&rx, "a failed disable");
}

/// A listener whose connection the server ends reconnects and says
/// `Resync` (notifications sent meanwhile are lost), then hears again.
#[test]
fn postgres_listener_reconnects_after_its_backend_is_terminated_and_resyncs() {
    let Some(db) = TestDb::postgres("events_reconnect") else {
        return;
    };
    let a = db.open();
    seed(&a);
    let listener = PgListener::start(db.url().unwrap()).unwrap();
    let rx = listener.subscribe();
    let mut admin = db.pg_client().unwrap();
    let ended: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = current_database()",
            &[&LISTENER_APPLICATION_NAME],
        )
        .unwrap()
        .get(0);
    assert_eq!(ended, 1, "the listener's one connection");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        StoreEvent::Resync
    );
    deploy_now(&a, &"b".repeat(40));
    assert_eq!(next(&rx, "after reconnecting"), StoreEvent::CapturesQueued);
}

/// On SQLite the events of a write reach the process's subscribers once,
/// after the commit; a failed write sends none.
#[test]
fn sqlite_subscribers_get_each_event_once_after_commit() {
    let db = TestDb::sqlite();
    let s = db.open();
    let rx = s.subscribe().unwrap();
    let late = s.clone();
    seed(&s);
    nothing_more(&rx, "seeding");
    let d = deploy_now(&s, &"c".repeat(40));
    assert_eq!(next(&rx, "deploy"), StoreEvent::CapturesQueued);
    nothing_more(&rx, "one deploy, one event");
    // Committed before it was sent: the queued job is there to read.
    assert_eq!(
        late.capture_job_state(d.id).unwrap().map(|j| j.0),
        Some("queued".into())
    );
    let bad = NewDeploy {
        sha: "d".repeat(40),
        environment: None,
        deployed_at: None,
        code_deployment: Some("missing".into()),
    };
    assert!(s.register_deploy("acme", "web", &bad).is_err());
    nothing_more(&rx, "a refused deploy");
    s.disable_integration("acme", "circleci").unwrap();
    assert_eq!(
        next(&rx, "disable"),
        StoreEvent::IntegrationDisabled {
            org: "acme".into(),
            provider: "circleci".into()
        }
    );
    nothing_more(&rx, "one disable, one event");
}

/// A pause recorded by one store is read by another on the same database
/// and by the store opened after a restart; it only grows, and ended
/// ones are dropped.
#[test]
fn pauses_are_shared_through_the_database_and_survive_reopen() {
    on_both("pauses_shared", |db| {
        let s = db.open();
        let until = now_ms() + 60_000;
        assert!(s.record_pause(&pause("acme", until)).unwrap());
        assert!(!s.record_pause(&pause("acme", until - 5_000)).unwrap());
        assert!(s.record_pause(&pause("acme", until + 5_000)).unwrap());
        assert!(!s.record_pause(&pause("globex", now_ms() - 1)).unwrap());
        // A second store at once: another replica on PostgreSQL, another
        // handle of this process on SQLite.
        let other = db.open();
        assert_eq!(
            other.rate_limit_pauses().unwrap(),
            [pause("acme", until + 5_000)]
        );
        drop(other);
        assert!(s.record_pause(&pause("short", now_ms() + 50)).unwrap());
        drop(s);
        std::thread::sleep(Duration::from_millis(80));
        let reopened = db.open();
        assert_eq!(
            reopened.rate_limit_pauses().unwrap(),
            [pause("acme", until + 5_000)],
            "{}: ended pauses are not read",
            db.name()
        );
        assert_eq!(
            reopened.prune_rate_limit_pauses().unwrap(),
            1,
            "{}",
            db.name()
        );
        assert_eq!(db.scalar("SELECT count(*) FROM rate_limit_pauses"), 1);
        assert!(
            reopened.record_pause(&pause("", until)).is_err(),
            "an empty org is refused"
        );
    });
}
