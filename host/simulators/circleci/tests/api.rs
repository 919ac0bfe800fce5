//! Endpoint behaviour: auth forms, access, slugs, quirks, pagination, clock.

mod common;

use std::time::Duration;

use base64::Engine;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec};
use circleci_sim::{Scenario, generate};
use common::*;
use serde_json::Value;

fn id_of(s: &Scenario, project: &str, number: i64) -> String {
    let p = s.projects.iter().find(|p| p.slug == project).unwrap();
    p.pipelines
        .iter()
        .find(|q| q.number == number)
        .unwrap()
        .id
        .clone()
}

#[tokio::test]
async fn me_accepts_every_auth_form_and_rejects_others() {
    let sim = start_demo().await;
    let url = format!("{}/api/v2/me", sim.base_url());
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ALICE}:"))
    );
    let bearer = format!("Bearer {ALICE}");
    for headers in [
        vec![("Circle-Token", ALICE)],
        vec![("Authorization", basic.as_str())],
        vec![("Authorization", bearer.as_str())],
    ] {
        let r = request("GET", &url, &headers, None).await.unwrap();
        assert_eq!(r.status, 200, "{headers:?}");
        assert_eq!(r.json()["login"], "alice");
    }
    for headers in [
        vec![],
        vec![("Circle-Token", "nope")],
        vec![("Authorization", "Bearer nope")],
    ] {
        let r = request("GET", &url, &headers, None).await.unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json(),
            serde_json::json!({"message": "You must log in first."})
        );
    }
    // The deprecated query parameter is off unless enabled.
    let r = request("GET", &format!("{url}?circle-token={ALICE}"), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn project_tokens_are_rejected_like_circleci() {
    let sim = start_demo().await;
    let me = get(&sim, "/api/v2/me", "demo-project-token").await;
    assert_eq!(
        (me.status, me.json()["message"].clone()),
        (401, Value::from("You must log in first."))
    );
    let p = get(&sim, "/api/v2/project/gh/acme/api", "demo-project-token").await;
    assert_eq!(
        (p.status, p.json()["message"].clone()),
        (404, Value::from("Project not found"))
    );
}

#[tokio::test]
async fn unknown_and_inaccessible_projects_answer_the_same_404() {
    let sim = start_demo().await;
    let secret = get(&sim, "/api/v2/project/gh/other/secret", ALICE).await;
    let unknown = get(&sim, "/api/v2/project/gh/acme/nope", ALICE).await;
    assert_eq!((secret.status, unknown.status), (404, 404));
    assert_eq!(secret.body, unknown.body);
    assert_eq!(
        secret.json(),
        serde_json::json!({"message": "Project not found"})
    );
    // Bob can see his own project, and alice cannot reach it through ids either.
    assert_eq!(
        get(&sim, "/api/v2/project/gh/other/secret", BOB)
            .await
            .status,
        200
    );
    let pid = id_of(sim.scenario(), "gh/other/secret", 1);
    assert_eq!(
        get(&sim, &format!("/api/v2/pipeline/{pid}"), ALICE)
            .await
            .status,
        404
    );
    assert_eq!(
        get(&sim, &format!("/api/v2/pipeline/{pid}"), BOB)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn every_slug_form_resolves_and_responses_use_the_short_form() {
    let sim = start_demo().await;
    for path in ["gh/acme/api", "github/acme/api", "github%2Facme%2Fapi"] {
        let r = get(&sim, &format!("/api/v2/project/{path}"), ALICE).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json()["slug"], "gh/acme/api");
        let list = get(&sim, &format!("/api/v2/project/{path}/pipeline"), ALICE)
            .await
            .json();
        assert!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["project_slug"] == "gh/acme/api")
        );
    }
    for path in ["bb/acme-bb/lib", "bitbucket/acme-bb/lib"] {
        let r = get(&sim, &format!("/api/v2/project/{path}"), ALICE)
            .await
            .json();
        assert_eq!(
            (r["slug"].as_str(), r["vcs_info"]["provider"].as_str()),
            (Some("bb/acme-bb/lib"), Some("Bitbucket"))
        );
    }
    let app = "circleci/9z8PamRuKaKWrW91o7Kqvn/AHWysFUuUfBgs6VeUqm6tg";
    let r = get(&sim, &format!("/api/v2/project/{app}"), ALICE)
        .await
        .json();
    assert_eq!(
        (r["slug"].as_str(), r["vcs_info"]["provider"].as_str()),
        (Some(app), Some("CircleCI"))
    );
    // GitHub App pipelines carry no vcs; the SHA is in nested trigger_parameters.
    let items = get(&sim, &format!("/api/v2/project/{app}/pipeline"), ALICE)
        .await
        .json()["items"]
        .clone();
    assert!(items[0].get("vcs").is_none());
    assert_eq!(
        items[0]["trigger_parameters"]["github_app"]["commit_sha"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
}

#[tokio::test]
async fn collaborations_use_vcs_type_with_underscore() {
    let sim = start_demo().await;
    let c = get(&sim, "/api/v2/me/collaborations", ALICE).await.json();
    let arr = c.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    assert!(
        arr.iter()
            .all(|o| o.get("vcs_type").is_some() && o.get("vcs-type").is_none())
    );
    assert!(
        arr.iter()
            .any(|o| o["vcs_type"] == "circleci" && o["slug"] == "circleci/9z8PamRuKaKWrW91o7Kqvn")
    );
    assert_eq!(
        get(&sim, "/api/v2/me/collaborations", "nope").await.status,
        401
    );
}

#[tokio::test]
async fn demo_serves_the_section_11_quirks() {
    let sim = start_demo().await;
    let items = get(&sim, "/api/v2/project/gh/acme/api/pipeline", ALICE)
        .await
        .json()["items"]
        .clone();
    let by_number = |n: i64| {
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["number"] == n)
            .unwrap()
            .clone()
    };
    // Errored pipeline: no vcs, SHA only in trigger_parameters, trigger type outside the spec.
    let errored = by_number(2);
    assert!(errored.get("vcs").is_none());
    assert_eq!(errored["trigger"]["type"], "Decoupled Ingestion System");
    assert_eq!(
        errored["trigger"]["received_at"],
        "1970-01-01T00:00:00.000Z"
    );
    assert!(errored["trigger_parameters"]["git"]["checkout_sha"].is_string());
    assert_eq!(by_number(3)["trigger"]["type"], "schedule");
    assert!(by_number(3)["trigger"]["actor"]["avatar_url"].is_null());
    // Pipelines have ms precision, workflows seconds.
    assert_eq!(by_number(1)["created_at"], "2025-06-01T10:00:00.123Z");
    // Re-run: two workflows with the same name, newest first.
    let wfs = get(
        &sim,
        &format!(
            "/api/v2/pipeline/{}/workflow",
            by_number(4)["id"].as_str().unwrap()
        ),
        ALICE,
    )
    .await
    .json();
    let wfs = wfs["items"].as_array().unwrap().clone();
    assert_eq!(wfs.len(), 2);
    assert!(wfs.iter().all(|w| w["name"] == "build"));
    assert_eq!(
        (wfs[0]["status"].as_str(), wfs[1]["status"].as_str()),
        (Some("success"), Some("failed"))
    );
    assert_eq!(wfs[0]["created_at"], "2025-06-01T11:10:00Z");
    // Canceled job without a job number and with started_at null.
    let jobs = get(
        &sim,
        &format!("/api/v2/workflow/{}/job", wfs[1]["id"].as_str().unwrap()),
        ALICE,
    )
    .await
    .json();
    let canceled = jobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["status"] == "canceled")
        .unwrap()
        .clone();
    assert!(canceled.get("job_number").is_none());
    assert!(canceled["started_at"].is_null());
    // Running workflow: stopped_at present and null; running job: stopped_at absent.
    let running = by_number(6);
    let wf = get(
        &sim,
        &format!(
            "/api/v2/pipeline/{}/workflow",
            running["id"].as_str().unwrap()
        ),
        ALICE,
    )
    .await
    .json()["items"][0]
        .clone();
    assert_eq!(wf["status"], "running");
    assert!(wf.as_object().unwrap().contains_key("stopped_at") && wf["stopped_at"].is_null());
    let jobs = get(
        &sim,
        &format!("/api/v2/workflow/{}/job", wf["id"].as_str().unwrap()),
        ALICE,
    )
    .await
    .json();
    assert!(
        jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j.get("stopped_at").is_none())
    );
    // Approval job without job number.
    let deploy = get(
        &sim,
        &format!(
            "/api/v2/pipeline/{}/workflow",
            by_number(5)["id"].as_str().unwrap()
        ),
        ALICE,
    )
    .await
    .json();
    let jobs = get(
        &sim,
        &format!(
            "/api/v2/workflow/{}/job",
            deploy["items"][0]["id"].as_str().unwrap()
        ),
        ALICE,
    )
    .await
    .json();
    let approval = jobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["type"] == "approval")
        .unwrap()
        .clone();
    assert!(approval.get("job_number").is_none());
}

