//! Rate limits, conditional requests, API versions and the Enterprise prefix.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use github_sim::{Fault, FaultRule, RateLimitConfig, SimOptions};
use serde_json::json;

const RUNS: &str = "/repos/acme/api/actions/runs";

fn limited(limit: u32, window_secs: u64, exhausted_status: u16) -> SimOptions {
    SimOptions {
        rate_limit: RateLimitConfig {
            limit,
            window_secs,
            exhausted_status,
            ..RateLimitConfig::default()
        },
        ..SimOptions::default()
    }
}

fn num(r: &Resp, h: &str) -> u64 {
    r.header(h)
        .unwrap_or_else(|| panic!("{h} missing"))
        .parse()
        .unwrap()
}

/// Waits until the wall clock reaches the epoch second `reset`, as a client must.
async fn until_epoch(reset: u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    if let Some(wait) = Duration::from_secs(reset).checked_sub(now) {
        tokio::time::sleep(wait).await;
    }
}

#[tokio::test]
async fn the_primary_limit_answers_403_until_the_reset_then_serves_again() {
    let sim = start_with(demo_scenario(), limited(2, 2, 403)).await;
    let first = get(&sim, "/user", DEMO_TOKEN).await;
    assert_eq!(
        (
            first.status,
            num(&first, "x-ratelimit-remaining"),
            num(&first, "x-ratelimit-used")
        ),
        (200, 1, 1)
    );
    assert_eq!(num(&first, "x-ratelimit-limit"), 2);
    assert_eq!(first.header("x-ratelimit-resource"), Some("core"));
    assert_eq!(get(&sim, RUNS, DEMO_TOKEN).await.status, 200);
    let over = get(&sim, RUNS, DEMO_TOKEN).await;
    assert_eq!(over.status, 403);
    assert_eq!(num(&over, "x-ratelimit-remaining"), 0);
    assert_eq!(
        over.json()["message"],
        "API rate limit exceeded for user ID 1001."
    );
    let reset = num(&over, "x-ratelimit-reset");
    assert_eq!(reset, num(&first, "x-ratelimit-reset"), "one window");
    assert_eq!(
        get(&sim, "/user", OTHER_TOKEN).await.status,
        200,
        "budgets are per user"
    );
    sim.assert_reset_respected()
        .expect("nothing was sent early yet");
    until_epoch(reset).await;
    let again = get(&sim, RUNS, DEMO_TOKEN).await;
    assert_eq!(
        (again.status, num(&again, "x-ratelimit-remaining")),
        (200, 1)
    );
    assert!(num(&again, "x-ratelimit-reset") > reset);
    sim.assert_reset_respected()
        .expect("the client waited for the reset");
    let c = sim.counters();
    assert_eq!((c.primary_limited, c.by_status[&403]), (1, 1));
}

#[tokio::test]
async fn a_request_before_the_reset_is_caught_and_429_is_configurable() {
    let sim = start_with(demo_scenario(), limited(1, 3600, 429)).await;
    assert_eq!(get(&sim, "/user", DEMO_TOKEN).await.status, 200);
    let over = get(&sim, "/user", DEMO_TOKEN).await;
    assert_eq!(
        (over.status, over.header("x-ratelimit-remaining")),
        (429, Some("0"))
    );
    assert_eq!(get(&sim, RUNS, DEMO_TOKEN).await.status, 429);
    let v = sim
        .assert_reset_respected()
        .expect_err("the third request came before the reset");
    assert_eq!(v.early.path, RUNS);
    let check = control(&sim, "GET", "/_sim/limits-check", None).await;
    assert_eq!(check.status, 409);
    // Ending the window (handle or control route) restores the budget.
    let r = control(&sim, "POST", "/_sim/rate-limit/reset", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&sim, "/user", DEMO_TOKEN).await.status, 200);
    sim.reset_rate_limit();
    assert_eq!(get(&sim, "/user", DEMO_TOKEN).await.status, 200);
    sim.set_rate_limit(RateLimitConfig::default());
    assert_eq!(
        num(&get(&sim, "/user", DEMO_TOKEN).await, "x-ratelimit-limit"),
        5000
    );
}

