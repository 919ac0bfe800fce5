//! Deploy alert deliveries: the worker that sends what the store queued
//! (`buildsnap-store`'s `alerts.rs` says when events are queued).
//!
//! Each delivery is a `POST` of JSON to the hook's URL, signed with
//! `X-Buildsnap-Signature: sha256=<hex HMAC-SHA256 of the body under the
//! hook's secret>`, with `X-Buildsnap-Event` and a `X-Buildsnap-Delivery` id
//! that stays the same across retries (the body too: it is fixed at the
//! first attempt). A 2xx answer delivers it; anything else (a status, a
//! timeout, a refused connection) is tried again with backoff from 10 s to
//! 10 min for [`GIVE_UP_AFTER`], which is at least the hour the contract
//! promises, then marked `failed`. Delivery is at least once: a receiver
//! that answered but whose answer was lost gets the same delivery id again.
//!
//! A hook URL's origin must be granted by the operator
//! (`BUILDSNAP_ALLOW_HOSTS`), when the hook is added and again at every
//! attempt (a grant taken back stops deliveries). Redirects are not
//! followed. Hook URLs can be credentials (Slack's are), so they are never
//! logged; the origin is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use buildsnap_store::{DueDelivery, Store, ts};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Notify;
use url::Url;

use crate::runtime::origin::{AllowList, Origin};

/// How long a delivery is retried before it is marked `failed`.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How long one attempt may take (connect, send, answer).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a claimed delivery is held for its attempt before another
/// sender (another replica's) may claim it again: well past
/// [`ATTEMPT_TIMEOUT`], so only a sender that died mid-attempt (or stalled
/// for this long) lets a delivery go out twice. Longer delays the retry of
/// a delivery whose sender died; shorter risks a double send of a slow one.
const CLAIM_HOLD: Duration = Duration::from_secs(60);

/// How often the queue is looked at when nothing is due.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The delay before retry `n` (1-based): 10 s doubling to 10 min.
pub fn backoff(n: u32) -> Duration {
    let secs = 10u64.saturating_mul(1 << n.saturating_sub(1).min(10));
    Duration::from_secs(secs.min(600))
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The running sender; [`AlertSender::stop`] ends it.
pub struct AlertSender {
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl AlertSender {
    /// Starts sending `store`'s queued deliveries to origins `grants` allows.
    pub fn start(store: Store, grants: AllowList) -> AlertSender {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        let (flag, woken) = (stop.clone(), wake.clone());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent(concat!("buildsnap-alerts/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with rustls");
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                let s = store.clone();
                let now = ts::to_nanos(ts::now());
                // A claim, not a look: replicas sharing the database each
                // send a different delivery.
                let due =
                    tokio::task::spawn_blocking(move || s.claim_alert_delivery(now, CLAIM_HOLD))
                        .await;
                match due {
                    Ok(Ok(Some(d))) => send(&store, &http, &grants, d).await,
                    Ok(Ok(None)) => {
                        tokio::select! {
                            () = woken.notified() => {}
                            () = tokio::time::sleep(IDLE_POLL) => {}
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "cannot read the alert queue");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    Err(_) => return,
                }
            }
        });
        AlertSender { stop, wake, task }
    }

    /// Stops after the delivery in hand (a queued one stays queued).
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        let _ = self.task.await;
    }
}

/// One attempt of `d`, recorded.
async fn send(store: &Store, http: &reqwest::Client, grants: &AllowList, d: DueDelivery) {
    let origin = Url::parse(&d.url).ok().as_ref().and_then(Origin::of);
    let Some(origin) = origin.filter(|o| grants.allows(o)) else {
        tracing::warn!(delivery = %d.delivery, "alert hook origin is not granted (BUILDSNAP_ALLOW_HOSTS); giving up this delivery");
        record(
            store,
            d.id,
            false,
            None,
            Some("the hook's origin is not granted by BUILDSNAP_ALLOW_HOSTS".into()),
            None,
        )
        .await;
        return;
    };
    let body = match &d.body {
        Some(b) => b.clone(),
        None => match body(store, &d).await {
            Ok(b) => {
                let (s, id, text) = (store.clone(), d.id, b.clone());
                let _ = tokio::task::spawn_blocking(move || s.set_alert_body(id, &text)).await;
                b
            }
            Err(e) => {
                tracing::warn!(delivery = %d.delivery, error = %e, "cannot build the alert body; trying again later");
                let retry = retry_at(&d);
                record(
                    store,
                    d.id,
                    false,
                    None,
                    Some(format!("building the body: {e}")),
                    retry,
                )
                .await;
                return;
            }
        },
    };
    let sent = http
        .post(&d.url)
        .header("content-type", "application/json")
        .header("x-buildsnap-event", &d.event)
        .header("x-buildsnap-delivery", &d.delivery)
        .header(
            "x-buildsnap-signature",
            signature(&d.secret, body.as_bytes()),
        )
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            tracing::info!(delivery = %d.delivery, event = %d.event, origin = %origin, status = r.status().as_u16(), "alert delivered");
            record(store, d.id, true, Some(r.status().as_u16()), None, None).await;
        }
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = retry_at(&d);
            tracing::warn!(delivery = %d.delivery, origin = %origin, status, attempt = d.attempts + 1, retry = retry.is_some(), "alert delivery refused");
            record(
                store,
                d.id,
                false,
                Some(status),
                Some(format!("HTTP {status}")),
                retry,
            )
            .await;
        }
        Err(e) => {
            let retry = retry_at(&d);
            // Without the URL: reqwest's text names it.
            let why = if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_connect() {
                "could not connect".to_string()
            } else {
                "request failed".to_string()
            };
            tracing::warn!(delivery = %d.delivery, origin = %origin, error = %why, attempt = d.attempts + 1, retry = retry.is_some(), "alert delivery failed");
            record(store, d.id, false, None, Some(why), retry).await;
        }
    }
}

