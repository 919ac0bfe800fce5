//! Control endpoints under `/_sim/` for driving the simulator at run time.
//!
//! They need no token (the simulator only listens on loopback), are the same in
//! Enterprise mode, and are not recorded in the request log, so they never disturb the
//! counters tests assert on.

use chrono::DateTime;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::FaultRule;
use crate::ratelimit::RateLimitConfig;
use crate::routes::ApiResponse;
use crate::state::Shared;
use crate::webhooks::{WebhookConfig, deliver};

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
struct Redeliver {
    guid: String,
}

fn ok() -> ApiResponse {
    ApiResponse::json(200, &json!({ "ok": true }))
}

fn bad(e: impl std::fmt::Display) -> ApiResponse {
    ApiResponse::json(400, &json!({ "message": e.to_string() }))
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8], f: impl FnOnce(T) -> ApiResponse) -> ApiResponse {
    match serde_json::from_slice::<T>(body) {
        Ok(v) => f(v),
        Err(e) => bad(e),
    }
}

/// Serves one control request.
pub fn handle(sh: &Shared, method: &str, path: &str, body: &[u8]) -> ApiResponse {
    let rest = path.trim_start_matches("/_sim").trim_start_matches('/');
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segs.as_slice()) {
        ("GET", ["health"]) => ok(),
        ("GET", ["clock"]) => clock(sh),
        ("POST", ["clock", "advance"]) => parse(body, |a: Advance| {
            if !(a.seconds >= 0.0 && a.seconds.is_finite()) {
                return bad("seconds must be a non-negative number");
            }
            sh.clock
                .advance(std::time::Duration::from_secs_f64(a.seconds));
            clock(sh)
        }),
        ("POST", ["clock", "set"]) => parse(body, |s: SetClock| {
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
        }),
        ("GET", ["faults"]) => {
            let list: Vec<Value> = sh
                .faults
                .list()
                .into_iter()
                .map(|(id, rule, applied)| json!({ "id": id, "rule": rule, "applied": applied }))
                .collect();
            ApiResponse::json(200, &Value::Array(list))
        }
        ("POST", ["faults"]) => parse(body, |rule: FaultRule| {
            ApiResponse::json(200, &json!({ "id": sh.faults.add(rule) }))
        }),
        ("DELETE", ["faults"]) => {
            sh.faults.clear();
            ok()
        }
        ("DELETE", ["faults", id]) => match id.parse::<u64>().map(|id| sh.faults.remove(id)) {
            Ok(true) => ok(),
            _ => ApiResponse::json(404, &json!({"message": "no such fault"})),
        },
        ("GET", ["requests"]) => {
            ApiResponse::json(200, &serde_json::to_value(sh.log.snapshot()).expect("json"))
        }
        ("DELETE", ["requests"]) => {
            sh.log.clear();
            ok()
        }
        ("GET", ["counters"]) => {
            ApiResponse::json(200, &serde_json::to_value(sh.log.counters()).expect("json"))
        }
        ("GET", ["limits-check"]) => {
            let check = sh
                .log
                .assert_retry_after_respected()
                .and_then(|()| sh.log.assert_reset_respected());
            match check {
                Ok(()) => ok(),
                Err(v) => ApiResponse::json(
                    409,
                    &json!({ "message": v.to_string(), "limited": v.limited, "early": v.early }),
                ),
            }
        }
        ("GET", ["rate-limit"]) => ApiResponse::json(
            200,
            &serde_json::to_value(sh.limiter.config()).expect("json"),
        ),
        ("POST", ["rate-limit"]) => parse(body, |c: RateLimitConfig| {
            sh.limiter.set_config(c);
            ok()
        }),
        ("POST", ["rate-limit", "reset"]) => {
            sh.limiter.reset();
            ok()
        }
        ("POST", ["webhooks"]) => parse(body, |c: WebhookConfig| {
            let c = deliver::subscribe(sh, c);
            ApiResponse::json(200, &json!({ "id": c.id }))
        }),
        ("GET", ["webhooks", "deliveries"]) => ApiResponse::json(
            200,
            &serde_json::to_value(sh.webhooks.deliveries()).expect("json"),
        ),
        ("POST", ["webhooks", "redeliver"]) => parse(body, |r: Redeliver| {
            if deliver::redeliver(sh, &r.guid) {
                ok()
            } else {
                ApiResponse::json(404, &json!({"message": "no such delivery"}))
            }
        }),
        _ => ApiResponse::json(404, &json!({"message": "unknown control endpoint"})),
    }
}

fn clock(sh: &Shared) -> ApiResponse {
    ApiResponse::json(
        200,
        &json!({ "now": sh.clock.now().to_rfc3339(), "running": sh.clock.is_running() }),
    )
}
