//! Routes behave as GitHub documents them: SHA matching, paging, attempts, jobs, filters,
//! access rules and error bodies.

mod common;

use std::time::Duration;

use common::*;
use github_sim::builder::{AttemptSpec, JobSpec, RunSpec};
use github_sim::cases::{self, ids};
use github_sim::{Scenario, SimHandle};
use serde_json::{Value, json};

const RUNS: &str = "/repos/acme/api/actions/runs";

fn run_of(sim: &SimHandle, id: u64) -> github_sim::model::Run {
    sim.scenario()
        .repos
        .iter()
        .flat_map(|r| &r.runs)
        .find(|r| r.id == id)
        .unwrap()
        .clone()
}

fn ids_of(body: &Value) -> Vec<u64> {
    body["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn head_sha_matches_the_full_sha_only() {
    let sim = start_demo().await;
    let sha = run_of(&sim, ids::TWO_ATTEMPTS).head_sha;
    let full = get(&sim, &format!("{RUNS}?head_sha={sha}"), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(
        (full["total_count"].clone(), ids_of(&full)),
        (json!(1), vec![ids::TWO_ATTEMPTS])
    );
    for prefix in [&sha[..7], &sha[..12], &sha.to_uppercase()] {
        let r = get(&sim, &format!("{RUNS}?head_sha={prefix}"), DEMO_TOKEN).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json(),
            json!({"total_count": 0, "workflow_runs": []}),
            "{prefix}"
        );
    }
}

#[tokio::test]
async fn per_page_is_capped_at_100_and_link_leads_to_the_rest() {
    let sim = start_demo().await;
    let sha = cases::busy_sha();
    let first = get(
        &sim,
        &format!("{RUNS}?head_sha={sha}&per_page=500"),
        DEMO_TOKEN,
    )
    .await;
    let body = first.json();
    assert_eq!(body["total_count"], cases::BUSY_RUNS);
    assert_eq!(ids_of(&body).len(), 100);
    assert!(first.link("prev").is_none());
    let last = first.link("last").unwrap();
    assert!(last.ends_with("page=2"), "{last}");
    let next = first.link("next").unwrap();
    assert_eq!(
        next,
        format!(
            "{}{RUNS}?head_sha={sha}&per_page=500&page=2",
            sim.base_url()
        )
    );
    let second = get_url(&next, DEMO_TOKEN).await;
    let rest = ids_of(&second.json());
    assert_eq!(rest.len(), cases::BUSY_RUNS - 100);
    assert!(
        second.link("next").is_none()
            && second.link("prev").is_some()
            && second.link("first").is_some()
    );
    let mut all = ids_of(&body);
    all.extend(rest);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), cases::BUSY_RUNS, "no run twice, none missing");
    // The default page is 30; one page has no Link header.
    let default = get(&sim, &format!("{RUNS}?head_sha={sha}"), DEMO_TOKEN).await;
    assert_eq!(ids_of(&default.json()).len(), 30);
    let one = get(
        &sim,
        &format!("{RUNS}?head_sha={}", run_of(&sim, ids::SKIPPED).head_sha),
        DEMO_TOKEN,
    )
    .await;
    assert!(one.header("link").is_none());
}

