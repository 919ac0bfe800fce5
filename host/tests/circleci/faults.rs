// The faults suite: included by `circleci_faults.rs` (the built-in component;
// what it covers is said there) and by `circleci_0_1_0.rs` (the 0.1.0
// component). `crate::CIRCLECI` says which one runs.

use std::time::{Duration, Instant};

use buildsnap::runtime::wit::ProviderError;
use crate::cases::*;
use circleci_sim::builder::{JobSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, RateLimitBody};
use serde_json::json;
use crate::sim::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_retry_after_is_honoured_by_the_host() {
    let sim = start(demo_scenario()).await;
    sim.set_fault(FaultRule::times(
        "/api/v2/project/*",
        2,
        Fault::RateLimit {
            retry_after_secs: 1,
            body: RateLimitBody::PlainText,
            http_date: false,
        },
    ));
    let circleci = circleci(&sim).await;
    let started = Instant::now();
    let result = circleci
        .builds_for_commit(&integration(&sim, Some(ALICE)), &query(API, SHA_45))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(result.builds.len(), 3);
    assert_eq!(sim.count_by_status().get(&429), Some(&2));
    let pages = on_route(&sim, PIPELINES);
    assert_eq!(pages.len(), 3, "two 429s, then the page: {pages:#?}");
    sim.assert_retry_after_respected()
        .map_err(|v| v.to_string())
        .unwrap();
    assert!(elapsed >= Duration::from_secs(2), "waited only {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_beyond_the_call_budget_surfaces_rate_limited_with_retry_after() {
    let sim = start(demo_scenario()).await;
    sim.set_fault(FaultRule::always(
        "/api/v2/project/*",
        Fault::RateLimit {
            retry_after_secs: 60,
            body: RateLimitBody::Json,
            http_date: false,
        },
    ));
    let circleci = circleci_with(&sim, quick_retries(Duration::from_secs(5))).await;
    let started = Instant::now();
    let err = provider_error(
        circleci
            .builds_for_commit(&integration(&sim, Some(ALICE)), &query(API, SHA_45))
            .await,
    );
    match err {
        ProviderError::RateLimited(r) => {
            let ms = buildsnap::runtime::wit::wait_ms(&r).unwrap();
            assert!((59_000..=60_000).contains(&ms), "{ms}");
            assert_eq!(r.message, "Rate limit exceeded.");
        }
        other => panic!("{other:?}"),
    }
    // The host did not sleep past the deadline, and did not retry early.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sim.requests().len(), 1);
    sim.assert_retry_after_respected()
        .map_err(|v| v.to_string())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_as_http_date_beyond_the_budget_carries_the_wait() {
    let sim = start(demo_scenario()).await;
    sim.set_fault(FaultRule::always(
        "/api/v2/me",
        Fault::RateLimit {
            retry_after_secs: 30,
            body: RateLimitBody::EmptyObject,
            http_date: true,
        },
    ));
    let circleci = circleci_with(&sim, quick_retries(Duration::from_secs(5))).await;
    let err = provider_error(
        circleci
            .validate_credentials(&integration(&sim, Some(ALICE)))
            .await,
    );
    match err {
        ProviderError::RateLimited(r) => {
            let ms = buildsnap::runtime::wit::wait_ms(&r)
                .expect("retry-after from the HTTP date and the answer's Date");
            assert!((28_000..=31_000).contains(&ms), "{ms}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_succeed() {
    let sim = start(demo_scenario()).await;
    sim.set_fault(FaultRule::times(
        "/api/v2/workflow/*/job",
        2,
        Fault::ServerError {
            status: 502,
            body: None,
        },
    ));
    sim.set_fault(FaultRule::times(
        "/api/v2/project/*",
        1,
        Fault::ServerError {
            status: 500,
            body: None,
        },
    ));
    let circleci = circleci_with(&sim, quick_retries(Duration::from_secs(20))).await;
    let result = circleci
        .builds_for_commit(&integration(&sim, Some(ALICE)), &query(API, SHA_45))
        .await
        .unwrap();
    assert_eq!(result.builds.len(), 3);
    assert!(
        result
            .builds
            .iter()
            .all(|b| b.jobs_complete && !b.jobs.is_empty()),
        "{result:#?}"
    );
    let by_status = sim.count_by_status();
    assert_eq!(by_status.get(&502), Some(&2));
    assert_eq!(by_status.get(&500), Some(&1));
    assert_eq!(on_route(&sim, JOBS).len(), 3 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_error_surfaces_upstream_after_max_attempts() {
    let sim = start(demo_scenario()).await;
    sim.set_fault(FaultRule::always(
        "/api/v2/pipeline/*/workflow",
        Fault::ServerError {
            status: 503,
            body: None,
        },
    ));
    let circleci = circleci_with(&sim, quick_retries(Duration::from_secs(20))).await;
    let err = provider_error(
        circleci
            .builds_for_commit(&integration(&sim, Some(ALICE)), &query(API, SHA_45))
            .await,
    );
    match err {
        ProviderError::Upstream(u) => assert_eq!(u.status, 503),
        other => panic!("{other:?}"),
    }
    // Each of the two workflow lists tried max_attempts (4) times.
    assert_eq!(on_route(&sim, WORKFLOWS).len(), 2 * 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_item_is_skipped_but_a_malformed_body_is_an_invalid_response() {
    let sha = stable_sha("e2e:malformed");
    let mut scenario = history(APP, 5, &sha, &[3], |_| {
        vec![
            WorkflowSpec::new("build")
                .job(JobSpec::new("good"))
                .job(JobSpec::new("bad")),
        ]
    });
    // Item level: one job whose name is a number, one pipeline whose number is a string.
    let project = &mut scenario.projects[0];
    let p3 = project
        .pipelines
        .iter_mut()
        .find(|p| p.number == 3)
        .unwrap();
    p3.workflows[0].jobs[1]
        .extra
        .insert("name".into(), json!(42));
    let p4 = project
        .pipelines
        .iter_mut()
        .find(|p| p.number == 4)
        .unwrap();
    p4.extra.insert("number".into(), json!("four"));
    let sim = start(scenario).await;
    let circleci = circleci(&sim).await;
    let integ = integration(&sim, Some(ALICE));

    let result = circleci
        .builds_for_commit(&integ, &query(APP, &sha))
        .await
        .unwrap();
    assert_eq!(result.builds.len(), 1, "{result:#?}");
    let b = &result.builds[0];
    assert_eq!(
        b.jobs.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(),
        ["good"]
    );
    assert!(!b.jobs_complete, "a skipped job makes the list incomplete");
    assert_eq!(
        result.report.without_commit, 1,
        "the unreadable pipeline is counted"
    );
    assert_eq!(result.report.pipelines_searched, 5);

    // Whole body: the pipeline page is not JSON.
    let rule = sim.set_fault(FaultRule::times("/api/v2/project/*", 1, Fault::Malformed));
    match provider_error(circleci.builds_for_commit(&integ, &query(APP, &sha)).await) {
        ProviderError::InvalidResponse(m) => assert!(m.contains("/pipeline"), "{m}"),
        other => panic!("{other:?}"),
    }
    sim.remove_fault(rule);

    // Whole body of a job list: the build stays, its jobs are not trusted.
    sim.set_fault(FaultRule::times(
        "/api/v2/workflow/*/job",
        1,
        Fault::Truncated,
    ));
    let result = circleci
        .builds_for_commit(&integ, &query(APP, &sha))
        .await
        .unwrap();
    assert_eq!(result.builds.len(), 1);
    assert!(!result.builds[0].jobs_complete);
    assert!(result.builds[0].jobs.is_empty());
}
