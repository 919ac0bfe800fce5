//! Named runs for the situations provider tests need, and the demo scenario made of them.
//!
//! Each case is a [`RunSpec`] with a fixed run id (see [`ids`]) and a `display_title`
//! naming the case, so tests and people can find it. Times are relative to the clock
//! start; the clock-driven cases change state within the first five minutes.

use crate::builder::{AttemptSpec, JobSpec, RunSpec, stable_sha};
use crate::error::ScenarioError;
use crate::scenario::Scenario;

/// Token of `octocat`, member of `acme`.
pub const DEMO_TOKEN: &str = "demo-token-octocat";
/// Token of `hubot`, who is not a member of `acme`.
pub const OTHER_TOKEN: &str = "demo-token-hubot";
/// The repository with every case.
pub const DEMO_REPO: &str = "acme/api";
/// A public repository of `acme` with one run.
pub const PUBLIC_REPO: &str = "acme/docs";
/// A private repository only `hubot` sees.
pub const PRIVATE_REPO: &str = "hubot/secret";
/// Clock start of the demo.
pub const DEMO_START: &str = "2025-06-01T12:00:00Z";
/// The commit with more than 100 runs.
pub fn busy_sha() -> String {
    stable_sha("acme/api busy commit")
}
/// Number of runs of [`busy_sha`].
pub const BUSY_RUNS: usize = 120;

/// Run ids of the cases.
pub mod ids {
    /// Attempt 1 failed, attempt 2 succeeded.
    pub const TWO_ATTEMPTS: u64 = 12_000_000_101;
    /// Waiting for an environment approval.
    pub const WAITING: u64 = 12_000_000_102;
    /// In progress with a failed job; finishes failed 5 minutes after start.
    pub const FAILING: u64 = 12_000_000_103;
    /// Cancelled.
    pub const CANCELLED: u64 = 12_000_000_104;
    /// Skipped.
    pub const SKIPPED: u64 = 12_000_000_105;
    /// Timed out.
    pub const TIMED_OUT: u64 = 12_000_000_106;
    /// Fork pull request awaiting "Approve and run".
    pub const ACTION_REQUIRED: u64 = 12_000_000_107;
    /// The workflow file was invalid: no jobs.
    pub const STARTUP_FAILURE: u64 = 12_000_000_108;
    /// Failed, re-run requested 2 minutes after start, succeeding at 4 minutes.
    pub const RERUN_LATER: u64 = 12_000_000_109;
    /// Queued, starts at 1 minute, succeeds at 3 minutes.
    pub const QUEUED: u64 = 12_000_000_110;
    /// Requested at +30 s waiting for approval; approved at +200 s, succeeds at +280 s.
    pub const APPROVAL_LATER: u64 = 12_000_000_111;
    /// First of the [`super::BUSY_RUNS`] runs of [`super::busy_sha`].
    pub const FIRST_BUSY: u64 = 12_000_001_001;
}

fn steps() -> [&'static str; 3] {
    ["Set up job", "Run actions/checkout@v4", "Run tests"]
}

/// Attempt 1 failed (`test` failed), attempt 2 (re-run by `octocat`) succeeded.
pub fn two_attempts() -> RunSpec {
    RunSpec::new("CI")
        .id(ids::TWO_ATTEMPTS)
        .title("case: two attempts")
        .created(-3600)
        .attempt(
            AttemptSpec::completed("failure")
                .job(JobSpec::completed("build", "success").steps(&steps()))
                .job(JobSpec::completed("test", "failure").steps(&steps())),
        )
        .attempt(
            AttemptSpec::completed("success")
                .at(-1800)
                .actor("octocat")
                .job(JobSpec::completed("build", "success").steps(&steps()))
                .job(JobSpec::completed("test", "success").steps(&steps())),
        )
}

/// A deploy waiting for an environment's required reviewers (`waiting` run and job).
pub fn waiting_for_approval() -> RunSpec {
    RunSpec::new("Deploy")
        .id(ids::WAITING)
        .title("case: waiting for approval")
        .created(-900)
        .attempt(
            AttemptSpec::status("waiting")
                .job(JobSpec::completed("build", "success"))
                .job(JobSpec::status("deploy-production", "waiting")),
        )
}

/// Running, with a job that already failed; the run fails at +300 s.
pub fn in_progress_with_failed_job() -> RunSpec {
    RunSpec::new("CI")
        .id(ids::FAILING)
        .title("case: in progress with a failed job")
        .created(-240)
        .attempt(
            AttemptSpec::status("in_progress")
                .then_completed_at(300, "failure")
                .job(JobSpec::completed("lint", "failure").steps(&steps()))
                .job(
                    JobSpec::status("test", "in_progress")
                        .then_completed_at(290, "success")
                        .steps(&steps()),
                ),
        )
}

fn single(id: u64, title: &str, conclusion: &str, job: Option<&str>) -> RunSpec {
    let mut a = AttemptSpec::completed(conclusion);
    if let Some(j) = job {
        a = a.job(JobSpec::completed("build", j));
    }
    RunSpec::new("CI").id(id).title(title).attempt(a)
}

