//! Admin endpoints under `/_sim/` for switching faults and reading state at run time.
//!
//! They need no token (the simulator only listens on loopback) and are not
//! recorded in the request log, so they never disturb the counters tests assert on.

use chrono::DateTime;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::FaultRule;
use crate::routes::ApiResponse;
use crate::state::Shared;
use crate::webhooks::WebhookConfig;

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

#[derive(Deserialize)]
struct SetClock {
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    running: Option<bool>,
}

#[derive(Deserialize)]
struct Expire {
    workflow_ids: Vec<String>,
}

/// Serves one admin request.
pub fn handle(
    sh: &Shared,
    method: &str,
    path: &str,
    _query: Option<&str>,
    body: &[u8],
) -> ApiResponse {
    let ok = || ApiResponse::json(200, &json!({ "ok": true }));
    let bad = |e: String| ApiResponse::message(400, &e);
    let rest = path.trim_start_matches("/_sim").trim_start_matches('/');
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segs.as_slice()) {
        ("GET", ["health"]) => ok(),
        ("GET", ["clock"]) => clock(sh),
        ("POST", ["clock", "advance"]) => match serde_json::from_slice::<Advance>(body) {
            Ok(a) if a.seconds >= 0.0 && a.seconds.is_finite() => {
                sh.clock
                    .advance(std::time::Duration::from_secs_f64(a.seconds));
                clock(sh)
            }
            Ok(_) => bad("seconds must be a non-negative number".into()),
            Err(e) => bad(e.to_string()),
        },
        ("POST", ["clock", "set"]) => match serde_json::from_slice::<SetClock>(body) {
            Ok(s) => {
                if let Some(t) = s.time {
                    match DateTime::parse_from_rfc3339(&t) {
                        Ok(t) => sh.clock.set(t.to_utc()),
                        Err(e) => return bad(format!("time: {e}")),
                    }
                }
                if let Some(r) = s.running {
                    sh.clock.set_running(r);
                }
                clock(sh)
            }
            Err(e) => bad(e.to_string()),
        },
        ("GET", ["faults"]) => {
            let list: Vec<Value> = sh
                .faults
                .list()
                .into_iter()
                .map(|(id, rule, applied)| json!({ "id": id, "rule": rule, "applied": applied }))
                .collect();
            ApiResponse::json(200, &Value::Array(list))
        }
        ("POST", ["faults"]) => match serde_json::from_slice::<FaultRule>(body) {
            Ok(rule) if rule.validate().is_err() => {
                ApiResponse::message(400, &rule.validate().unwrap_err())
            }
            Ok(rule) => ApiResponse::json(200, &json!({ "id": sh.faults.add(rule) })),
            Err(e) => bad(e.to_string()),
        },
        ("DELETE", ["faults"]) => {
            sh.faults.clear();
            ok()
        }
        ("DELETE", ["faults", id]) => match id.parse::<u64>().map(|id| sh.faults.remove(id)) {
            Ok(true) => ok(),
            _ => ApiResponse::message(404, "no such fault"),
        },
        ("GET", ["requests"]) => {
            ApiResponse::json(200, &serde_json::to_value(sh.log.snapshot()).expect("json"))
        }
        ("DELETE", ["requests"]) => {
            sh.log.clear();
            ok()
        }
        ("GET", ["counters"]) => ApiResponse::json(
            200,
            &json!({
                "total": sh.log.count("/"),
                "by_route": sh.log.by_route(),
                "by_status": sh.log.by_status(),
            }),
        ),
        ("GET", ["retry-after-check"]) => match sh.log.assert_retry_after_respected() {
            Ok(()) => ok(),
            Err(v) => ApiResponse::json(
                409,
                &json!({ "message": v.to_string(), "rate_limited": v.rate_limited, "retry": v.retry }),
            ),
        },
        ("POST", ["expire"]) => match serde_json::from_slice::<Expire>(body) {
            Ok(e) => {
                sh.expired.lock().unwrap().extend(e.workflow_ids);
                ok()
            }
            Err(e) => bad(e.to_string()),
        },
        ("DELETE", ["expire"]) => {
            sh.expired.lock().unwrap().clear();
            ok()
        }
        ("POST", ["webhooks"]) => match serde_json::from_slice::<WebhookConfig>(body) {
            Ok(c) => {
                sh.webhooks.add(c);
                ok()
            }
            Err(e) => bad(e.to_string()),
        },
        ("GET", ["webhooks", "deliveries"]) => ApiResponse::json(
            200,
            &serde_json::to_value(sh.webhooks.deliveries()).expect("json"),
        ),
        _ => ApiResponse::message(404, "unknown admin endpoint"),
    }
}

fn clock(sh: &Shared) -> ApiResponse {
    ApiResponse::json(
        200,
        &json!({ "now": sh.clock.now().to_rfc3339(), "running": sh.clock.is_running() }),
    )
}
