//! Pure: what an attempt's findings mean for the snapshot. The steps in
//! `attempt.rs` gather facts (the index, the provider's answer, its
//! errors); these functions turn them into an [`Outcome`] without I/O, so
//! every rule here is unit-tested.

use std::time::Duration;

use buildsnap_domain::{
    FinalSnapshot, IndexedBuild, SearchReport, SnapshotState, Summary, freeze, summary,
};
use buildsnap_store::CaptureJob;
use buildsnap_store::ts::{self, OffsetDateTime};

use crate::capture::explain;
use crate::capture::retry::Failure;

/// What one capture attempt ended with.
#[derive(Debug)]
pub enum Outcome {
    /// A final snapshot to store.
    Done(FinalSnapshot),
    /// Try again after `after`.
    Retry {
        /// Why (stored as the job's last error).
        reason: String,
        /// How long to wait.
        after: Duration,
    },
    /// Not due yet (deployed_at in the future): wait without counting an attempt.
    Defer(OffsetDateTime),
    /// The integration was disabled: nothing to store (the store already
    /// ended the snapshot), nothing more to call.
    Dropped,
}

/// The identifiers of one capture once its provider project is known: what
/// every step after that works on. The steps share it (`Arc`) with the
/// blocking store calls they make, which need owned data.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureIds {
    /// The deploy being captured.
    pub deploy_id: i64,
    /// Org slug.
    pub org: String,
    /// Provider id the snapshot is captured from.
    pub provider: String,
    /// The provider project searched (configured, or derived from the
    /// repository URL).
    pub project: String,
    /// The deployed commit as registered (full or prefix).
    pub sha: String,
    /// The snapshot's `as_of`: the deploy's `deployed_at`.
    pub as_of: OffsetDateTime,
    /// Attempts so far, including this one.
    pub attempts: u32,
    /// The code deployment's branch when it takes builds of that branch
    /// only; `None`: builds of any branch.
    pub branch_only: Option<String>,
}

impl CaptureIds {
    /// The identifiers of `job`'s capture in provider project `project`.
    pub fn new(job: &CaptureJob, project: String) -> CaptureIds {
        CaptureIds {
            deploy_id: job.deploy_id,
            org: job.org.clone(),
            provider: job.provider.clone(),
            project,
            sha: job.sha.clone(),
            as_of: job.deployed_at,
            attempts: job.attempts,
            branch_only: job.branch_builds_only.then(|| job.branch.clone()),
        }
    }
}

/// An `error` snapshot explaining why (no builds, summary `none`).
pub fn error_snapshot(explain: String, build_project: Option<String>) -> FinalSnapshot {
    FinalSnapshot {
        state: SnapshotState::Error,
        summary: Summary::None,
        builds: vec![],
        explain: Some(explain),
        build_project,
        captured_at: ts::now(),
    }
}

/// Builds "as of" a moment that has not come yet are not knowable: a deploy
/// registered more than a second ahead of `now` waits until then.
pub fn not_due(deployed_at: OffsetDateTime, now: OffsetDateTime) -> Option<Outcome> {
    (deployed_at > now + Duration::from_secs(1)).then_some(Outcome::Defer(deployed_at))
}

/// The snapshot of the capture `ids` from the builds of its project whose
/// SHA starts with the deploy's (all that exist, as far as `report`
/// searched): `complete` with the builds as of `as_of`, or `error` when the
/// registered SHA is a prefix of several commits.
pub fn decide(
    ids: &CaptureIds,
    builds: &[IndexedBuild],
    report: Option<&SearchReport>,
) -> FinalSnapshot {
    let (provider, project) = (ids.provider.as_str(), ids.project.as_str());
    let sha = ids.sha.to_ascii_lowercase();
    let matching: Vec<IndexedBuild> = builds
        .iter()
        .filter(|b| b.sha.starts_with(&sha))
        .cloned()
        .collect();
    let mut commits: Vec<String> = matching.iter().map(|b| b.sha.clone()).collect();
    commits.sort();
    commits.dedup();
    if commits.len() > 1 {
        return error_snapshot(
            explain::ambiguous(&sha, project, &commits),
            Some(project.to_string()),
        );
    }
    // The branch rule comes after the commit check: a prefix of several
    // commits is ambiguous whatever their branches.
    let (matching, left_out) = match &ids.branch_only {
        Some(branch) => matching
            .into_iter()
            .partition(|b| b.branch.as_deref() == Some(branch.as_str())),
        None => (matching, Vec::new()),
    };
    let frozen = freeze::freeze(&matching, ids.as_of);
    let branch_note = ids
        .branch_only
        .as_deref()
        .filter(|_| !left_out.is_empty())
        .map(|branch| explain::other_branches(branch, &left_out));
    let explain = if frozen.is_empty() && matching.is_empty() && branch_note.is_some() {
        branch_note.clone()
    } else if frozen.is_empty() {
        Some(if matching.is_empty() {
            match report {
                Some(r) => explain::not_found(provider, project, &sha, r),
                None => {
                    format!("not found: no {provider} build of commit {sha} in project {project}")
                }
            }
        } else {
            explain::all_after(
                provider,
                project,
                &commits[0],
                matching.len(),
                &ts::format(ids.as_of),
                report,
            )
        })
    } else {
        None
    };
    // Left-out builds are always said, beside any other explanation.
    let explain = match (explain, branch_note) {
        (Some(e), Some(n)) if e != n => Some(format!("{e} {n}")),
        (e, n) => e.or(n),
    };
    FinalSnapshot {
        state: SnapshotState::Complete,
        summary: summary::summary(&frozen),
        builds: frozen,
        explain,
        build_project: Some(project.to_string()),
        captured_at: ts::now(),
    }
}

/// Whether an answer with a build whose job list was not read in full
/// should be asked again rather than frozen: while at least half of the
/// capture's `max_attempts` are left. The plugin cannot tell a passing
/// fault (a truncated or malformed page, which the fault soak showed
/// freezing builds with no jobs for good) from a permanent one (the
/// provider deleted the jobs, a retention 404), so the capture tries
/// again a few times before it takes the build as incomplete. The reason
/// for the retry, or `None` to freeze now.
pub fn reread_incomplete(
    attempts: u32,
    max_attempts: u32,
    builds: &[IndexedBuild],
) -> Option<String> {
    let cut = builds.iter().filter(|b| !b.jobs_complete).count();
    (cut > 0 && attempts.saturating_mul(2) < max_attempts).then(|| {
        format!(
            "the job list of {cut} build(s) was not read in full; asking again before taking it as incomplete"
        )
    })
}

/// What a failed commit search ends the attempt with: transient failures
/// retry after `delay(at_least)` (the backoff, never shorter than the
/// provider asked); the others end the snapshot in `error`, explained.
/// (A rejected token also marks the integration; the caller does that.)
pub fn after_failure(
    ids: &CaptureIds,
    failure: Failure,
    delay: impl FnOnce(Option<Duration>) -> Duration,
) -> Outcome {
    let project = Some(ids.project.clone());
    let explain = match failure {
        Failure::Transient { reason, at_least } => {
            return Outcome::Retry {
                reason,
                after: delay(at_least),
            };
        }
        Failure::Unauthorized(message) => explain::unauthorized(&ids.provider, &message),
        Failure::NotFound(message) => {
            explain::not_accessible(&ids.provider, &ids.project, &message)
        }
        Failure::Fatal(message) => message,
    };
    Outcome::Done(error_snapshot(explain, project))
}

#[cfg(test)]
mod tests;