#[tokio::test]
async fn clock_moves_a_running_workflow_to_its_final_state() {
    let sim = start_demo().await;
    let s = sim.scenario();
    let wid = s.projects[0]
        .pipelines
        .iter()
        .find(|p| p.number == 6)
        .unwrap()
        .workflows[0]
        .id
        .clone();
    let path = format!("/api/v2/workflow/{wid}");
    let w = get(&sim, &path, ALICE).await.json();
    assert_eq!(
        (w["status"].as_str(), w["stopped_at"].is_null()),
        (Some("running"), true)
    );
    sim.clock().advance(Duration::from_secs(150)); // 12:02:30
    assert_eq!(get(&sim, &path, ALICE).await.json()["status"], "failing");
    let jobs = get(&sim, &format!("{path}/job"), ALICE).await.json();
    let build = jobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "build")
        .unwrap()
        .clone();
    assert_eq!(
        (build["status"].as_str(), build["stopped_at"].as_str()),
        (Some("failed"), Some("2025-06-01T12:02:00Z"))
    );
    // The admin endpoint moves the same clock.
    let r = admin(
        &sim,
        "POST",
        "/_sim/clock/advance",
        Some(r#"{"seconds": 60}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let w = get(&sim, &path, ALICE).await.json();
    assert_eq!(
        (w["status"].as_str(), w["stopped_at"].as_str()),
        (Some("failed"), Some("2025-06-01T12:03:00Z"))
    );
}

#[tokio::test]
async fn queued_job_gets_started_at_and_pipelines_appear_with_the_clock() {
    let s = Scenario::builder()
        .clock_start("2025-01-01T12:00:00Z")
        .user("alice", "t")
        .project("gh/acme/api")
        .pipeline(PipelineSpec::new(1))
        .pipeline(
            PipelineSpec::new(2)
                .created_at("2025-01-01T12:10:00.000Z")
                .workflow(
                    WorkflowSpec::new("build")
                        .status("running")
                        .then_at(900, "success")
                        .job(
                            JobSpec::new("test")
                                .status("queued")
                                .then_at(660, "running")
                                .then_at(890, "success"),
                        ),
                ),
        )
        .build()
        .unwrap();
    let sim = start(s).await;
    let list = |v: Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(
            get(&sim, "/api/v2/project/gh/acme/api/pipeline", "t")
                .await
                .json()
        ),
        vec![1]
    );
    sim.clock().advance(Duration::from_secs(600));
    assert_eq!(
        list(
            get(&sim, "/api/v2/project/gh/acme/api/pipeline", "t")
                .await
                .json()
        ),
        vec![2, 1]
    );
    let wid = sim.scenario().projects[0].pipelines[1].workflows[0]
        .id
        .clone();
    sim.clock().advance(Duration::from_secs(10)); // workflow created 2s after the pipeline
    let job = |v: Value| v["items"][0].clone();
    let j = job(get(&sim, &format!("/api/v2/workflow/{wid}/job"), "t")
        .await
        .json());
    assert_eq!(
        (j["status"].as_str(), j["started_at"].is_null()),
        (Some("queued"), true)
    );
    sim.clock().advance(Duration::from_secs(60));
    let j = job(get(&sim, &format!("/api/v2/workflow/{wid}/job"), "t")
        .await
        .json());
    assert_eq!(
        (j["status"].as_str(), j["started_at"].as_str()),
        (Some("running"), Some("2025-01-01T12:11:00Z"))
    );
}

