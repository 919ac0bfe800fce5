//! Injected faults: 5xx, stalls, resets, broken JSON, latency, seeded probabilities.

mod common;

use std::time::{Duration, Instant};

use common::*;
use github_sim::{Fault, FaultRule, SimOptions};

const RUNS: &str = "/repos/acme/api/actions/runs";

async fn raw(sim: &github_sim::SimHandle, path: &str) -> Result<Resp, reqwest::Error> {
    request(
        "GET",
        &format!("{}{path}", sim.base_url()),
        &[("authorization", "Bearer demo-token-octocat")],
        None,
    )
    .await
}

fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

#[tokio::test]
async fn server_errors_keep_githubs_shapes() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule::times(
        RUNS,
        1,
        Fault::ServerError {
            status: 500,
            body: None,
        },
    ));
    let r = get(&sim, RUNS, DEMO_TOKEN).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (500, Some("Server Error"))
    );
    assert!(r.header("x-ratelimit-remaining").is_some());
    sim.set_fault(FaultRule::times(
        RUNS,
        1,
        Fault::ServerError {
            status: 502,
            body: None,
        },
    ));
    let r = get(&sim, RUNS, DEMO_TOKEN).await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (502, Some("text/html"))
    );
    sim.set_fault(FaultRule::times(
        RUNS,
        1,
        Fault::ServerError {
            status: 503,
            body: Some("{\"message\":\"busy\"}".into()),
        },
    ));
    assert_eq!(get(&sim, RUNS, DEMO_TOKEN).await.json()["message"], "busy");
    assert_eq!(
        get(&sim, RUNS, DEMO_TOKEN).await.status,
        200,
        "rules with `times` run out"
    );
    assert_eq!(
        sim.requests()
            .iter()
            .filter(|r| r.fault == Some("server_error"))
            .count(),
        3
    );
}

#[tokio::test]
async fn broken_bodies_are_not_json() {
    let sim = start_demo().await;
    let whole = get(&sim, RUNS, DEMO_TOKEN).await;
    sim.set_fault(FaultRule::times(RUNS, 1, Fault::Truncated));
    let cut = get(&sim, RUNS, DEMO_TOKEN).await;
    assert_eq!((cut.status, cut.body.len()), (200, whole.body.len() / 2));
    assert!(serde_json::from_slice::<serde_json::Value>(&cut.body).is_err());
    sim.set_fault(FaultRule::times(RUNS, 1, Fault::Malformed));
    let bad = get(&sim, RUNS, DEMO_TOKEN).await;
    assert!(bad.text().ends_with(",}"));
    assert!(serde_json::from_slice::<serde_json::Value>(&bad.body).is_err());
}

#[tokio::test]
async fn stalls_and_resets_end_the_connection_without_an_answer() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule::times("/user", 1, Fault::Hang { ms: Some(200) }));
    let started = Instant::now();
    let err = raw(&sim, "/user").await.expect_err("no answer");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(
        chain(&err).contains("closed") || chain(&err).contains("reset"),
        "{}",
        chain(&err)
    );
    sim.set_fault(FaultRule::times("/user", 1, Fault::Reset));
    let err = raw(&sim, "/user").await.expect_err("no answer");
    assert!(
        chain(&err).to_lowercase().contains("reset"),
        "a RST, not a clean close: {}",
        chain(&err)
    );
    assert_eq!(
        raw(&sim, "/user").await.unwrap().status,
        200,
        "the next connection is fine"
    );
    let log = sim.requests();
    assert_eq!(
        (log[0].status, log[0].fault, log[1].fault),
        (None, Some("hang"), Some("reset"))
    );
    sim.set_fault(FaultRule::always("/user", Fault::Hang { ms: None }));
    let timed_out = tokio::time::timeout(Duration::from_millis(300), raw(&sim, "/user")).await;
    assert!(timed_out.is_err(), "an endless stall never answers");
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_adds_up_and_other_faults_stack_on_it() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule::always("/user", Fault::Latency { ms: 100 }));
    sim.set_fault(FaultRule::always("*", Fault::Latency { ms: 100 }));
    sim.set_fault(FaultRule {
        skip: 1,
        ..FaultRule::times(
            "/user",
            1,
            Fault::ServerError {
                status: 500,
                body: None,
            },
        )
    });
    let t = Instant::now();
    assert_eq!(get(&sim, "/user", DEMO_TOKEN).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        get(&sim, "/user", DEMO_TOKEN).await.status,
        500,
        "skip let the first through"
    );
    sim.clear_faults();
    let t = Instant::now();
    assert_eq!(get(&sim, "/user", DEMO_TOKEN).await.status, 200);
    assert!(t.elapsed() < Duration::from_millis(200));
}

async fn statuses(seed: u64) -> Vec<u16> {
    let sim = start_with(
        demo_scenario(),
        SimOptions {
            seed,
            ..SimOptions::default()
        },
    )
    .await;
    sim.set_fault(FaultRule {
        probability: Some(0.3),
        ..FaultRule::always(
            "/user",
            Fault::ServerError {
                status: 503,
                body: None,
            },
        )
    });
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(get(&sim, "/user", DEMO_TOKEN).await.status);
    }
    out
}

#[tokio::test]
async fn probabilistic_faults_repeat_with_the_seed() {
    let a = statuses(42).await;
    assert_eq!(a, statuses(42).await);
    assert_ne!(a, statuses(43).await);
    let failures = a.iter().filter(|s| **s == 503).count();
    assert!((3..=25).contains(&failures), "{failures} of 40");
}

#[tokio::test]
async fn faults_can_be_switched_through_the_control_route() {
    let sim = start_demo().await;
    let rule = r#"{"path": "/repos/*/jobs", "times": 1, "fault": {"kind": "secondary_rate_limit", "status": 429, "retry_after_secs": 3}}"#;
    let id = control(&sim, "POST", "/_sim/faults", Some(rule))
        .await
        .json()["id"]
        .as_u64()
        .unwrap();
    let listed = control(&sim, "GET", "/_sim/faults", None).await.json();
    assert_eq!(listed[0]["id"], id);
    let path = format!("{RUNS}/{}/jobs", github_sim::cases::ids::TWO_ATTEMPTS);
    let r = get(&sim, &path, DEMO_TOKEN).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("3")));
    assert_eq!(
        control(&sim, "DELETE", &format!("/_sim/faults/{id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        control(&sim, "DELETE", &format!("/_sim/faults/{id}"), None)
            .await
            .status,
        404
    );
    let counters = control(&sim, "GET", "/_sim/counters", None).await.json();
    assert_eq!(
        (
            counters["total"].as_u64(),
            counters["secondary_limited"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        control(&sim, "GET", "/_sim/requests", None).await.json()[0]["retry_after"],
        3
    );
}
