//! Every fault kind, switched through the library handle and through `/_sim/faults`.

mod common;

use std::time::{Duration, Instant};

use circleci_sim::{Fault, FaultRule, RateLimitBody};
use common::*;

#[tokio::test]
async fn latency_delays_then_answers_normally() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::Latency { ms: 300 },
    ));
    let t = Instant::now();
    let r = get(&sim, "/api/v2/me", ALICE).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200);
    let t = Instant::now();
    get(&sim, "/api/v2/me", ALICE).await;
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "budget of 1 was used up"
    );
    assert_eq!(sim.requests()[0].fault, Some("latency"));
}

#[tokio::test]
async fn rate_limit_bodies_and_retry_after() {
    let sim = start_demo().await;
    for (body, want_ct, want_body) in [
        (
            RateLimitBody::Json,
            "application/json",
            r#"{"message":"Rate limit exceeded."}"#,
        ),
        (RateLimitBody::PlainText, "text/plain", "Rate limited."),
        (RateLimitBody::EmptyObject, "application/json", "{}"),
    ] {
        sim.set_fault(FaultRule::times(
            "/api/v2/me",
            1,
            Fault::RateLimit {
                retry_after_secs: 7,
                body,
                http_date: false,
            },
        ));
        let r = get(&sim, "/api/v2/me", ALICE).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.headers["retry-after"], "7");
        assert_eq!(r.headers["content-type"], want_ct);
        assert_eq!(r.text(), want_body);
    }
    sim.set_fault(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::RateLimit {
            retry_after_secs: 2,
            body: RateLimitBody::Json,
            http_date: true,
        },
    ));
    let r = get(&sim, "/api/v2/me", ALICE).await;
    let when = httpdate::parse_http_date(r.headers["retry-after"].to_str().unwrap()).unwrap();
    assert!(when > std::time::SystemTime::now());
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 200);
}

#[tokio::test]
async fn retry_after_check_flags_an_early_retry_and_accepts_a_patient_one() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::RateLimit {
            retry_after_secs: 1,
            body: RateLimitBody::PlainText,
            http_date: false,
        },
    ));
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 429);
    // Another client (different token) and another path do not count as retries.
    get(&sim, "/api/v2/me", BOB).await;
    get(&sim, "/api/v2/me/collaborations", ALICE).await;
    assert!(sim.assert_retry_after_respected().is_ok());
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 200);
    assert!(sim.assert_retry_after_respected().is_ok());

    sim.set_fault(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::RateLimit {
            retry_after_secs: 5,
            body: RateLimitBody::Json,
            http_date: false,
        },
    ));
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 429);
    get(&sim, "/api/v2/me", ALICE).await; // impatient
    let v = sim
        .assert_retry_after_respected()
        .expect_err("early retry must be reported");
    assert_eq!(v.required, Duration::from_secs(5));
    assert!(v.waited < Duration::from_secs(5));
    assert_eq!(
        (v.rate_limited.status, v.retry.path.as_str()),
        (Some(429), "/api/v2/me")
    );
    let r = admin(&sim, "GET", "/_sim/retry-after-check", None).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["rate_limited"]["status"], 429);
}

#[tokio::test]
async fn server_errors_with_default_and_custom_bodies() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::ServerError {
            status: 500,
            body: None,
        },
    ));
    sim.set_fault(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::ServerError {
            status: 502,
            body: None,
        },
    ));
    sim.set_fault(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::ServerError {
            status: 503,
            body: Some("{\"message\":\"down\"}".into()),
        },
    ));
    let r = get(&sim, "/api/v2/me", ALICE).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (500, Some("Internal Server Error"))
    );
    let r = get(&sim, "/api/v2/me", ALICE).await;
    assert_eq!(
        (r.status, r.headers["content-type"].to_str().unwrap()),
        (502, "text/html")
    );
    let r = get(&sim, "/api/v2/me", ALICE).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (503, Some("down"))
    );
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 200);
}

#[tokio::test]
async fn hang_never_answers_and_timed_hang_closes_the_connection() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule::times("/api/v2/me", 1, Fault::Hang { ms: None }));
    let url = format!("{}/api/v2/me", sim.base_url());
    let res = tokio::time::timeout(
        Duration::from_millis(400),
        request("GET", &url, &[("Circle-Token", ALICE)], None),
    )
    .await;
    assert!(res.is_err(), "a hung request must not complete");
    sim.set_fault(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::Hang { ms: Some(100) },
    ));
    let res = tokio::time::timeout(
        Duration::from_secs(5),
        request("GET", &url, &[("Circle-Token", ALICE)], None),
    )
    .await;
    assert!(
        res.expect("closes well before 5s").is_err(),
        "connection closed without a response"
    );
    let log = sim.requests();
    assert!(
        log.iter()
            .take(2)
            .all(|r| r.status.is_none() && r.fault == Some("hang"))
    );
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 200);
    // Shutdown is not blocked by the request still hanging.
    tokio::time::timeout(Duration::from_secs(5), sim.shutdown())
        .await
        .expect("shutdown completes");
}

