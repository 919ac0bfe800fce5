//! The plugin's logic against the GitHub simulator over real HTTP, with a
//! test transport playing the host (token, one request at a time, the
//! conditional-request cache). The host's own rate-limit rules are not in
//! play here: these tests see what the plugin does with GitHub's answers.

mod common;

use buildsnap_github_actions::wit::{
    CommitQuery, ProjectQuery, ProviderError, ShaResolution, Status, StopReason, SyncRequest,
};
use buildsnap_github_actions::{account, describe, search, slug, sync};
use common::{Sim, horizon};
use github_sim::cases::{self, ids};
use github_sim::{RateLimitConfig, SimOptions};

fn query(sha: &str) -> CommitQuery {
    CommitQuery {
        project: "acme/api".into(),
        sha: sha.into(),
        branch: None,
        horizon: horizon(),
    }
}

#[test]
fn the_token_is_checked_with_get_user() {
    let sim = Sim::demo();
    let acct = account::validate_credentials(&sim, &sim.ctx()).unwrap();
    assert_eq!(acct.login, "octocat");
    let mut bad = Sim::demo();
    bad.token = "not-a-token".into();
    assert_eq!(
        account::validate_credentials(&bad, &bad.ctx()),
        Err(ProviderError::Unauthorized("Bad credentials".into()))
    );
}

#[test]
fn two_attempts_are_two_builds_with_their_own_jobs() {
    let sim = Sim::demo();
    let sha = sim.sha_of(ids::TWO_ATTEMPTS);
    let found = search::builds_for_commit(&sim, &sim.ctx(), &query(&sha)).unwrap();
    let got: Vec<_> = found
        .builds
        .iter()
        .map(|b| (b.id.as_str(), b.attempt, b.status))
        .collect();
    let (a2, a1) = (
        format!("{}/2", ids::TWO_ATTEMPTS),
        format!("{}/1", ids::TWO_ATTEMPTS),
    );
    assert_eq!(
        got,
        vec![
            (a2.as_str(), 2, Status::Success),
            (a1.as_str(), 1, Status::Failed)
        ]
    );
    for b in &found.builds {
        assert_eq!(b.pipeline_id, ids::TWO_ATTEMPTS.to_string());
        assert!(b.jobs_complete);
        let names: Vec<_> = b.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["build", "test"], "{}", b.id);
        assert!(b.jobs.iter().all(|j| j.attempt == b.attempt));
    }
    assert_eq!(found.builds[1].jobs[1].status, Status::Failed);
    assert!(found.builds[0].created_at > found.builds[1].created_at);
    assert_eq!(found.report.stopped_because, StopReason::FilterExhausted);
    // One list page, one older attempt, one job list for the run.
    assert_eq!(sim.sent.borrow().len(), 3, "{:?}", sim.sent.borrow());
}

#[test]
fn statuses_of_the_cases() {
    let sim = Sim::demo();
    for (run, want, word) in [
        (ids::WAITING, Status::OnHold, "waiting"),
        (ids::FAILING, Status::Failing, "in_progress"),
        (ids::CANCELLED, Status::Canceled, "cancelled"),
        (ids::SKIPPED, Status::NotRun, "skipped"),
        (ids::TIMED_OUT, Status::Failed, "timed_out"),
        (ids::ACTION_REQUIRED, Status::OnHold, "action_required"),
        (ids::STARTUP_FAILURE, Status::Error, "startup_failure"),
        (ids::QUEUED, Status::Queued, "queued"),
    ] {
        let found = search::builds_for_commit(&sim, &sim.ctx(), &query(&sim.sha_of(run))).unwrap();
        let b = found
            .builds
            .iter()
            .find(|b| b.pipeline_id == run.to_string())
            .unwrap();
        assert_eq!(
            (b.status, b.provider_status.as_str()),
            (want, word),
            "run {run}"
        );
    }
}

