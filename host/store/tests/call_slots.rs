//! Provider-call slots in the database: an integration's calls in flight
//! stay within its budget across every holder, a sync leaves a slot for
//! captures, and a holder that died frees its slot when it expires.

mod common;

use std::time::Duration;

use buildsnap_store::{SlotKind, Store};
use common::on_both;

const LONG: Duration = Duration::from_secs(60);

fn take(s: &Store, slots: usize, kind: SlotKind) -> Option<buildsnap_store::HeldSlot> {
    s.take_call_slot("acme", "circleci", slots, kind, LONG)
        .unwrap()
}

#[test]
fn takes_stop_at_the_budget_and_a_release_frees_one() {
    on_both("call_slots_budget", |db| {
        let s = db.open();
        let a = take(&s, 2, SlotKind::Capture).expect("first slot");
        let b = take(&s, 2, SlotKind::Capture).expect("second slot");
        assert_ne!(a.slot, b.slot);
        assert!(take(&s, 2, SlotKind::Capture).is_none(), "budget of two");
        assert_eq!(s.call_slots_held("acme", "circleci").unwrap(), 2);
        // Another integration has its own slots.
        assert!(
            s.take_call_slot("acme", "github", 2, SlotKind::Capture, LONG)
                .unwrap()
                .is_some()
        );
        s.release_call_slot(&a).unwrap();
        let c = take(&s, 2, SlotKind::Capture).expect("freed slot taken");
        assert_eq!(c.slot, a.slot, "the lowest free number");
        // A release by the old take does not free the new holder's slot.
        s.release_call_slot(&a).unwrap();
        assert_eq!(s.call_slots_held("acme", "circleci").unwrap(), 2);
    });
}

#[test]
fn a_sync_leaves_the_last_slot_to_captures_unless_there_is_only_one() {
    on_both("call_slots_sync", |db| {
        let s = db.open();
        take(&s, 3, SlotKind::Sync).expect("sync with three free");
        take(&s, 3, SlotKind::Capture).expect("capture");
        assert!(
            take(&s, 3, SlotKind::Sync).is_none(),
            "the sync may not take the last free slot"
        );
        assert!(take(&s, 3, SlotKind::Capture).is_some(), "a capture may");
        let one = db.another("call_slots_sync_one").open();
        let only = one
            .take_call_slot("acme", "gha", 1, SlotKind::Sync, LONG)
            .unwrap()
            .expect("with one slot the sync takes it when free");
        assert!(
            one.take_call_slot("acme", "gha", 1, SlotKind::Capture, LONG)
                .unwrap()
                .is_none()
        );
        one.release_call_slot(&only).unwrap();
        assert!(
            one.take_call_slot("acme", "gha", 1, SlotKind::Capture, LONG)
                .unwrap()
                .is_some()
        );
    });
}

#[test]
fn an_expired_slot_is_taken_over_and_its_old_holder_cannot_renew_it() {
    on_both("call_slots_expiry", |db| {
        let s = db.open();
        let short = Duration::from_millis(200);
        let dead = s
            .take_call_slot("acme", "circleci", 1, SlotKind::Capture, short)
            .unwrap()
            .unwrap();
        assert!(take(&s, 1, SlotKind::Capture).is_none());
        // Renewed while alive: still held after the first expiry would be.
        assert!(s.renew_call_slot(&dead, short).unwrap());
        std::thread::sleep(Duration::from_millis(350));
        let next = take(&s, 1, SlotKind::Capture).expect("the expired slot is free");
        assert_eq!(next.slot, dead.slot);
        assert!(
            !s.renew_call_slot(&dead, LONG).unwrap(),
            "the old holder lost it"
        );
        assert!(s.renew_call_slot(&next, LONG).unwrap());
    });
}