#[tokio::test]
async fn truncated_and_malformed_json() {
    let sim = start_demo().await;
    let path = "/api/v2/project/gh/acme/api/pipeline";
    let good = get(&sim, path, ALICE).await;
    sim.set_fault(FaultRule::times(path, 1, Fault::Truncated));
    let cut = get(&sim, path, ALICE).await;
    assert_eq!(cut.status, 200);
    assert_eq!(cut.body.len(), good.body.len() / 2);
    assert!(good.body.starts_with(&cut.body));
    assert!(serde_json::from_slice::<serde_json::Value>(&cut.body).is_err());
    sim.set_fault(FaultRule::times(path, 1, Fault::Malformed));
    let bad = get(&sim, path, ALICE).await;
    assert_eq!(bad.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&bad.body).is_err());
    assert_eq!(bad.body.len(), good.body.len() + 1);
}

#[tokio::test]
async fn path_patterns_target_only_matching_requests_and_skip_works() {
    let sim = start_demo().await;
    sim.set_fault(FaultRule {
        skip: 1,
        ..FaultRule::always(
            "/api/v2/workflow/*/job",
            Fault::ServerError {
                status: 500,
                body: None,
            },
        )
    });
    let wid = sim.scenario().projects[0].pipelines[0].workflows[0]
        .id
        .clone();
    assert_eq!(
        get(&sim, &format!("/api/v2/workflow/{wid}"), ALICE)
            .await
            .status,
        200
    );
    assert_eq!(
        get(&sim, &format!("/api/v2/workflow/{wid}/job"), ALICE)
            .await
            .status,
        200,
        "first one skipped"
    );
    for _ in 0..3 {
        assert_eq!(
            get(&sim, &format!("/api/v2/workflow/{wid}/job"), ALICE)
                .await
                .status,
            500,
            "always afterwards"
        );
    }
    sim.clear_faults();
    assert_eq!(
        get(&sim, &format!("/api/v2/workflow/{wid}/job"), ALICE)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn faults_switch_at_run_time_through_the_admin_endpoint() {
    let sim = start_demo().await;
    let rule = r#"{"path": "/api/v2/me*", "times": 2, "fault": {"kind": "rate_limit", "retry_after_secs": 3, "body": "plain_text"}}"#;
    let r = admin(&sim, "POST", "/_sim/faults", Some(rule)).await;
    assert_eq!(r.status, 200);
    let id = r.json()["id"].as_u64().unwrap();
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 429);
    assert_eq!(
        get(&sim, "/api/v2/me/collaborations", ALICE).await.status,
        429
    );
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 200);
    let listed = admin(&sim, "GET", "/_sim/faults", None).await.json();
    assert_eq!(
        (listed[0]["id"].as_u64(), listed[0]["applied"].as_u64()),
        (Some(id), Some(2))
    );
    admin(
        &sim,
        "POST",
        "/_sim/faults",
        Some(r#"{"path": "*", "fault": {"kind": "server_error", "status": 504}}"#),
    )
    .await;
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 504);
    assert_eq!(
        admin(&sim, "DELETE", "/_sim/faults", None).await.status,
        200
    );
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 200);
    let bad = admin(
        &sim,
        "POST",
        "/_sim/faults",
        Some(r#"{"path": "*", "fault": {"kind": "nope"}}"#),
    )
    .await;
    assert_eq!(bad.status, 400);
    let bad = admin(
        &sim,
        "POST",
        "/_sim/faults",
        Some(r#"{"path": "*", "probability": 1.5, "fault": {"kind": "reset"}}"#),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().contains("probability must be between 0 and 1"),
        "{}",
        bad.text()
    );
}

#[tokio::test]
async fn reset_closes_the_connection_with_a_tcp_rst() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = start_demo().await;
    sim.set_fault(FaultRule::times("/api/v2/me", 1, Fault::Reset));
    let mut conn = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    conn.write_all(
        format!("GET /api/v2/me HTTP/1.1\r\nhost: x\r\ncircle-token: {ALICE}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut buf))
        .await
        .expect("the simulator closes the connection");
    let err = read.expect_err("a reset, not an orderly close or an answer");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    assert!(buf.is_empty(), "no response bytes: {buf:?}");
    assert_eq!(sim.requests()[0].fault, Some("reset"));
    assert_eq!(sim.requests()[0].status, None);
    // The next request is answered.
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 200);
}

#[tokio::test]
async fn probability_rules_fault_a_seeded_share_of_requests() {
    let sim = start_demo().await;
    sim.seed_faults(42);
    sim.set_fault(FaultRule::sometimes(
        "/api/v2/me",
        0.3,
        Fault::ServerError {
            status: 503,
            body: None,
        },
    ));
    let mut failed = 0;
    for _ in 0..200 {
        if get(&sim, "/api/v2/me", ALICE).await.status == 503 {
            failed += 1;
        }
    }
    assert!((35..=85).contains(&failed), "{failed} of 200");
}

#[tokio::test]
async fn faults_from_the_scenario_file_are_active_at_start() {
    let mut s = demo_scenario();
    s.faults.push(FaultRule::times(
        "/api/v2/me",
        1,
        Fault::ServerError {
            status: 500,
            body: None,
        },
    ));
    let sim = start(s).await;
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 500);
    assert_eq!(get(&sim, "/api/v2/me", ALICE).await.status, 200);
}