/// When to try `d` again, or `None` once it has been tried long enough.
fn retry_at(d: &DueDelivery) -> Option<i64> {
    let now = ts::to_nanos(ts::now());
    if now.saturating_sub(d.created_at) > GIVE_UP_AFTER.as_nanos() as i64 {
        return None;
    }
    let n = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
    Some(now.saturating_add(backoff(n).as_nanos() as i64))
}

async fn record(
    store: &Store,
    id: i64,
    ok: bool,
    status: Option<u16>,
    error: Option<String>,
    retry: Option<i64>,
) {
    let s = store.clone();
    let r = tokio::task::spawn_blocking(move || {
        s.record_alert_attempt(id, ok, status, error.as_deref(), retry)
    })
    .await;
    if let Ok(Err(e)) = r {
        tracing::warn!(error = %e, "cannot record an alert attempt");
    }
}

/// The delivery's body in its hook's format, from the deploy as it is now.
async fn body(store: &Store, d: &DueDelivery) -> anyhow::Result<String> {
    let (s, org, id) = (store.clone(), d.org.clone(), d.deploy_id);
    let deploy = tokio::task::spawn_blocking(move || s.get_deploy_with_current(&org, id)).await??;
    let deploy: Value = serde_json::to_value(&deploy)?;
    let changed: Option<Value> = d.changed.as_deref().map(serde_json::from_str).transpose()?;
    let v = if d.format == "slack" {
        slack(&d.event, &deploy, changed.as_ref())
    } else {
        let mut v =
            json!({"event": d.event, "delivery": d.delivery, "org": d.org, "deploy": deploy});
        if let Some(c) = changed {
            v["changed"] = c;
        }
        v
    };
    Ok(v.to_string())
}

/// A Slack incoming-webhook body: one line of text saying what happened.
fn slack(event: &str, deploy: &Value, changed: Option<&Value>) -> Value {
    let s = |k: &str| deploy[k].as_str().unwrap_or("?").to_string();
    let sha: String = s("sha").chars().take(7).collect();
    let head = format!(
        "Deploy {} of {} to {} at {sha}",
        deploy["id"],
        s("project"),
        s("environment")
    );
    let text = match (event, changed) {
        ("deploy.builds_changed", Some(Value::Array(c))) => {
            let lines: Vec<String> = c
                .iter()
                .map(|b| {
                    let w = |k: &str| b[k].as_str().unwrap_or("?").to_string();
                    format!(
                        "• {}: {} at deploy time, {} since",
                        w("name"),
                        w("frozen_status"),
                        w("current_status")
                    )
                })
                .collect();
            format!(
                "{head}: builds changed since the deploy\n{}",
                lines.join("\n")
            )
        }
        _ => format!(
            "{head}: snapshot {}, builds {}",
            deploy["builds"]["state"].as_str().unwrap_or("?"),
            deploy["builds"]["summary"].as_str().unwrap_or("?")
        ),
    };
    json!({ "text": text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_runs_from_10_s_to_10_min_and_a_day_holds_many_tries() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(7), Duration::from_secs(600));
        assert_eq!(backoff(100), Duration::from_secs(600));
        // At least an hour of tries before giving up.
        let first_twelve: Duration = (1..=12).map(backoff).sum();
        assert!(
            first_twelve >= Duration::from_secs(3600),
            "{first_twelve:?}"
        );
        assert!(GIVE_UP_AFTER >= Duration::from_secs(3600));
    }

    #[test]
    fn the_signature_is_the_hmac_of_the_body() {
        // RFC 4231 test case 2.
        let sig = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_bodies_say_what_changed() {
        let deploy = json!({"id": 7, "project": "web", "environment": "production", "sha": "abcdef1234",
                            "builds": {"state": "complete", "summary": "running"}});
        let changed = json!([{"build_id": "w", "name": "build", "frozen_status": "running", "current_status": "failed"}]);
        let v = slack("deploy.builds_changed", &deploy, Some(&changed));
        assert_eq!(
            v["text"],
            "Deploy 7 of web to production at abcdef1: builds changed since the deploy\n• build: running at deploy time, failed since"
        );
        let v = slack("snapshot.completed", &deploy, None);
        assert_eq!(
            v["text"],
            "Deploy 7 of web to production at abcdef1: snapshot complete, builds running"
        );
    }
}