#[test]
fn a_short_upper_case_sha_resolves_and_an_unknown_one_is_not_found() {
    let sim = Sim::demo();
    let sha = sim.sha_of(ids::TWO_ATTEMPTS);
    let short = sha[..8].to_ascii_uppercase();
    assert_eq!(
        search::resolve_sha(&sim, &sim.ctx(), "acme/api", &short).unwrap(),
        ShaResolution::Full(sha)
    );
    assert_eq!(
        search::resolve_sha(&sim, &sim.ctx(), "acme/api", "0000000dead").unwrap(),
        ShaResolution::NotFound
    );
    assert!(search::resolve_sha(&sim, &sim.ctx(), "acme/api", "not-hex").is_err());
}

#[test]
fn more_than_100_runs_of_one_commit_cost_the_lower_bound() {
    let sim = Sim::demo();
    let found = search::builds_for_commit(&sim, &sim.ctx(), &query(&cases::busy_sha())).unwrap();
    assert_eq!(found.builds.len(), cases::BUSY_RUNS);
    assert_eq!(found.report.pipelines_searched as usize, cases::BUSY_RUNS);
    assert_eq!(found.report.pages_fetched, 2);
    assert_eq!(found.report.stopped_because, StopReason::FilterExhausted);
    // Lower bound: ceil(120 / 100) list pages + one job list per run.
    let lower_bound = cases::BUSY_RUNS.div_ceil(100) + cases::BUSY_RUNS;
    assert_eq!(sim.sent.borrow().len(), lower_bound);
    assert_eq!(sim.sim().counters().total, lower_bound);
}

#[test]
fn the_horizon_stops_the_search() {
    let sim = Sim::demo();
    let mut q = query(&cases::busy_sha());
    q.horizon.max_pipelines = 30;
    let found = search::builds_for_commit(&sim, &sim.ctx(), &q).unwrap();
    assert_eq!(found.builds.len(), 30);
    assert_eq!(found.report.stopped_because, StopReason::Horizon);
}

#[test]
fn a_primary_limit_names_the_reset() {
    let sim = Sim::start(
        cases::demo().unwrap(),
        SimOptions {
            clock_running: Some(false),
            rate_limit: RateLimitConfig {
                limit: 2,
                window_secs: 600,
                exhausted_status: 403,
                ..RateLimitConfig::default()
            },
            ..SimOptions::default()
        },
        cases::DEMO_TOKEN,
    );
    let err = search::builds_for_commit(&sim, &sim.ctx(), &query(&cases::busy_sha())).unwrap_err();
    let ProviderError::RateLimited(limit) = err else {
        panic!("{err:?}")
    };
    let reset = sim
        .sim()
        .requests()
        .iter()
        .rev()
        .find_map(|r| r.reset)
        .expect("reset header");
    assert_eq!(limit.until, Some(reset * 1000));
    assert!(limit.message.contains("rate limit"), "{}", limit.message);
}

#[test]
fn enterprise_base_url_serves_the_same_and_derives_its_projects() {
    let sim = Sim::start(
        cases::demo().unwrap(),
        SimOptions {
            clock_running: Some(false),
            enterprise: true,
            ..SimOptions::default()
        },
        cases::DEMO_TOKEN,
    );
    let ctx = sim.ctx();
    assert!(ctx.base_url.ends_with("/api/v3"), "{}", ctx.base_url);
    let web = sim.sim().html_url();
    assert_eq!(
        describe::token_help(&ctx),
        format!("{web}/settings/personal-access-tokens")
    );
    assert_eq!(
        slug::project_for_repo(&ctx.base_url, &format!("{web}/Acme/API.git")).as_deref(),
        Some("acme/api")
    );
    let sha = sim.sha_of(ids::TWO_ATTEMPTS);
    let found = search::builds_for_commit(&sim, &ctx, &query(&sha)).unwrap();
    assert_eq!(found.builds.len(), 2);
    assert!(found.builds[0].url.as_deref().unwrap().starts_with(&web));
}

