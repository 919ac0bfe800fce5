//! Pure: one status word for a snapshot.
//!
//! Only the newest attempt of each (pipeline, workflow name) counts (a
//! successful re-run hides the failed run before it). Then, in order: any
//! `failed` or `error` → `failed`; any `failing` → `failing`; any `running`
//! or `queued` → `running`; any `on_hold` → `on_hold`; all `success` →
//! `success`; no builds → `none`; anything else (canceled, not run,
//! unknown, mixed with success) → `canceled`.

use std::collections::HashMap;

use serde_json::Value;

fn field<'a>(b: &'a Value, k: &str) -> &'a str {
    b.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// The newest attempt of each (pipeline, name), in the order given. `builds`
/// are `<build>` objects newest first; of two attempts created at the same
/// time, the one listed first counts.
pub fn newest_attempts(builds: &[Value]) -> Vec<&Value> {
    let mut newest: HashMap<(&str, &str), &Value> = HashMap::new();
    for b in builds {
        let key = (field(b, "pipeline_id"), field(b, "name"));
        match newest.get(&key) {
            Some(seen) if field(seen, "created_at").is_empty() || created(seen) >= created(b) => {}
            _ => {
                newest.insert(key, b);
            }
        }
    }
    builds
        .iter()
        .filter(|b| newest.values().any(|n| std::ptr::eq(*n, *b)))
        .collect()
}

fn created(b: &Value) -> Option<buildsnap_store::ts::OffsetDateTime> {
    buildsnap_store::ts::parse(field(b, "created_at")).ok()
}

/// The summary word of a list of frozen `<build>` objects.
pub fn summary(builds: &[Value]) -> &'static str {
    let statuses: Vec<&str> = newest_attempts(builds)
        .into_iter()
        .map(|b| field(b, "status"))
        .collect();
    summarize(&statuses)
}

/// The precedence rule over the statuses of the newest attempts.
pub fn summarize(statuses: &[&str]) -> &'static str {
    let any = |words: &[&str]| statuses.iter().any(|s| words.contains(s));
    if statuses.is_empty() {
        "none"
    } else if any(&["failed", "error"]) {
        "failed"
    } else if any(&["failing"]) {
        "failing"
    } else if any(&["running", "queued"]) {
        "running"
    } else if any(&["on_hold"]) {
        "on_hold"
    } else if statuses.iter().all(|s| *s == "success") {
        "success"
    } else {
        "canceled"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b(id: &str, pipeline: &str, name: &str, status: &str, created: &str) -> Value {
        json!({"id": id, "pipeline_id": pipeline, "name": name, "status": status, "created_at": created})
    }

    #[test]
    fn precedence_over_every_status() {
        assert_eq!(summarize(&[]), "none");
        assert_eq!(
            summarize(&["success", "failed", "failing", "running"]),
            "failed"
        );
        assert_eq!(summarize(&["success", "error", "on_hold"]), "failed");
        assert_eq!(
            summarize(&["failing", "running", "on_hold", "canceled"]),
            "failing"
        );
        assert_eq!(summarize(&["running", "on_hold", "success"]), "running");
        assert_eq!(summarize(&["queued", "on_hold"]), "running");
        assert_eq!(summarize(&["on_hold", "success", "canceled"]), "on_hold");
        assert_eq!(summarize(&["success", "success"]), "success");
        assert_eq!(summarize(&["success", "canceled"]), "canceled");
        assert_eq!(summarize(&["not_run"]), "canceled");
        assert_eq!(summarize(&["unknown", "success"]), "canceled");
        assert_eq!(summarize(&["canceled"]), "canceled");
    }

    #[test]
    fn only_the_newest_attempt_of_each_pipeline_and_name_counts() {
        // A failed run re-run successfully in the same pipeline: success.
        let builds = [
            b("rerun", "p1", "build", "success", "2025-06-01T11:10:00Z"),
            b("first", "p1", "build", "failed", "2025-06-01T11:00:00Z"),
        ];
        assert_eq!(summary(&builds), "success");
        // The same name in another pipeline is another (pipeline, name).
        let builds = [
            b("p2", "p2", "build", "success", "2025-06-01T11:20:00Z"),
            b("rerun", "p1", "build", "success", "2025-06-01T11:10:00Z"),
            b("first", "p1", "build", "failed", "2025-06-01T11:00:00Z"),
            b("lint", "p1", "lint", "failed", "2025-06-01T11:00:00Z"),
        ];
        assert_eq!(summary(&builds), "failed");
        let ids: Vec<&str> = newest_attempts(&builds)
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["p2", "rerun", "lint"]);
        // A newer failed attempt hides an older success, whatever the order given.
        let builds = [
            b("first", "p1", "build", "success", "2025-06-01T11:00:00Z"),
            b("rerun", "p1", "build", "failed", "2025-06-01T11:10:00Z"),
        ];
        assert_eq!(summary(&builds), "failed");
        assert_eq!(summary(&[]), "none");
    }
}