#[tokio::test]
async fn a_secondary_limit_sends_retry_after_and_keeps_the_primary_budget() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule::times(
        RUNS,
        1,
        Fault::SecondaryRateLimit {
            status: 429,
            retry_after_secs: Some(1),
        },
    ));
    let r = get(&sim, RUNS, DEMO_TOKEN).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("1")));
    assert!(
        num(&r, "x-ratelimit-remaining") > 0,
        "not the primary limit"
    );
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
    sim.assert_retry_after_respected().expect("no retry yet");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(get(&sim, RUNS, DEMO_TOKEN).await.status, 200);
    sim.assert_retry_after_respected()
        .expect("the retry waited retry-after");

    sim.set_fault(FaultRule::times(
        RUNS,
        1,
        Fault::SecondaryRateLimit {
            status: 403,
            retry_after_secs: None,
        },
    ));
    let r = get(&sim, RUNS, DEMO_TOKEN).await;
    assert_eq!((r.status, r.header("retry-after")), (403, None));
    assert_eq!(get(&sim, RUNS, DEMO_TOKEN).await.status, 200);
    let v = sim
        .assert_retry_after_respected()
        .expect_err("without retry-after a client waits a minute");
    assert_eq!(v.required, Duration::from_secs(60));
    assert_eq!(sim.counters().secondary_limited, 2);
}

#[tokio::test]
async fn etag_and_last_modified_give_free_304s() {
    let sim = start_demo().await;
    let first = get(&sim, RUNS, DEMO_TOKEN).await;
    let etag = first.header("etag").unwrap().to_owned();
    assert!(etag.starts_with("W/\""));
    let remaining = num(&first, "x-ratelimit-remaining");
    let same = get_with(&sim, RUNS, DEMO_TOKEN, &[("if-none-match", &etag)]).await;
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());
    assert_eq!(same.header("etag"), Some(etag.as_str()));
    assert_eq!(
        num(&same, "x-ratelimit-remaining"),
        remaining,
        "a 304 costs nothing"
    );
    let lm = first.header("last-modified").unwrap().to_owned();
    let since = get_with(&sim, RUNS, DEMO_TOKEN, &[("if-modified-since", &lm)]).await;
    assert_eq!(
        (since.status, num(&since, "x-ratelimit-remaining")),
        (304, remaining)
    );
    let other = get_with(&sim, RUNS, DEMO_TOKEN, &[("if-none-match", "W/\"stale\"")]).await;
    assert_eq!(
        (other.status, num(&other, "x-ratelimit-remaining")),
        (200, remaining - 1)
    );
    // A run finishing changes the body, the tag and the modification time.
    sim.clock().advance(Duration::from_secs(400));
    let changed = get_with(&sim, RUNS, DEMO_TOKEN, &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    let after = get_with(&sim, RUNS, DEMO_TOKEN, &[("if-modified-since", &lm)]).await;
    assert_eq!(after.status, 200);
    let c = sim.counters();
    assert_eq!((c.not_modified, c.total), (2, 6));
    assert_eq!(sim.requests().iter().filter(|r| r.conditional).count(), 5);
}

#[tokio::test]
async fn unsupported_api_versions_are_refused_like_github() {
    let sim = start_demo().await;
    let r = get_with(&sim, "/user", DEMO_TOKEN, &[("x-github-api-version", "v3")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "The version you specified in the \"X-GitHub-API-Version\" request header, \"v3\", is not a supported version. The following versions are currently supported: \"2022-11-28\" (most recent)."
    );
    let without = request(
        "GET",
        &format!("{}/user", sim.base_url()),
        &[("authorization", "Bearer demo-token-octocat")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            without.status,
            without.header("x-github-api-version-selected")
        ),
        (200, Some("2022-11-28"))
    );
}

#[tokio::test]
async fn enterprise_mode_serves_under_api_v3() {
    let sim = start_with(
        demo_scenario(),
        SimOptions {
            enterprise: true,
            ..SimOptions::default()
        },
    )
    .await;
    let root = sim.root_url();
    assert_eq!(sim.base_url(), format!("{root}/api/v3"));
    let me = get(&sim, "/user", DEMO_TOKEN).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["url"], format!("{root}/api/v3/users/octocat"));
    assert_eq!(me.json()["html_url"], format!("{root}/octocat"));
    let bare = get_url(&format!("{root}/user"), DEMO_TOKEN).await;
    assert_eq!(bare.status, 404, "GHES has no API outside /api/v3");
    let runs = get(&sim, &format!("{RUNS}?per_page=5"), DEMO_TOKEN).await;
    assert!(
        runs.link("next")
            .unwrap()
            .starts_with(&format!("{root}/api/v3{RUNS}?"))
    );
    let run = &runs.json()["workflow_runs"][0];
    assert!(
        run["jobs_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{root}/api/v3/repos/acme/api/"))
    );
    assert!(
        run["html_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{root}/acme/api/actions/runs/"))
    );
    assert_eq!(
        sim.requests()[1].route,
        "/user",
        "routes are logged without the prefix"
    );
    assert_eq!(
        control(&sim, "GET", "/_sim/health", None).await.json(),
        json!({"ok": true})
    );
}
