//! Behaviour that rests on statements rewritten in forms both backends
//! accept (`crate::sql`): an upsert that keeps an existing column, a row's
//! new id from `RETURNING`, sealed columns written after an insert of
//! empty bytes, and the hooks an event is queued for.

mod common;

use buildsnap_domain::{Status, Summary};
use buildsnap_store::*;
use common::*;
use zeroize::Zeroizing;

/// A sync page without a cursor keeps the cursor stored before
/// (`COALESCE(excluded.cursor, sync_cursors.cursor)`).
#[test]
fn a_sync_page_without_a_cursor_keeps_the_stored_one() {
    on_both("a_sync_page_without_a_cursor_keeps_the_stored_one", |db| {
        let s = db.open();
        seed(&s);
        let cursor = || s.sync_cursor("acme", "circleci", "gh/acme/web").unwrap();
        assert_eq!(cursor(), None);
        assert!(
            s.save_sync("acme", "circleci", "gh/acme/web", &[], Some("c1"))
                .unwrap()
        );
        assert!(
            s.save_sync("acme", "circleci", "gh/acme/web", &[], None)
                .unwrap()
        );
        assert_eq!(cursor().as_deref(), Some("c1"));
        assert!(
            s.save_sync("acme", "circleci", "gh/acme/web", &[], Some("c2"))
                .unwrap()
        );
        assert_eq!(cursor().as_deref(), Some("c2"));
    });
}

/// New rows get their ids from `RETURNING id`: deploys and hooks number up
/// from 1, and a hook's sealed URL and secret (written after its id is
/// known) open again when its delivery falls due; the event is queued only
/// for the hooks that asked for it.
#[test]
fn new_rows_get_their_ids_and_a_hook_its_sealed_values() {
    on_both(
        "new_rows_get_their_ids_and_a_hook_its_sealed_values",
        |db| {
            let s = db.open();
            seed(&s);
            let hook = |url: &str, event: &str| NewAlertHook {
                url: url.into(),
                events: vec![event.into()],
                format: "buildsnap".into(),
                secret: Zeroizing::new("0123456789abcdef-secret".into()),
            };
            let a = s
                .create_alert_hook(
                    "acme",
                    &hook("https://hooks.example.com/a/path", "snapshot.completed"),
                )
                .unwrap();
            let b = s
                .create_alert_hook(
                    "acme",
                    &hook("https://hooks.example.com/b", "deploy.builds_changed"),
                )
                .unwrap();
            assert_eq!((a.id, b.id), (1, 2));
            assert_eq!(
                s.alert_hooks("acme")
                    .unwrap()
                    .iter()
                    .map(|h| h.id)
                    .collect::<Vec<_>>(),
                [1, 2]
            );
            let d1 = deploy_now(&s, &"a".repeat(40));
            let d2 = deploy_now(&s, &"b".repeat(40));
            assert_eq!((d1.id, d2.id), (1, 2));
            let job = s.next_capture_job().unwrap().unwrap();
            assert_eq!(job.deploy_id, d1.id);
            let fin = FinalSnapshot {
                state: SnapshotState::Complete,
                summary: Summary::Status(Status::Success),
                builds: vec![frozen("w1", Status::Success)],
                explain: None,
                build_project: Some("gh/acme/web".into()),
                captured_at: ts::now(),
            };
            assert!(s.finish_capture(d1.id, &fin).unwrap());
            let due = s.next_alert_delivery(i64::MAX).unwrap().unwrap();
            assert_eq!(
                (due.event.as_str(), due.deploy_id, due.url.as_str()),
                (
                    "snapshot.completed",
                    d1.id,
                    "https://hooks.example.com/a/path"
                )
            );
            assert_eq!(due.secret.as_slice(), b"0123456789abcdef-secret");
            assert_eq!(s.alert_deliveries("acme", b.id, 10).unwrap(), Some(vec![]));
            assert_eq!(
                s.alert_deliveries("acme", a.id, 10).unwrap().unwrap().len(),
                1
            );
            // Its life: the body fixed once, a failed attempt retried later,
            // then delivered.
            s.set_alert_body(due.id, "{\"first\":1}").unwrap();
            s.set_alert_body(due.id, "{\"second\":2}").unwrap();
            s.record_alert_attempt(due.id, false, Some(503), Some("unavailable"), Some(10))
                .unwrap();
            assert!(s.next_alert_delivery(9).unwrap().is_none(), "not due yet");
            let again = s.next_alert_delivery(10).unwrap().unwrap();
            assert_eq!(
                (again.id, again.attempts, again.body.as_deref()),
                (due.id, 1, Some("{\"first\":1}"))
            );
            s.record_alert_attempt(due.id, true, Some(200), None, None)
                .unwrap();
            assert!(s.next_alert_delivery(i64::MAX).unwrap().is_none());
            let shown = &s.alert_deliveries("acme", a.id, 10).unwrap().unwrap()[0];
            assert_eq!(
                (shown.state.as_str(), shown.attempts, shown.last_status),
                ("delivered", 2, Some(200))
            );
            assert!(shown.finished_at.is_some());
        },
    );
}
