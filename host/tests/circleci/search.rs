// The search suite: included by `circleci_search.rs` (the built-in component;
// what it covers is said there) and by `circleci_0_1_0.rs` (the 0.1.0
// component). `crate::CIRCLECI` says which one runs.

use std::time::Duration;

use buildsnap::runtime::wit::{JobKind, ProviderError, Status, StopReason};
use crate::cases::*;
use circleci_sim::Scenario;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use crate::sim::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_credentials_good_token_names_the_user() {
    let sim = start(demo_scenario()).await;
    let circleci = circleci(&sim).await;
    let account = circleci
        .validate_credentials(&integration(&sim, Some(ALICE)))
        .await
        .unwrap();
    assert_eq!(account.id, "e00447d8-2df0-5da9-8781-df8ecc088846");
    assert_eq!(account.login, "alice");
    assert_eq!(account.name, "Alice Example");
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    assert_eq!(reqs[0].path, "/api/v2/me");
    assert_eq!(reqs[0].status, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_credentials_bad_or_missing_token_is_unauthorized_with_circleci_message() {
    let sim = start(demo_scenario()).await;
    let circleci = circleci(&sim).await;
    for token in [Some("not-a-real-token"), None] {
        let err = provider_error(
            circleci
                .validate_credentials(&integration(&sim, token))
                .await,
        );
        match err {
            ProviderError::Unauthorized(m) => {
                assert_eq!(m, "You must log in first.", "token {token:?}")
            }
            other => panic!("token {token:?}: {other:?}"),
        }
    }
    // A 401 is final: the host does not retry it.
    assert_eq!(sim.count_by_status().get(&401), Some(&2));
    assert_eq!(sim.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_projects_returns_followed_projects_with_normalised_slugs() {
    let sim = start(demo_scenario()).await;
    let circleci = circleci(&sim).await;
    let projects = circleci
        .all_projects(&integration(&sim, Some(ALICE)))
        .await
        .unwrap();
    let slugs: Vec<&str> = projects.iter().map(|p| p.slug.as_str()).collect();
    // v1.1 lists classic projects only (the GitHub App project is not in it);
    // bob's gh/other/secret is not visible to alice.
    assert_eq!(slugs, ["gh/acme/api", "bb/acme-bb/lib"], "{projects:#?}");
    assert_eq!(projects[0].name, "api");
    assert_eq!(
        projects[0].repo_url.as_deref(),
        Some("https://github.com/acme/api")
    );
    assert_eq!(projects[1].name, "lib");
    let bob = circleci
        .all_projects(&integration(&sim, Some("demo-token-bob")))
        .await
        .unwrap();
    assert_eq!(
        bob.iter().map(|p| p.slug.as_str()).collect::<Vec<_>>(),
        ["gh/other/secret"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_for_commit_pages_to_page_three_and_beyond() {
    let sha = stable_sha("e2e:deep");
    // 120 pipelines; the commit's pipelines are #75 (position 45, page 3)
    // and #55 (position 65, page 4). #75 has a workflow of 25 jobs, so its
    // job list has a second page too.
    let scenario = history(APP, 120, &sha, &[75, 55], |n| match n {
        75 => vec![(0..25).fold(WorkflowSpec::new("build"), |w, i| {
            w.job(JobSpec::new(&format!("shard-{i}")))
        })],
        _ => vec![
            WorkflowSpec::new("build").job(JobSpec::new("test")),
            WorkflowSpec::new("deploy")
                .status("on_hold")
                .job(JobSpec::approval("hold")),
        ],
    });
    assert_eq!((page_of(120, 75), page_of(120, 55)), (3, 4));
    let sim = start(scenario).await;
    let circleci = circleci(&sim).await;
    let result = circleci
        .builds_for_commit(&integration(&sim, Some(ALICE)), &query(APP, &sha))
        .await
        .unwrap();

    let numbers: Vec<Option<u64>> = result.builds.iter().map(|b| b.pipeline_number).collect();
    assert_eq!(
        numbers,
        [Some(75), Some(55), Some(55)],
        "{:#?}",
        result.builds
    );
    assert!(
        result
            .builds
            .iter()
            .all(|b| b.sha == sha && b.jobs_complete)
    );
    assert_eq!(
        result.builds[0].jobs.len(),
        25,
        "the job list's second page was read"
    );
    let names: Vec<&str> = result.builds[0]
        .jobs
        .iter()
        .map(|j| j.name.as_str())
        .collect();
    assert_eq!(names.first(), Some(&"shard-0"));
    assert_eq!(names.last(), Some(&"shard-24"));

    // Pages 1..4 down to the oldest match, plus page 5 without a match.
    assert_eq!(result.report.pages_fetched, 5);
    assert_eq!(result.report.pipelines_searched, 100);
    assert_eq!(result.report.stopped_because, StopReason::PastMatches);
    assert_eq!(result.report.without_commit, 0);
    let oldest = pipeline_of(&sim, APP, 21).created_at.to_string();
    assert_eq!(
        result.report.oldest_searched.as_deref(),
        Some(oldest.as_str())
    );
    let pages = on_route(&sim, PIPELINES);
    assert_eq!(pages.len(), 5);
    assert!(
        pages[0].query.is_none(),
        "first page has no token: {:?}",
        pages[0].query
    );
    assert!(pages[1..].iter().all(|r| {
        r.query
            .as_deref()
            .is_some_and(|q| q.starts_with("page-token="))
    }));
    // The job list of the 25-job workflow was read in two pages, the others in one.
    let jobs = on_route(&sim, JOBS);
    assert_eq!(jobs.len(), 3 + 1, "{jobs:#?}");
    assert_eq!(jobs.iter().filter(|r| r.query.is_some()).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pipelines_of_one_commit_and_a_rerun_are_all_builds_newest_first() {
    let sim = start(demo_scenario()).await;
    let circleci = circleci(&sim).await;
    let result = circleci
        .builds_for_commit(&integration(&sim, Some(ALICE)), &query(API, SHA_45))
        .await
        .unwrap();
    let b = &result.builds;
    // Pipeline 5's deploy, then pipeline 4's re-run (newer) and original.
    assert_eq!(
        ids(b),
        [
            "d7d2581c-599f-5560-b01f-3082c93ed326",
            "6b585d44-7455-5385-abdd-5e5260685ffb",
            "d8b34e72-5659-5d84-aa6a-55798940869f"
        ],
        "{b:#?}"
    );
    assert_eq!(
        b.iter().map(|b| b.pipeline_number).collect::<Vec<_>>(),
        [Some(5), Some(4), Some(4)]
    );
    assert_ne!(b[0].pipeline_id, b[1].pipeline_id);
    assert_eq!(b[1].pipeline_id, b[2].pipeline_id);
    // A re-run is its own build with the same name; 0.2.0 counts it as the
    // second attempt, 0.1.0 has no attempts (the host reads 1).
    assert_eq!((b[1].name.as_str(), b[2].name.as_str()), ("build", "build"));
    let attempts: Vec<u32> = b.iter().map(|b| b.attempt).collect();
    if crate::CIRCLECI.is_v0_2() {
        assert_eq!(attempts, [1, 2, 1]);
    } else {
        assert_eq!(attempts, [1, 1, 1]);
    }
    assert_eq!(
        (b[1].status, b[2].status),
        (Status::Success, Status::Failed)
    );
    assert_eq!(b[1].created_at, "2025-06-01T11:10:00Z");
    assert_eq!(b[2].stopped_at.as_deref(), Some("2025-06-01T11:02:00Z"));
    assert!(b.iter().all(|b| b.sha == SHA_45 && b.jobs_complete));
    // Pipeline 5 built the tag v1.0.0 (no branch), pipeline 4 the branch feature/x.
    assert_eq!(
        (b[0].branch.as_deref(), b[0].tag.as_deref()),
        (None, Some("v1.0.0"))
    );
    assert_eq!(
        (b[1].branch.as_deref(), b[1].tag.as_deref()),
        (Some("feature/x"), None)
    );
    assert_eq!(b[2].branch.as_deref(), Some("feature/x"));
    // The failed run's canceled job has no number: its link is the workflow page.
    let canceled = b[2].jobs.iter().find(|j| j.name == "test").unwrap();
    assert_eq!((canceled.status, canceled.number), (Status::Canceled, None));
    assert_eq!(canceled.url, b[2].url);
    assert_eq!(result.report.stopped_because, StopReason::EndOfHistory);
    assert_eq!(result.report.pipelines_searched, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_job_on_hold_and_its_release_as_the_clock_moves() {
    let sim = start(demo_scenario()).await;
    let circleci = circleci(&sim).await;
    let integ = integration(&sim, Some(ALICE));
    let held = circleci
        .builds_for_commit(&integ, &query(API, SHA_45))
        .await
        .unwrap();
    let deploy = &held.builds[0];
    assert_eq!(
        (
            deploy.name.as_str(),
            deploy.status,
            deploy.provider_status.as_str()
        ),
        ("deploy", Status::OnHold, "on_hold")
    );
    assert_eq!(deploy.stopped_at, None);
    let hold = &deploy.jobs[0];
    assert_eq!((hold.name.as_str(), hold.status), ("hold", Status::OnHold));
    assert!(matches!(hold.kind, JobKind::Approval), "{:?}", hold.kind);
    assert_eq!(hold.number, None, "approval jobs have no number");
    assert_eq!(
        hold.url, deploy.url,
        "an approval job links to its workflow page"
    );
    assert_eq!(hold.started_at, None);
    let prod = &deploy.jobs[1];
    assert_eq!(
        (prod.status, prod.provider_status.as_str(), prod.number),
        (Status::Queued, "blocked", Some(7))
    );

    // Approved at 12:01, deploy-prod runs, the workflow succeeds at 12:05.
    sim.clock().advance(Duration::from_secs(6 * 60));
    let done = circleci
        .builds_for_commit(&integ, &query(API, SHA_45))
        .await
        .unwrap();
    let deploy = &done.builds[0];
    assert_eq!(deploy.status, Status::Success);
    assert_eq!(deploy.stopped_at.as_deref(), Some("2025-06-01T12:05:00Z"));
    assert_eq!(deploy.jobs[0].status, Status::Success);
    assert_eq!(deploy.jobs[1].status, Status::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_vcs_takes_the_sha_and_branch_from_trigger_parameters() {
    let sha = stable_sha("e2e:no-vcs");
    let scenario = Scenario::builder()
        .user("alice", ALICE)
        .project(APP)
        .pipeline(PipelineSpec::new(1).workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))))
        .pipeline(
            PipelineSpec::new(2)
                .branch("release/2.x")
                .revision(&sha)
                .without_vcs()
                .workflow(WorkflowSpec::new("build").job(JobSpec::new("test"))),
        )
        .pipeline(PipelineSpec::new(3).workflow(WorkflowSpec::new("build").job(JobSpec::new("a"))))
        .build()
        .unwrap();
    let sim = start(scenario).await;
    assert!(pipeline_of(&sim, APP, 2).vcs.is_none());
    let circleci = circleci(&sim).await;
    // Asked with a short, upper-case prefix.
    let result = circleci
        .builds_for_commit(
            &integration(&sim, Some(ALICE)),
            &query(APP, &sha[..12].to_uppercase()),
        )
        .await
        .unwrap();
    assert_eq!(result.builds.len(), 1, "{result:#?}");
    let b = &result.builds[0];
    assert_eq!(
        b.sha, sha,
        "the full SHA, from trigger_parameters.git.checkout_sha"
    );
    assert_eq!(b.branch.as_deref(), Some("release/2.x"));
    assert_eq!(b.pipeline_number, Some(2));
    assert_eq!(result.report.without_commit, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_project_with_opaque_slug() {
    let sim = start(demo_scenario()).await;
    let circleci = circleci(&sim).await;
    let result = circleci
        .builds_for_commit(
            &integration(&sim, Some(ALICE)),
            &query(GH_APP_PROJECT, GH_APP_SHA),
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&result.builds),
        ["2957b04b-07ba-5cb0-b1e0-afed7a2cb5ca"],
        "{result:#?}"
    );
    let b = &result.builds[0];
    assert_eq!(b.sha, GH_APP_SHA);
    assert_eq!(b.branch.as_deref(), Some("main"));
    let wf_url = format!(
        "{}/pipelines/{GH_APP_PROJECT}/1/workflows/{}",
        sim.base_url(),
        b.id
    );
    assert_eq!(b.url.as_deref(), Some(wf_url.as_str()));
    assert_eq!(
        b.jobs[0].url.as_deref(),
        Some(format!("{wf_url}/jobs/1").as_str())
    );
    // The slug went out as the opaque path it is (no gh/ rewriting).
    let pages = on_route(&sim, PIPELINES);
    assert_eq!(pages.len(), 1);
    assert!(
        pages[0].path.contains("9z8PamRuKaKWrW91o7Kqvn"),
        "{}",
        pages[0].path
    );
    assert_eq!(pages[0].status, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_404_keeps_the_workflow_with_jobs_incomplete() {
    let sim = start(demo_scenario()).await;
    sim.expire_workflows(["d8b34e72-5659-5d84-aa6a-55798940869f"]);
    let circleci = circleci(&sim).await;
    let result = circleci
        .builds_for_commit(&integration(&sim, Some(ALICE)), &query(API, SHA_45))
        .await
        .unwrap();
    assert_eq!(result.builds.len(), 3);
    let gone = result
        .builds
        .iter()
        .find(|b| b.id == "d8b34e72-5659-5d84-aa6a-55798940869f")
        .unwrap();
    assert!(!gone.jobs_complete);
    assert!(gone.jobs.is_empty());
    assert_eq!(
        gone.status,
        Status::Failed,
        "the workflow itself is still known"
    );
    assert!(
        result
            .builds
            .iter()
            .filter(|b| b.id != gone.id)
            .all(|b| b.jobs_complete && !b.jobs.is_empty())
    );
    // One 404 (not retried), the other job lists fine.
    let jobs = on_route(&sim, JOBS);
    assert_eq!(jobs.iter().filter(|r| r.status == Some(404)).count(), 1);
    assert_eq!(jobs.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_derive_from_the_server_base_url_and_a_running_build_moves_on() {
    let sim = start(demo_scenario()).await;
    let circleci = circleci(&sim).await;
    let sha6 = "773bae214fb25ffda72072354e94b5a2c62d4ea5";
    // A CircleCI server install at the simulator's address, given with a trailing slash.
    let integ = integration_at(&format!("{}/", sim.base_url()), Some(ALICE));
    let running = circleci
        .builds_for_commit(&integ, &query(API, sha6))
        .await
        .unwrap();
    let b = &running.builds[0];
    let wf = format!(
        "{}/pipelines/github/acme/api/6/workflows/98c2a213-3e85-5723-8511-597d9514633c",
        sim.base_url()
    );
    assert_eq!(b.url.as_deref(), Some(wf.as_str()));
    assert_eq!(
        b.jobs
            .iter()
            .map(|j| j.url.clone().unwrap())
            .collect::<Vec<_>>(),
        [format!("{wf}/jobs/8"), format!("{wf}/jobs/9")]
    );
    assert!(
        b.url.as_deref().unwrap().starts_with(&sim.base_url()),
        "never app.circleci.com for a server"
    );
    assert_eq!((b.status, b.stopped_at.as_deref()), (Status::Running, None));
    assert!(
        b.jobs
            .iter()
            .all(|j| j.status == Status::Running && j.stopped_at.is_none())
    );

    sim.clock().advance(Duration::from_secs(150));
    let failing = circleci
        .builds_for_commit(&integ, &query(API, sha6))
        .await
        .unwrap();
    assert_eq!(failing.builds[0].status, Status::Failing);
    sim.clock().advance(Duration::from_secs(60));
    let failed = circleci
        .builds_for_commit(&integ, &query(API, sha6))
        .await
        .unwrap();
    assert_eq!(failed.builds[0].status, Status::Failed);
    assert_eq!(
        failed.builds[0].stopped_at.as_deref(),
        Some("2025-06-01T12:03:00Z")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_counts_meet_the_economy_bound() {
    let sha = stable_sha("e2e:economy");
    // 200 pipelines; the commit's three pipelines straddle pages 2 and 3
    // (#162 and #161 at positions 38 and 39, #160 at position 40).
    let matching = [162, 161, 160];
    let scenario = history(APP, 200, &sha, &matching, |n| {
        let wf = |name: &str| {
            WorkflowSpec::new(name)
                .job(JobSpec::new("a"))
                .job(JobSpec::new("b"))
        };
        if n == 161 {
            vec![wf("build"), wf("lint")]
        } else {
            vec![wf("build")]
        }
    });
    let sim = start(scenario).await;
    let circleci = circleci(&sim).await;
    let result = circleci
        .builds_for_commit(&integration(&sim, Some(ALICE)), &query(APP, &sha))
        .await
        .unwrap();
    assert_eq!(result.builds.len(), 4);
    assert_eq!(result.report.stopped_because, StopReason::PastMatches);
    assert_economy(&sim, 200, &matching, &result);
    assert_eq!(on_route(&sim, PIPELINES).len(), 4);

    // The demo's commit of pipelines 4 and 5 (history ends first).
    let demo = start(demo_scenario()).await;
    let circleci = crate::cases::circleci(&demo).await;
    let result = circleci
        .builds_for_commit(&integration(&demo, Some(ALICE)), &query(API, SHA_45))
        .await
        .unwrap();
    assert_eq!(result.report.pages_fetched, 1);
    assert_eq!(on_route(&demo, WORKFLOWS).len(), 2);
    assert_eq!(on_route(&demo, JOBS).len(), 3);
    assert_eq!(demo.requests().len(), 1 + 2 + 3);
}

/// A commit with 2,000 jobs: the component's heap outgrows the memory it
/// starts with (src/heap.rs claims that first, then grows and extends), and
/// every build and job still comes back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_commit_outgrows_the_initial_heap_and_maps_completely() {
    let sha = stable_sha("e2e:large-commit");
    let mut b = Scenario::builder().user("alice", ALICE).project(API);
    for n in 1..=10 {
        let mut p = PipelineSpec::new(n).revision(&sha).branch("main");
        for w in 0..10 {
            let mut wf = WorkflowSpec::new(&format!("workflow-{w}")).status("success");
            for j in 0..20 {
                wf = wf.job(
                    JobSpec::new(&format!("job-{j}-with-a-longer-name-to-take-room"))
                        .status("success"),
                );
            }
            p = p.workflow(wf);
        }
        b = b.pipeline(p);
    }
    let sim = start(b.build().expect("scenario")).await;
    let circleci = circleci(&sim).await;
    let result = circleci
        .builds_for_commit(&integration(&sim, Some(ALICE)), &query(API, &sha))
        .await
        .unwrap();
    assert_eq!(result.builds.len(), 100);
    assert!(
        result
            .builds
            .iter()
            .all(|b| b.jobs.len() == 20 && b.jobs_complete && b.sha == sha)
    );
    assert_eq!(
        result.builds.iter().map(|b| b.jobs.len()).sum::<usize>(),
        2_000
    );
}