#[tokio::test]
async fn pipeline_pagination_is_20_per_page_newest_first_with_opaque_tokens() {
    let s = generate::large(95, 7);
    let main_total = s.projects[0]
        .pipelines
        .iter()
        .filter(|p| p.vcs.as_ref().and_then(|v| v.branch.as_deref()) == Some("main"))
        .count();
    let sim = start(s).await;
    let base = "/api/v2/project/gh/bench/app/pipeline";
    let mut numbers = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &token {
            Some(t) => format!("{base}?page-token={t}"),
            None => base.to_owned(),
        };
        let v = get(&sim, &path, generate::BENCH_TOKEN).await.json();
        let items = v["items"].as_array().unwrap();
        pages += 1;
        assert!(items.len() <= 20);
        numbers.extend(items.iter().map(|p| p["number"].as_i64().unwrap()));
        match v["next_page_token"].as_str() {
            Some(t) => {
                assert_eq!(items.len(), 20, "only the last page may be short");
                // Opaque: not a number or offset, URL-safe, different on every page.
                assert!(t.parse::<i64>().is_err() && t.len() >= 16);
                assert!(
                    t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                );
                assert_ne!(token.as_deref(), Some(t));
                token = Some(t.to_owned());
            }
            None => {
                assert!(v["next_page_token"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(numbers, (1..=95).rev().collect::<Vec<_>>());

    // Branch filter: only that branch, still newest first, with its own tokens.
    let first = get(&sim, &format!("{base}?branch=main"), generate::BENCH_TOKEN)
        .await
        .json();
    let items = first["items"].as_array().unwrap();
    assert!(items.iter().all(|p| p["vcs"]["branch"] == "main"));
    let nums: Vec<i64> = items
        .iter()
        .map(|p| p["number"].as_i64().unwrap())
        .collect();
    assert!(nums.windows(2).all(|w| w[0] > w[1]));
    let t = first["next_page_token"].as_str().unwrap();
    let second = get(
        &sim,
        &format!("{base}?branch=main&page-token={t}"),
        generate::BENCH_TOKEN,
    )
    .await
    .json();
    assert_eq!(
        items.len() + second["items"].as_array().unwrap().len(),
        main_total.min(40)
    );
    assert!(second["items"][0]["number"].as_i64().unwrap() < *nums.last().unwrap());
    // A token is bound to its filter: reusing it without the branch is rejected.
    assert_eq!(
        get(
            &sim,
            &format!("{base}?page-token={t}"),
            generate::BENCH_TOKEN
        )
        .await
        .status,
        400
    );
    assert_eq!(
        get(
            &sim,
            &format!("{base}?page-token=bogus"),
            generate::BENCH_TOKEN
        )
        .await
        .status,
        400
    );
    let none = get(
        &sim,
        &format!("{base}?branch=no-such-branch"),
        generate::BENCH_TOKEN,
    )
    .await
    .json();
    assert_eq!(
        none,
        serde_json::json!({"items": [], "next_page_token": null})
    );
}

#[tokio::test]
async fn workflow_and_job_lists_paginate_too() {
    let mut wf = WorkflowSpec::new("many-jobs");
    for i in 0..25 {
        wf = wf.job(JobSpec::new(&format!("job-{i}")));
    }
    let mut p = PipelineSpec::new(1).workflow(wf);
    for i in 0..21 {
        p = p.workflow(WorkflowSpec::new(&format!("w{i}")));
    }
    let s = Scenario::builder()
        .user("a", "t")
        .project("gh/acme/api")
        .pipeline(p)
        .build()
        .unwrap();
    let sim = start(s).await;
    let pid = sim.scenario().projects[0].pipelines[0].id.clone();
    let wid = sim.scenario().projects[0].pipelines[0].workflows[0]
        .id
        .clone();
    let page1 = get(&sim, &format!("/api/v2/pipeline/{pid}/workflow"), "t")
        .await
        .json();
    assert_eq!(page1["items"].as_array().unwrap().len(), 20);
    let t = page1["next_page_token"].as_str().unwrap();
    let page2 = get(
        &sim,
        &format!("/api/v2/pipeline/{pid}/workflow?page-token={t}"),
        "t",
    )
    .await
    .json();
    assert_eq!(
        (
            page2["items"].as_array().unwrap().len(),
            page2["next_page_token"].is_null()
        ),
        (2, true)
    );
    let jobs1 = get(&sim, &format!("/api/v2/workflow/{wid}/job"), "t")
        .await
        .json();
    let t = jobs1["next_page_token"].as_str().unwrap();
    let jobs2 = get(
        &sim,
        &format!("/api/v2/workflow/{wid}/job?page-token={t}"),
        "t",
    )
    .await
    .json();
    assert_eq!(
        jobs1["items"].as_array().unwrap().len() + jobs2["items"].as_array().unwrap().len(),
        25
    );
    assert_eq!(jobs2["items"][4]["name"], "job-24");
}

#[tokio::test]
async fn v1_1_projects_lists_followed_classic_projects() {
    let sim = start_demo().await;
    let v = get(&sim, "/api/v1.1/projects", ALICE).await.json();
    let arr = v.as_array().unwrap();
    let names: Vec<&str> = arr
        .iter()
        .map(|p| p["reponame"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["api", "lib"]); // the GitHub App project and bob's are not listed
    let api = &arr[0];
    assert_eq!(
        (api["username"].as_str(), api["vcs_type"].as_str()),
        (Some("acme"), Some("github"))
    );
    let main = &api["branches"]["main"];
    assert_eq!(main["latest_workflows"]["build"]["status"], "running");
    assert!(main["recent_builds"].as_array().unwrap().len() <= 5);
    assert!(api["branches"]["feature%2Fx"].is_null() && api["branches"]["feature/x"].is_object());
    assert_eq!(get(&sim, "/api/v1.1/projects", "nope").await.status, 401);
}

#[tokio::test]
async fn retention_404_for_expired_workflows() {
    let sim = start_demo().await;
    let wid = sim.scenario().projects[0].pipelines[0].workflows[0]
        .id
        .clone();
    assert_eq!(
        get(&sim, &format!("/api/v2/workflow/{wid}/job"), ALICE)
            .await
            .status,
        200
    );
    sim.expire_workflows([wid.clone()]);
    for path in [
        format!("/api/v2/workflow/{wid}"),
        format!("/api/v2/workflow/{wid}/job"),
    ] {
        let r = get(&sim, &path, ALICE).await;
        assert_eq!(
            (r.status, r.json()["message"].clone()),
            (404, Value::from("Workflow not found"))
        );
    }
    // Via the admin endpoint too.
    let other = sim.scenario().projects[0].pipelines[2].workflows[0]
        .id
        .clone();
    admin(
        &sim,
        "POST",
        "/_sim/expire",
        Some(&format!(r#"{{"workflow_ids": ["{other}"]}}"#)),
    )
    .await;
    assert_eq!(
        get(&sim, &format!("/api/v2/workflow/{other}"), ALICE)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn request_log_and_counters() {
    let sim = start_demo().await;
    get(&sim, "/api/v2/me", ALICE).await;
    get(
        &sim,
        "/api/v2/project/gh/acme/api/pipeline?branch=main",
        ALICE,
    )
    .await;
    get(&sim, "/api/v2/project/gh/acme/api", "nope").await;
    admin(&sim, "GET", "/_sim/health", None).await; // not logged
    let log = sim.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[1].query.as_deref(), Some("branch=main"));
    assert_eq!((log[1].status, log[2].status), (Some(200), Some(401)));
    assert_eq!(sim.count("/api/v2/project"), 2);
    assert_eq!(sim.count_by_route()["/api/v2/project/{slug}/pipeline"], 1);
    assert_eq!(sim.count_by_status()[&401], 1);
    let counters = admin(&sim, "GET", "/_sim/counters", None).await.json();
    assert_eq!(counters["total"], 3);
    assert!(log.iter().all(|r| {
        r.client
            .as_deref()
            .is_none_or(|c| !c.contains("demo-token"))
    }));
    sim.clear_requests();
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn refuses_non_loopback_addresses() {
    let opts = circleci_sim::SimOptions {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..Default::default()
    };
    let err = circleci_sim::Simulator::start(demo_scenario(), opts)
        .await
        .err()
        .expect("must refuse");
    assert!(matches!(err, circleci_sim::SimError::NotLoopback(_)));
}
