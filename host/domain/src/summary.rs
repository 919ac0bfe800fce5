//! Pure: one status word for a snapshot.
//!
//! Only the newest attempt of each (pipeline, workflow name) counts (a
//! successful re-run hides the failed run before it). Then, in order: any
//! `failed` or `error` → `failed`; any `failing` → `failing`; any `running`
//! or `queued` → `running`; any `on_hold` → `on_hold`; all `success` →
//! `success`; no builds → `none`; anything else (canceled, not run,
//! unknown, mixed with success) → `canceled`.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::{FrozenBuild, Status, Summary, ts};

/// The newest attempt of each (pipeline, name), in the order given. `builds`
/// are newest first; of two attempts created at the same time, the one
/// listed first counts (and so does one whose creation time is empty).
pub fn newest_attempts(builds: &[FrozenBuild]) -> Vec<&FrozenBuild> {
    let mut newest: HashMap<(&str, &str), &FrozenBuild> = HashMap::new();
    for b in builds {
        let key = (b.pipeline_id.as_str(), b.name.as_str());
        match newest.get(&key) {
            Some(seen) if seen.created_at.is_empty() || created(seen) >= created(b) => {}
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

fn created(b: &FrozenBuild) -> Option<OffsetDateTime> {
    ts::parse(&b.created_at).ok()
}

/// The summary of a snapshot's frozen builds.
pub fn summary(builds: &[FrozenBuild]) -> Summary {
    let statuses: Vec<Status> = newest_attempts(builds)
        .into_iter()
        .map(|b| b.status)
        .collect();
    summarize(&statuses)
}

/// The precedence rule over the statuses of the newest attempts: the
/// highest-ranked status decides.
pub fn summarize(statuses: &[Status]) -> Summary {
    statuses
        .iter()
        .map(|s| counts_as(*s))
        .max_by_key(|(rank, _)| *rank)
        .map_or(Summary::None, |(_, word)| Summary::Status(word))
}

/// What one build's status counts as in a summary, with its rank (higher
/// wins): an exhaustive match, so a new status does not compile until it
/// is placed here.
fn counts_as(s: Status) -> (u8, Status) {
    match s {
        // All `success`: `success`.
        Status::Success => (0, Status::Success),
        // Anything else that ended without failing, even beside successes.
        Status::Canceled | Status::NotRun | Status::Unknown => (1, Status::Canceled),
        Status::OnHold => (2, Status::OnHold),
        Status::Running | Status::Queued => (3, Status::Running),
        Status::Failing => (4, Status::Failing),
        Status::Failed | Status::Error => (5, Status::Failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(words: &[&str]) -> Vec<Status> {
        words.iter().map(|w| w.parse().unwrap()).collect()
    }

    fn word(statuses: &[&str]) -> &'static str {
        summarize(&s(statuses)).as_str()
    }

    fn b(id: &str, pipeline: &str, name: &str, status: &str, created: &str) -> FrozenBuild {
        FrozenBuild {
            attempt: 1,
            parent_id: None,
            branch: None,
            created_at: created.into(),
            id: id.into(),
            jobs: vec![],
            jobs_complete: true,
            name: name.into(),
            pipeline_id: pipeline.into(),
            pipeline_number: None,
            provider_status: status.into(),
            sha: "a".repeat(40),
            status: status.parse().unwrap(),
            stopped_at: None,
            tag: None,
            url: None,
        }
    }

    #[test]
    fn precedence_over_every_status() {
        assert_eq!(word(&[]), "none");
        assert_eq!(word(&["success", "failed", "failing", "running"]), "failed");
        assert_eq!(word(&["success", "error", "on_hold"]), "failed");
        assert_eq!(
            word(&["failing", "running", "on_hold", "canceled"]),
            "failing"
        );
        assert_eq!(word(&["running", "on_hold", "success"]), "running");
        assert_eq!(word(&["queued", "on_hold"]), "running");
        assert_eq!(word(&["on_hold", "success", "canceled"]), "on_hold");
        assert_eq!(word(&["success", "success"]), "success");
        assert_eq!(word(&["success", "canceled"]), "canceled");
        assert_eq!(word(&["not_run"]), "canceled");
        assert_eq!(word(&["unknown", "success"]), "canceled");
        assert_eq!(word(&["canceled"]), "canceled");
    }

    #[test]
    fn only_the_newest_attempt_of_each_pipeline_and_name_counts() {
        // A failed run re-run successfully in the same pipeline: success.
        let builds = [
            b("rerun", "p1", "build", "success", "2025-06-01T11:10:00Z"),
            b("first", "p1", "build", "failed", "2025-06-01T11:00:00Z"),
        ];
        assert_eq!(summary(&builds).as_str(), "success");
        // The same name in another pipeline is another (pipeline, name).
        let builds = [
            b("p2", "p2", "build", "success", "2025-06-01T11:20:00Z"),
            b("rerun", "p1", "build", "success", "2025-06-01T11:10:00Z"),
            b("first", "p1", "build", "failed", "2025-06-01T11:00:00Z"),
            b("lint", "p1", "lint", "failed", "2025-06-01T11:00:00Z"),
        ];
        assert_eq!(summary(&builds).as_str(), "failed");
        let ids: Vec<&str> = newest_attempts(&builds)
            .iter()
            .map(|b| b.id.as_str())
            .collect();
        assert_eq!(ids, ["p2", "rerun", "lint"]);
        // A newer failed attempt hides an older success, whatever the order given.
        let builds = [
            b("first", "p1", "build", "success", "2025-06-01T11:00:00Z"),
            b("rerun", "p1", "build", "failed", "2025-06-01T11:10:00Z"),
        ];
        assert_eq!(summary(&builds).as_str(), "failed");
        assert_eq!(summary(&[]).as_str(), "none");
    }
}