#[test]
fn a_sync_pass_over_an_unchanged_repository_costs_only_304s() {
    let sim = Sim::demo();
    let req = SyncRequest {
        project: "acme/api".into(),
        cursor: None,
        horizon: horizon(),
        refresh: vec![],
    };
    let first = sync::sync(&sim, &sim.ctx(), &req).unwrap();
    assert!(
        first
            .builds
            .iter()
            .any(|b| b.pipeline_id == ids::FAILING.to_string())
    );
    let held: Vec<String> = first
        .builds
        .iter()
        .filter(|b| b.stopped_at.is_none())
        .map(|b| b.id.clone())
        .collect();
    assert!(!held.is_empty());
    // The window moves to the newest run once; from then on, while nothing
    // changes, the same URLs are asked again and GitHub answers 304.
    let warm = SyncRequest {
        cursor: first.next_cursor.clone(),
        refresh: held,
        ..req
    };
    let second = sync::sync(&sim, &sim.ctx(), &warm).unwrap();
    assert_eq!(
        second.next_cursor, first.next_cursor,
        "the window did not move"
    );
    let before = sim.sim().counters();
    let third = sync::sync(&sim, &sim.ctx(), &warm).unwrap();
    let after = sim.sim().counters();
    let sent = after.total - before.total;
    assert!(sent > 0);
    assert_eq!(
        after.not_modified - before.not_modified,
        sent,
        "every request a 304"
    );
    assert_eq!(third.builds, second.builds, "the kept answers map the same");
    // The clock moves: the failing run completes, and the next pass sees it.
    sim.sim()
        .clock()
        .advance(std::time::Duration::from_secs(400));
    let fourth = sync::sync(&sim, &sim.ctx(), &warm).unwrap();
    let failing = fourth
        .builds
        .iter()
        .find(|b| b.pipeline_id == ids::FAILING.to_string())
        .unwrap();
    assert_eq!(failing.status, Status::Failed);
}

#[test]
fn projects_come_a_page_at_a_time_and_can_be_searched() {
    let sim = Sim::demo();
    let ctx = sim.ctx();
    let mut q = ProjectQuery {
        search: None,
        cursor: None,
        limit: 1,
    };
    let mut all = Vec::new();
    loop {
        let page = account::list_projects(&sim, &ctx, &q).unwrap();
        assert!(page.projects.len() <= 1);
        all.extend(page.projects.into_iter().map(|p| p.slug));
        match page.next {
            Some(n) => q.cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(all, ["acme/api", "acme/docs"]);
    let q = ProjectQuery {
        search: Some("DOC".into()),
        cursor: None,
        limit: 10,
    };
    let page = account::list_projects(&sim, &ctx, &q).unwrap();
    assert_eq!(
        page.projects
            .iter()
            .map(|p| p.slug.as_str())
            .collect::<Vec<_>>(),
        ["acme/docs"]
    );
    assert_eq!(page.next, None);
}

#[test]
fn a_re_run_appears_as_a_new_attempt_placed_at_its_own_start() {
    let sim = Sim::demo();
    let sha = sim.sha_of(ids::RERUN_LATER);
    let start = sim.ctx().now;
    let before = search::builds_for_commit(&sim, &sim.ctx(), &query(&sha)).unwrap();
    let got: Vec<_> = before
        .builds
        .iter()
        .map(|b| (b.attempt, b.status))
        .collect();
    assert_eq!(got, [(1, Status::Failed)]);
    sim.sim()
        .clock()
        .advance(std::time::Duration::from_secs(150));
    let after = search::builds_for_commit(&sim, &sim.ctx(), &query(&sha)).unwrap();
    let got: Vec<_> = after.builds.iter().map(|b| (b.attempt, b.status)).collect();
    assert_eq!(got, [(2, Status::Running), (1, Status::Failed)]);
    // Attempt 2 was created after the clock's start (a deploy then): the
    // host can leave it out of that deploy's snapshot; attempt 1 is before.
    let created =
        |i: usize| buildsnap_github_actions::time::parse_ms(&after.builds[i].created_at).unwrap();
    assert!(created(0) > start && created(1) < start);
    assert_eq!(after.builds[1].jobs, before.builds[0].jobs);
}
