//! `GET .../projects/{project}/commits/{sha}/builds` over HTTP, on the fake
//! host services: the builds now, `wait=final` looking again until they
//! settle or the timeout, and the refusals.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use buildsnap_domain::Status;
use buildsnap_store::Scope;
use common::*;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

async fn world(dir: &std::path::Path) -> (Server, String) {
    let srv = Server::start(dir).await;
    srv.store.create_org("acme", "Acme").unwrap();
    let token = srv
        .store
        .create_token("acme", "t", Scope::All)
        .unwrap()
        .token;
    (srv, token)
}

async fn get(srv: &Server, token: &str, path: &str) -> Resp {
    call(
        &client(),
        "GET",
        &format!("{}{path}", srv.base),
        Some(token),
        None,
    )
    .await
}

fn statuses(r: &Resp) -> Vec<String> {
    r.body["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_builds_now_and_waiting_until_they_settle() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = world(dir.path()).await;
    *srv.services.commit_answers.lock().unwrap() = vec![
        vec![Status::Running, Status::Success],
        vec![Status::Running, Status::Success],
        vec![Status::Failed, Status::Success],
    ];
    let path = format!(
        "/api/v1/orgs/acme/projects/web/commits/{}/builds",
        &SHA[..9]
    );
    // A look now: as they are, not final.
    let r = get(&srv, &token, &path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(statuses(&r), ["running", "success"]);
    assert_eq!(
        (r.body["summary"].as_str(), r.body["final"].as_bool()),
        (Some("running"), Some(false))
    );
    assert_eq!(r.body["sha"], &SHA[..9]);
    assert_eq!(r.body["provider"], "circleci");

    // wait=final: looks again until every build is final.
    let started = Instant::now();
    let r = get(&srv, &token, &format!("{path}?wait=final&timeout=60")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(statuses(&r), ["failed", "success"]);
    assert_eq!(
        (r.body["summary"].as_str(), r.body["final"].as_bool()),
        (Some("failed"), Some(true))
    );
    assert_eq!(
        srv.services.commit_calls.load(Ordering::SeqCst),
        3,
        "one look per round"
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    // timeout=0: one look, whatever it shows.
    *srv.services.commit_answers.lock().unwrap() = vec![vec![Status::OnHold, Status::Running]];
    srv.services.commit_calls.store(0, Ordering::SeqCst);
    let r = get(&srv, &token, &format!("{path}?wait=final&timeout=0")).await;
    assert_eq!(
        (r.body["summary"].as_str(), r.body["final"].as_bool()),
        (Some("running"), Some(false))
    );
    assert_eq!(srv.services.commit_calls.load(Ordering::SeqCst), 1);
    // On hold counts as settled: nothing more comes without a person.
    *srv.services.commit_answers.lock().unwrap() = vec![vec![Status::OnHold, Status::Success]];
    let r = get(&srv, &token, &format!("{path}?wait=final&timeout=60")).await;
    assert_eq!(
        (r.body["summary"].as_str(), r.body["final"].as_bool()),
        (Some("on_hold"), Some(false))
    );
    srv.stop().await;
}

#[tokio::test]
async fn no_builds_yet_is_waited_on_until_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = world(dir.path()).await;
    let started = Instant::now();
    let r = get(
        &srv,
        &token,
        &format!("/api/v1/orgs/acme/projects/web/commits/{SHA}/builds?wait=final&timeout=1"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for builds to appear"
    );
    assert_eq!(r.body["builds"], serde_json::json!([]));
    assert_eq!(
        (r.body["summary"].as_str(), r.body["final"].as_bool()),
        (Some("none"), Some(false))
    );
    assert_eq!(r.body["explain"], "no builds");
    srv.stop().await;
}

#[tokio::test]
async fn refusals_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = world(dir.path()).await;
    let base = "/api/v1/orgs/acme/projects";
    for (path, status, code) in [
        (
            format!("{base}/web/commits/xyz1234/builds"),
            400,
            "invalid_sha",
        ),
        (
            format!("{base}/web/commits/{SHA}/builds?timeout=601"),
            400,
            "invalid_timeout",
        ),
        (
            format!("{base}/web/commits/{SHA}/builds?timeout=soon"),
            400,
            "invalid_timeout",
        ),
        (
            format!("{base}/web/commits/{SHA}/builds?wait=always"),
            400,
            "invalid_wait",
        ),
        (
            format!("{base}/nobs/commits/{SHA}/builds"),
            409,
            "no_build_server",
        ),
        (
            format!("{base}/badtoken/commits/{SHA}/builds"),
            502,
            "provider_unauthorized",
        ),
    ] {
        let r = get(&srv, &token, &path).await;
        assert_error(&r, status, code);
    }
    let deploy_only = srv
        .store
        .create_token("acme", "ci", Scope::RegisterDeploy)
        .unwrap()
        .token;
    let r = get(
        &srv,
        &deploy_only,
        &format!("{base}/web/commits/{SHA}/builds"),
    )
    .await;
    assert_error(&r, 403, "forbidden");
    let r = call(
        &client(),
        "GET",
        &format!("{}{base}/web/commits/{SHA}/builds", srv.base),
        None,
        None,
    )
    .await;
    assert_error(&r, 401, "unauthorized");
    srv.stop().await;
}