#[tokio::test]
async fn the_run_list_shows_the_latest_attempt_and_older_ones_have_their_own_route() {
    let sim = start_demo().await;
    let id = ids::TWO_ATTEMPTS;
    let sha = run_of(&sim, id).head_sha;
    let listed = get(&sim, &format!("{RUNS}?head_sha={sha}"), DEMO_TOKEN)
        .await
        .json()["workflow_runs"][0]
        .clone();
    assert_eq!(
        (listed["run_attempt"].clone(), listed["conclusion"].clone()),
        (json!(2), json!("success"))
    );
    assert_eq!(
        listed["previous_attempt_url"],
        format!("{}{RUNS}/{id}/attempts/1", sim.base_url())
    );
    assert_eq!(
        listed["html_url"],
        format!("https://github.com/acme/api/actions/runs/{id}")
    );
    let single = get(&sim, &format!("{RUNS}/{id}"), DEMO_TOKEN).await.json();
    assert_eq!(single, listed);
    let first = get(&sim, &format!("{RUNS}/{id}/attempts/1"), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(
        (first["run_attempt"].clone(), first["conclusion"].clone()),
        (json!(1), json!("failure"))
    );
    assert_eq!(first["previous_attempt_url"], Value::Null);
    assert_eq!(
        first["created_at"], listed["created_at"],
        "the run keeps its creation time"
    );
    assert_ne!(
        first["run_started_at"], listed["run_started_at"],
        "each attempt starts anew"
    );
    assert_eq!(
        first["jobs_url"],
        format!("{}{RUNS}/{id}/attempts/1/jobs", sim.base_url())
    );
    let jobs1 = get(&sim, &format!("{RUNS}/{id}/attempts/1/jobs"), DEMO_TOKEN)
        .await
        .json();
    let conclusions: Vec<&Value> = jobs1["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["conclusion"])
        .collect();
    assert_eq!(conclusions, [&json!("success"), &json!("failure")]);
    assert!(
        jobs1["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["run_attempt"] == 1)
    );
    let latest = get(&sim, &format!("{RUNS}/{id}/jobs"), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(latest["total_count"], 2);
    assert!(
        latest["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["run_attempt"] == 2)
    );
    let all = get(&sim, &format!("{RUNS}/{id}/jobs?filter=all"), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(all["total_count"], 4);
    let paged = get(
        &sim,
        &format!("{RUNS}/{id}/jobs?filter=all&per_page=3&page=2"),
        DEMO_TOKEN,
    )
    .await;
    assert_eq!(paged.json()["jobs"].as_array().unwrap().len(), 1);
    assert!(paged.link("prev").unwrap().contains("filter=all"));
    for missing in [
        format!("{RUNS}/{id}/attempts/3"),
        format!("{RUNS}/{id}/attempts/0/jobs"),
        format!("{RUNS}/{id}/attempts/x"),
    ] {
        assert_eq!(
            get(&sim, &missing, DEMO_TOKEN).await.status,
            404,
            "{missing}"
        );
    }
}

#[tokio::test]
async fn the_clock_drives_runs_reruns_and_jobs() {
    let sim = start_demo().await;
    let id = ids::RERUN_LATER;
    let path = format!("{RUNS}/{id}");
    let before = get(&sim, &path, DEMO_TOKEN).await.json();
    assert_eq!(
        (before["run_attempt"].clone(), before["conclusion"].clone()),
        (json!(1), json!("failure"))
    );
    assert_eq!(
        get(&sim, &format!("{RUNS}/{id}/attempts/2"), DEMO_TOKEN)
            .await
            .status,
        404,
        "not requested yet"
    );
    sim.clock().advance(Duration::from_secs(125));
    let queued = get(&sim, &path, DEMO_TOKEN).await.json();
    assert_eq!(
        (queued["run_attempt"].clone(), queued["status"].clone()),
        (json!(2), json!("queued"))
    );
    sim.clock().advance(Duration::from_secs(60));
    let jobs = get(&sim, &format!("{RUNS}/{id}/jobs"), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(jobs["jobs"][0]["status"], "in_progress");
    assert_ne!(jobs["jobs"][0]["runner_name"], Value::Null);
    sim.clock().advance(Duration::from_secs(60));
    let done = get(&sim, &path, DEMO_TOKEN).await.json();
    assert_eq!(
        (done["status"].clone(), done["conclusion"].clone()),
        (json!("completed"), json!("success"))
    );
    assert_eq!(done["updated_at"], "2025-06-01T12:04:00Z");
    // A run created after the start appears when the clock passes its creation.
    let later = ids::APPROVAL_LATER;
    sim.clock().set(sim.scenario().clock.start.unwrap());
    assert_eq!(
        get(&sim, &format!("{RUNS}/{later}"), DEMO_TOKEN)
            .await
            .status,
        404
    );
    sim.clock().advance(Duration::from_secs(100));
    let waiting = get(&sim, &format!("{RUNS}/{later}"), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(waiting["status"], "waiting");
    let jobs = get(&sim, &format!("{RUNS}/{later}/jobs"), DEMO_TOKEN)
        .await
        .json();
    let states: Vec<(&Value, &Value)> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (&j["name"], &j["status"]))
        .collect();
    assert_eq!(
        states,
        [
            (&json!("build"), &json!("completed")),
            (&json!("deploy-production"), &json!("waiting"))
        ]
    );
}

#[tokio::test]
async fn cases_serve_githubs_states() {
    let sim = start_demo().await;
    for (id, status, conclusion) in [
        (ids::WAITING, "waiting", Value::Null),
        (ids::FAILING, "in_progress", Value::Null),
        (ids::CANCELLED, "completed", json!("cancelled")),
        (ids::SKIPPED, "completed", json!("skipped")),
        (ids::TIMED_OUT, "completed", json!("timed_out")),
        (ids::ACTION_REQUIRED, "completed", json!("action_required")),
        (ids::STARTUP_FAILURE, "completed", json!("startup_failure")),
        (ids::QUEUED, "queued", Value::Null),
    ] {
        let r = get(&sim, &format!("{RUNS}/{id}"), DEMO_TOKEN).await.json();
        assert_eq!(
            (r["status"].clone(), r["conclusion"].clone()),
            (json!(status), conclusion),
            "{id}"
        );
    }
    let failing = get(&sim, &format!("{RUNS}/{}/jobs", ids::FAILING), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(failing["jobs"][0]["conclusion"], "failure");
    let startup = get(
        &sim,
        &format!("{RUNS}/{}/jobs", ids::STARTUP_FAILURE),
        DEMO_TOKEN,
    )
    .await
    .json();
    assert_eq!(startup, json!({"total_count": 0, "jobs": []}));
    let skipped = get(&sim, &format!("{RUNS}/{}/jobs", ids::SKIPPED), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(
        (
            skipped["jobs"][0]["runner_id"].clone(),
            skipped["jobs"][0]["steps"].clone()
        ),
        (Value::Null, json!([]))
    );
    let action = get(
        &sim,
        &format!("{RUNS}/{}", ids::ACTION_REQUIRED),
        DEMO_TOKEN,
    )
    .await
    .json();
    assert_eq!(
        (action["event"].clone(), action["head_branch"].clone()),
        (json!("pull_request"), json!("contributor/patch-1"))
    );
}

#[tokio::test]
async fn list_filters() {
    let sim = start_demo().await;
    let count = |q: &'static str| {
        let sim = &sim;
        async move {
            get(sim, &format!("{RUNS}?{q}"), DEMO_TOKEN).await.json()["total_count"]
                .as_u64()
                .unwrap()
        }
    };
    let total = count("").await;
    assert_eq!(total, 130, "the approval-later run does not exist yet");
    assert_eq!(count("event=pull_request").await, 1);
    assert_eq!(count("branch=contributor/patch-1").await, 1);
    assert_eq!(count("status=in_progress").await, 1);
    assert_eq!(count("status=waiting").await, 1);
    assert_eq!(count("status=queued").await, 1);
    assert_eq!(
        count("status=failure").await,
        1,
        "the re-run-later run; two-attempts succeeded on attempt 2"
    );
    assert_eq!(count("status=completed").await, total - 3);
    assert_eq!(count("actor=OCTOCAT").await, total);
    assert_eq!(count("actor=hubot").await, 0);
    // The busy commit's runs were created 2 hours before the start, the cases later.
    assert_eq!(
        count("created=%3E%3D2025-06-01T11:00:00Z").await,
        total - cases::BUSY_RUNS as u64
    );
    assert_eq!(
        count("created=%3C2025-06-01T11:00:00Z").await,
        cases::BUSY_RUNS as u64
    );
    assert_eq!(
        count("created=2025-06-01T09:00:00Z..2025-06-01T10:01:00Z").await,
        61
    );
    assert_eq!(count("created=2025-06-01").await, total);
    assert_eq!(count("created=2025-05-31").await, 0);
    let cs = get(&sim, &format!("{RUNS}/{}", ids::SKIPPED), DEMO_TOKEN)
        .await
        .json()["check_suite_id"]
        .clone();
    assert_eq!(
        get(&sim, &format!("{RUNS}?check_suite_id={cs}"), DEMO_TOKEN)
            .await
            .json()["total_count"],
        1
    );
    // Newest first.
    let page = get(&sim, &format!("{RUNS}?per_page=3"), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(
        ids_of(&page),
        vec![ids::QUEUED, ids::FAILING, ids::RERUN_LATER]
    );
}

#[tokio::test]
async fn commits_resolve_full_and_abbreviated_shas_and_branches() {
    let sim = start_demo().await;
    let sha = run_of(&sim, ids::TWO_ATTEMPTS).head_sha;
    for reference in [
        sha.clone(),
        sha[..7].to_owned(),
        sha[..7].to_uppercase(),
        sha[..4].to_owned(),
    ] {
        let r = get(
            &sim,
            &format!("/repos/acme/api/commits/{reference}"),
            DEMO_TOKEN,
        )
        .await;
        assert_eq!(
            (r.status, r.json()["sha"].clone()),
            (200, json!(sha)),
            "{reference}"
        );
    }
    let newest = run_of(&sim, ids::APPROVAL_LATER).head_sha;
    for reference in ["main", "heads/main", "refs/heads/main"] {
        let r = get(
            &sim,
            &format!("/repos/acme/api/commits/{reference}"),
            DEMO_TOKEN,
        )
        .await;
        assert_eq!(r.json()["sha"], json!(newest), "{reference}");
    }
    for reference in ["abc", "0000000", "no-such-branch"] {
        let r = get(
            &sim,
            &format!("/repos/acme/api/commits/{reference}"),
            DEMO_TOKEN,
        )
        .await;
        assert_eq!(r.status, 422);
        assert_eq!(
            r.json()["message"],
            format!("No commit found for SHA: {reference}")
        );
        assert_eq!(r.json()["status"], "422");
    }
}

#[tokio::test]
async fn an_ambiguous_abbreviation_is_refused_like_an_unknown_one() {
    let a = "abcd0000000000000000000000000000000000a1";
    let b = "abcd0000000000000000000000000000000000b2";
    let s: Scenario = Scenario::builder()
        .user("octocat", DEMO_TOKEN)
        .repo("acme/api")
        .run(RunSpec::new("CI").sha(a))
        .run(
            RunSpec::new("CI")
                .sha(b)
                .attempt(AttemptSpec::completed("failure").job(JobSpec::completed("t", "failure"))),
        )
        .build()
        .unwrap();
    let sim = start(s).await;
    let ambiguous = get(&sim, "/repos/acme/api/commits/abcd000", DEMO_TOKEN).await;
    assert_eq!(ambiguous.status, 422);
    assert_eq!(
        ambiguous.json()["message"],
        "No commit found for SHA: abcd000"
    );
    let unique = get(
        &sim,
        "/repos/acme/api/commits/abcd0000000000000000000000000000000000b",
        DEMO_TOKEN,
    )
    .await;
    assert_eq!(unique.json()["sha"], b);
}

#[tokio::test]
async fn access_rules_and_error_bodies() {
    let sim = start_demo().await;
    let not_found = get(&sim, "/repos/acme/nope/actions/runs", DEMO_TOKEN).await;
    assert_eq!(not_found.status, 404);
    let body = not_found.json();
    assert_eq!(
        (body["message"].clone(), body["status"].clone()),
        (json!("Not Found"), json!("404"))
    );
    assert!(
        body["documentation_url"]
            .as_str()
            .unwrap()
            .starts_with("https://docs.github.com/rest")
    );
    assert_eq!(
        not_found.json(),
        get(&sim, "/repos/hubot/secret/actions/runs", DEMO_TOKEN)
            .await
            .json(),
        "a private repository is not confirmed"
    );
    assert_eq!(
        get(&sim, "/repos/hubot/secret/actions/runs", OTHER_TOKEN)
            .await
            .status,
        200
    );
    assert_eq!(
        get(&sim, "/repos/acme/api/actions/runs", OTHER_TOKEN)
            .await
            .status,
        404
    );
    assert_eq!(
        get(&sim, "/repos/ACME/API/actions/runs", DEMO_TOKEN)
            .await
            .status,
        200,
        "names are case-insensitive"
    );
    assert_eq!(
        get(&sim, "/repos/acme/docs/actions/runs", OTHER_TOKEN)
            .await
            .status,
        200,
        "public"
    );
    let anonymous = request(
        "GET",
        &format!("{}/repos/acme/docs/actions/runs", sim.base_url()),
        &[],
        None,
    )
    .await
    .unwrap();
    assert_eq!(anonymous.status, 200);
    assert_eq!(anonymous.header("x-ratelimit-limit"), Some("60"));
    let no_token = request("GET", &format!("{}/user", sim.base_url()), &[], None)
        .await
        .unwrap();
    assert_eq!(
        (no_token.status, no_token.json()["message"].clone()),
        (401, json!("Requires authentication"))
    );
    let bad = get(&sim, "/user", "ghp_wrong").await;
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.json(),
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
    );
    assert_eq!(
        get(&sim, "/repos/acme/docs/actions/runs", "ghp_wrong")
            .await
            .status,
        401,
        "a bad token is refused even on public data"
    );
    let post = request(
        "POST",
        &format!("{}/user", sim.base_url()),
        &[("authorization", "Bearer demo-token-octocat")],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(
        post.status, 404,
        "GitHub answers unsupported methods with 404"
    );
    assert_eq!(get(&sim, "/nothing/here", DEMO_TOKEN).await.status, 404);
}

#[tokio::test]
async fn user_and_repository_list() {
    let sim = start_demo().await;
    let me = get(&sim, "/user", DEMO_TOKEN).await.json();
    assert_eq!(
        (
            me["login"].clone(),
            me["type"].clone(),
            me["user_view_type"].clone()
        ),
        (json!("octocat"), json!("User"), json!("private"))
    );
    let page1 = get(&sim, "/user/repos?per_page=1", DEMO_TOKEN).await;
    let names: Vec<Value> = page1
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].clone())
        .collect();
    assert_eq!(names, [json!("acme/api")]);
    let page2 = get_url(&page1.link("next").unwrap(), DEMO_TOKEN)
        .await
        .json();
    assert_eq!(page2[0]["full_name"], "acme/docs");
    assert_eq!(page2[0]["permissions"]["push"], true);
    let all = get(&sim, "/user/repos", DEMO_TOKEN).await.json();
    assert_eq!(
        all.as_array().unwrap().len(),
        2,
        "hubot/secret is not octocat's"
    );
    assert_eq!(
        get(&sim, "/user/repos?visibility=public", DEMO_TOKEN)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let hubot = get(&sim, "/user/repos?affiliation=owner", OTHER_TOKEN)
        .await
        .json();
    assert_eq!(
        (
            hubot[0]["full_name"].clone(),
            hubot[0]["permissions"]["admin"].clone()
        ),
        (json!("hubot/secret"), json!(true))
    );
    assert_eq!(
        get(
            &sim,
            "/user/repos?type=owner&affiliation=owner",
            OTHER_TOKEN
        )
        .await
        .status,
        422
    );
}

#[tokio::test]
async fn every_answer_carries_rate_limit_headers_and_the_selected_version() {
    let sim = start_demo().await;
    for path in ["/user", "/nothing", "/repos/acme/nope/actions/runs", RUNS] {
        let r = get(&sim, path, DEMO_TOKEN).await;
        for h in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-used",
            "x-ratelimit-reset",
            "x-ratelimit-resource",
        ] {
            assert!(r.header(h).is_some(), "{path}: {h}");
        }
        assert_eq!(
            r.header("x-github-api-version-selected"),
            Some("2022-11-28")
        );
    }
    let c = sim.counters();
    assert_eq!(c.total, 4);
    assert_eq!(c.by_status[&404], 2);
    assert_eq!(c.by_route["/repos/{owner}/{repo}/actions/runs"], 2);
    assert_eq!(sim.count("/repos/"), 2);
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.client.as_deref().is_some_and(|c| c != DEMO_TOKEN)),
        "tokens are never logged"
    );
}