/// Cancelled by a user.
pub fn cancelled() -> RunSpec {
    single(
        ids::CANCELLED,
        "case: cancelled",
        "cancelled",
        Some("cancelled"),
    )
    .created(-1500)
}

/// Skipped (an `if:` that was false).
pub fn skipped() -> RunSpec {
    single(ids::SKIPPED, "case: skipped", "skipped", Some("skipped")).created(-1400)
}

/// Hit `timeout-minutes`.
pub fn timed_out() -> RunSpec {
    single(
        ids::TIMED_OUT,
        "case: timed out",
        "timed_out",
        Some("timed_out"),
    )
    .created(-1300)
}

/// A fork pull request run waiting for "Approve and run": completed + action_required.
pub fn action_required() -> RunSpec {
    single(
        ids::ACTION_REQUIRED,
        "case: action required",
        "action_required",
        None,
    )
    .created(-1200)
    .event("pull_request")
    .branch("contributor/patch-1")
}

/// An invalid workflow file: completed + startup_failure, no jobs.
pub fn startup_failure() -> RunSpec {
    single(
        ids::STARTUP_FAILURE,
        "case: startup failure",
        "startup_failure",
        None,
    )
    .created(-1100)
}

/// Failed; a re-run appears at +120 s, runs and succeeds at +240 s.
pub fn rerun_later() -> RunSpec {
    RunSpec::new("CI")
        .id(ids::RERUN_LATER)
        .title("case: re-run later")
        .created(-600)
        .attempt(AttemptSpec::completed("failure").job(JobSpec::completed("test", "failure")))
        .attempt(
            AttemptSpec::status("queued")
                .at(120)
                .then_at(130, "in_progress")
                .then_completed_at(240, "success")
                .job(
                    JobSpec::status("test", "queued")
                        .then_at(130, "in_progress")
                        .then_completed_at(235, "success"),
                ),
        )
}

/// Queued, starts at +60 s, succeeds at +180 s.
pub fn queued() -> RunSpec {
    RunSpec::new("CI")
        .id(ids::QUEUED)
        .title("case: queued")
        .created(-30)
        .attempt(
            AttemptSpec::status("queued")
                .then_at(60, "in_progress")
                .then_completed_at(180, "success")
                .job(
                    JobSpec::status("build", "queued")
                        .then_at(60, "in_progress")
                        .then_completed_at(170, "success")
                        .steps(&steps()),
                ),
        )
}

/// A deploy requested after the start: waits for approval, is approved at +200 s and
/// succeeds at +280 s (every webhook action happens after the start).
pub fn approval_later() -> RunSpec {
    RunSpec::new("Deploy")
        .id(ids::APPROVAL_LATER)
        .title("case: approval later")
        .created(30)
        .attempt(
            AttemptSpec::status("queued")
                .then_at(35, "in_progress")
                .then_at(95, "waiting")
                .then_at(200, "in_progress")
                .then_completed_at(280, "success")
                .job(
                    JobSpec::status("build", "queued")
                        .then_at(35, "in_progress")
                        .then_completed_at(90, "success")
                        .steps(&steps()),
                )
                .job(
                    JobSpec::status("deploy-production", "waiting")
                        .created(95)
                        .then_at(200, "queued")
                        .then_at(205, "in_progress")
                        .then_completed_at(275, "success"),
                ),
        )
}

/// `n` successful runs of different workflows for one commit (a monorepo's fan-out).
pub fn runs_for_commit(sha: &str, n: usize, first_id: u64) -> Vec<RunSpec> {
    (0..n)
        .map(|i| {
            RunSpec::new(&format!("Package {:03}", i + 1))
                .id(first_id + i as u64)
                .sha(sha)
                .message("Bump every package")
                .created(-7200 + i as i64)
        })
        .collect()
}

/// Every case above in `acme/api` (plus [`BUSY_RUNS`] runs of one commit), a public
/// `acme/docs`, and `hubot/secret` that `octocat` may not see.
pub fn demo() -> Result<Scenario, ScenarioError> {
    Scenario::builder()
        .clock_start(DEMO_START)
        .user("octocat", DEMO_TOKEN)
        .user("hubot", OTHER_TOKEN)
        .org("acme", &["octocat"])
        .repo(DEMO_REPO)
        .runs(runs_for_commit(&busy_sha(), BUSY_RUNS, ids::FIRST_BUSY))
        .runs([
            two_attempts(),
            cancelled(),
            skipped(),
            timed_out(),
            action_required(),
            startup_failure(),
            waiting_for_approval(),
            rerun_later(),
            in_progress_with_failed_job(),
            queued(),
            approval_later(),
        ])
        .repo(PUBLIC_REPO)
        .public()
        .run(RunSpec::new("Pages").created(-5000))
        .repo(PRIVATE_REPO)
        .run(RunSpec::new("CI").actor("hubot").created(-4000))
        .build()
}
