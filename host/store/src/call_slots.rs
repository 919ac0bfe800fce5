//! Provider-call slots held in the database (table `call_slots`,
//! migration 12), so that an integration's calls in flight stay within its
//! budget whichever replica makes them.
//!
//! A slot is a row (org, provider, slot number) with a holder token and an
//! expiry. Taking one deletes the integration's expired rows, counts the
//! rest, and inserts the lowest free number when the count allows. The
//! expiry is what frees the slots of a replica that died holding them; a
//! live holder renews before it runs out. Each take makes its own random
//! holder token, so a slot is renewed or released only by whoever took it.
//!
//! The host keeps its in-process lanes (FIFO order, captures first) in
//! front of this: a replica asks the database only once its own lane gave
//! it a slot, so the database sees at most one request per call.

use std::time::Duration;

use crate::events::StoreEvent;
use crate::sql::args;
use crate::{Result, Store, StoreError, ts};

/// Who a slot is for: captures may take the last free slot; a sync may not
/// (see [`Store::take_call_slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// A capture's provider call.
    Capture,
    /// The background sync's provider call.
    Sync,
}

impl SlotKind {
    fn as_str(self) -> &'static str {
        match self {
            SlotKind::Capture => "capture",
            SlotKind::Sync => "sync",
        }
    }
}

/// A slot taken in the database: what renewing and releasing it name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSlot {
    /// The integration's org.
    pub org: String,
    /// The integration's provider.
    pub provider: String,
    /// The slot's number, `0..slots`.
    pub slot: i64,
    /// The random token of this take.
    holder: String,
}

fn holder_token() -> Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| StoreError::Invalid(format!("no randomness for a slot holder: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn nanos_after(ttl: Duration) -> i64 {
    ts::to_nanos(ts::now()).saturating_add(i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX))
}

impl Store {
    /// Takes one of the `slots` call slots of (org, provider) for `ttl`, if
    /// one is free; `None` when they are all held.
    ///
    /// A [`SlotKind::Sync`] take leaves one slot free for captures when the
    /// integration has two or more (so a capture arriving on any replica
    /// finds a slot without waiting for the sync); with a single slot it
    /// takes it when free. Expired rows of the integration (holders that
    /// died) are removed first.
    pub fn take_call_slot(
        &self,
        org: &str,
        provider: &str,
        slots: usize,
        kind: SlotKind,
        ttl: Duration,
    ) -> Result<Option<HeldSlot>> {
        let slots = slots.max(1) as i64;
        let reserve = match kind {
            SlotKind::Capture => 0,
            SlotKind::Sync => i64::from(slots >= 2),
        };
        let holder = holder_token()?;
        self.db.write(|tx| {
            let now = ts::to_nanos(ts::now());
            tx.execute(
                "DELETE FROM call_slots WHERE org = ?1 AND provider = ?2 AND until <= ?3",
                &args![org, provider, now],
            )?;
            let held: Vec<i64> = tx.query_all(
                "SELECT slot FROM call_slots WHERE org = ?1 AND provider = ?2 ORDER BY slot",
                &args![org, provider],
                |r| r.get(0),
            )?;
            if held.len() as i64 + reserve >= slots {
                return Ok(None);
            }
            // The lowest number not held; rows numbered past a budget that
            // has since shrunk still count above, so they are never reused
            // here while they live.
            let Some(slot) = (0..slots).find(|n| !held.contains(n)) else {
                return Ok(None);
            };
            tx.execute(
                "INSERT INTO call_slots (org, provider, slot, owner, kind, until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &args![
                    org,
                    provider,
                    slot,
                    &holder,
                    kind.as_str(),
                    nanos_after(ttl)
                ],
            )?;
            Ok(Some(HeldSlot {
                org: org.to_string(),
                provider: provider.to_string(),
                slot,
                holder: holder.clone(),
            }))
        })
    }

    /// Extends a held slot by `ttl` from now. `false` when it is no longer
    /// this holder's (it expired and was taken by someone else).
    pub fn renew_call_slot(&self, held: &HeldSlot, ttl: Duration) -> Result<bool> {
        self.db.write(|tx| {
            let n = tx.execute(
                "UPDATE call_slots SET until = ?5
                 WHERE org = ?1 AND provider = ?2 AND slot = ?3 AND owner = ?4",
                &args![
                    &held.org,
                    &held.provider,
                    held.slot,
                    &held.holder,
                    nanos_after(ttl)
                ],
            )?;
            Ok(n == 1)
        })
    }

    /// Frees a held slot (a no-op when it already expired and went to
    /// someone else), and tells the replicas waiting for a slot of that
    /// integration ([`StoreEvent::CallSlotFreed`], at the commit).
    pub fn release_call_slot(&self, held: &HeldSlot) -> Result<()> {
        self.db.write(|tx| {
            let n = tx.execute(
                "DELETE FROM call_slots WHERE org = ?1 AND provider = ?2 AND slot = ?3 AND owner = ?4",
                &args![&held.org, &held.provider, held.slot, &held.holder],
            )?;
            if n == 1 {
                tx.emit(&StoreEvent::CallSlotFreed {
                    org: held.org.clone(),
                    provider: held.provider.clone(),
                })?;
            }
            Ok(())
        })
    }

    /// The call slots of (org, provider) held now, for metrics and tests.
    pub fn call_slots_held(&self, org: &str, provider: &str) -> Result<u64> {
        self.db.read(|tx| {
            let n: i64 = tx.query_one(
                "SELECT COUNT(*) FROM call_slots WHERE org = ?1 AND provider = ?2 AND until > ?3",
                &args![org, provider, ts::to_nanos(ts::now())],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
    }
}
