//! Deploy alerts: an org's alert hooks and the durable queue of their
//! deliveries (docs/http-api.md "Deploy alerts").
//!
//! Deliveries are queued in the same transaction as what they report: a
//! snapshot reaching `complete` or `error` (`snapshot.completed`), or a
//! build some complete snapshot froze before it was final reaching its
//! final status (`deploy.builds_changed`). So an event is never lost
//! between the change and the queue, and a restart delivers what was
//! queued. The delivery worker (host `alerts.rs`) fixes a delivery's body
//! at its first attempt, so retries send the same bytes under the same
//! delivery id.

use serde::Serialize;
use zeroize::Zeroizing;

use crate::sql::{Row, args};
use crate::{Result, Store, StoreError, orgs, ts, validate};

mod queue;

pub(crate) use queue::{build_became_final, enqueue, settled_at_capture};

/// The events a hook may ask for.
pub const ALERT_EVENTS: &[&str] = &["snapshot.completed", "deploy.builds_changed"];

/// Body formats of a hook.
pub const ALERT_FORMATS: &[&str] = &["buildsnap", "slack"];

/// An alert hook as the API shows it. The signing secret is write-only,
/// and the URL is shown masked (origin, then the last 4 characters): a
/// Slack incoming-webhook URL is itself a credential, so every hook URL is
/// stored sealed like the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertHook {
    /// Its id.
    pub id: i64,
    /// Where deliveries go, masked.
    pub url: String,
    /// Events it receives.
    pub events: Vec<String>,
    /// `buildsnap` (the JSON of docs/http-api.md) or `slack`.
    pub format: String,
    /// When it was added.
    pub created_at: String,
}

/// Input of [`Store::create_alert_hook`].
#[derive(Debug, Clone)]
pub struct NewAlertHook {
    /// Where deliveries go (http or https).
    pub url: String,
    /// A subset of [`ALERT_EVENTS`], at least one.
    pub events: Vec<String>,
    /// One of [`ALERT_FORMATS`].
    pub format: String,
    /// The HMAC-SHA256 signing secret (16 to 256 bytes).
    pub secret: Zeroizing<String>,
}

/// One delivery as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertDelivery {
    /// The stable delivery id (`X-Buildsnap-Delivery`).
    pub delivery: String,
    /// The event.
    pub event: String,
    /// The deploy it is about.
    pub deploy_id: i64,
    /// `queued`, `delivered` or `failed` (gave up).
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// HTTP status of the last attempt, if it got one.
    pub last_status: Option<i64>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// When it was delivered or given up.
    pub finished_at: Option<String>,
}

/// A delivery due now, with what sending it needs.
#[derive(Debug)]
pub struct DueDelivery {
    /// Row id.
    pub id: i64,
    /// The stable delivery id.
    pub delivery: String,
    /// The event.
    pub event: String,
    /// The org's slug.
    pub org: String,
    /// The deploy it is about.
    pub deploy_id: i64,
    /// `deploy.builds_changed`: the changed builds, as JSON.
    pub changed: Option<String>,
    /// The body, once fixed by the first attempt.
    pub body: Option<String>,
    /// Attempts made so far.
    pub attempts: i64,
    /// When it was queued (Unix nanoseconds).
    pub created_at: i64,
    /// The hook's URL (unsealed; may be a credential: never log it).
    pub url: String,
    /// The hook's format.
    pub format: String,
    /// The hook's signing secret.
    pub secret: Zeroizing<Vec<u8>>,
}

pub(crate) fn aad(org_id: i64, hook: i64, what: &str) -> Vec<u8> {
    format!("alert-hook/{org_id}/{hook}/{what}").into_bytes()
}

/// `https://hooks.example.com/…/a1b2`: enough to recognise a hook by.
fn masked(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let (origin, path) = match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    };
    let tail: String = path
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if path.chars().count() <= 1 {
        origin.to_string()
    } else {
        format!("{origin}/…{tail}")
    }
}

fn hook_row(r: &Row<'_>) -> Result<AlertHook> {
    Ok(AlertHook {
        id: r.get(0)?,
        url: r.get(1)?,
        events: r.get::<String>(2)?.split(' ').map(str::to_string).collect(),
        format: r.get(3)?,
        created_at: ts::nanos_to_string(r.get(4)?),
    })
}

impl Store {
    /// Adds an alert hook to `org`. The URL's origin must have been checked
    /// against what the operator grants by the caller.
    pub fn create_alert_hook(&self, org: &str, new: &NewAlertHook) -> Result<AlertHook> {
        let url = validate::http_url("url", &new.url)?;
        if new.events.is_empty()
            || new
                .events
                .iter()
                .any(|e| !ALERT_EVENTS.contains(&e.as_str()))
        {
            return Err(StoreError::Invalid(format!(
                "\"events\" must name one or more of: {}",
                ALERT_EVENTS.join(", ")
            )));
        }
        if !ALERT_FORMATS.contains(&new.format.as_str()) {
            return Err(StoreError::Invalid(format!(
                "\"format\" must be one of: {}",
                ALERT_FORMATS.join(", ")
            )));
        }
        let n = new.secret.len();
        if !(16..=256).contains(&n) {
            return Err(StoreError::Invalid(
                "\"secret\" must be 16 to 256 bytes (it signs every delivery)".into(),
            ));
        }
        let mut events: Vec<&str> = ALERT_EVENTS
            .iter()
            .copied()
            .filter(|e| new.events.iter().any(|n| n == e))
            .collect();
        events.dedup();
        let now = ts::to_nanos(ts::now());
        let shown = masked(&url);
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            // Sealed values come once the id is known (below): empty for now.
            let id: i64 = tx.query_one(
                "INSERT INTO alert_hooks (org_id, url, url_sealed, events, format, secret_sealed, created_at)
                 VALUES (?1, ?2, ?6, ?3, ?4, ?6, ?5) RETURNING id",
                &args![org_id, &shown, &events.join(" "), &new.format, now, &[][..]],
                |r| r.get(0),
            )?;
            // Sealed under the hook's own id, so sealed values cannot be
            // moved to another hook.
            let secret = self.db.key.seal(new.secret.as_bytes(), &aad(org_id, id, "secret"))?;
            let sealed_url = self.db.key.seal(url.as_bytes(), &aad(org_id, id, "url"))?;
            tx.execute(
                "UPDATE alert_hooks SET secret_sealed = ?2, url_sealed = ?3 WHERE id = ?1",
                &args![id, &secret, &sealed_url],
            )?;
            Ok(AlertHook {
                id,
                url: shown.clone(),
                events: events.iter().map(|e| e.to_string()).collect(),
                format: new.format.clone(),
                created_at: ts::nanos_to_string(now),
            })
        })
    }

    /// `org`'s alert hooks, oldest first.
    pub fn alert_hooks(&self, org: &str) -> Result<Vec<AlertHook>> {
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            tx.query_all(
                "SELECT id, url, events, format, created_at FROM alert_hooks WHERE org_id = ?1 ORDER BY id",
                &args![org_id],
                hook_row,
            )
        })
    }

    /// Removes hook `id` of `org` and its deliveries; `false` if there is
    /// no such hook.
    pub fn delete_alert_hook(&self, org: &str, id: i64) -> Result<bool> {
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            Ok(tx.execute(
                "DELETE FROM alert_hooks WHERE id = ?1 AND org_id = ?2",
                &args![id, org_id],
            )? == 1)
        })
    }
}
