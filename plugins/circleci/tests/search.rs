//! `builds-for-commit` against a fake CircleCI.

mod common;

use buildsnap_circleci::logging::take_lines;
use buildsnap_circleci::search::builds_for_commit;
use buildsnap_circleci::wit::*;
use common::*;
use serde_json::{Value, json};

const PROJECT: &str = "gh/acme/app";

/// `2024-05-01T12:00:00.000Z` minus `i` minutes: pipeline `i` is the i-th newest.
fn at(i: u32) -> String {
    let total = 12 * 60 - i;
    format!("2024-05-01T{:02}:{:02}:00.000Z", total / 60, total % 60)
}

/// Serve `pipelines` as pages of 20 at `base` for `slug` (tokens `t2`, `t3`, ...).
fn serve_pages(
    fake: &Fake,
    base: &str,
    slug: &str,
    branch: Option<&str>,
    pipelines: &[Value],
) -> usize {
    let chunks: Vec<&[Value]> = pipelines.chunks(20).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        let mut url = format!("{base}/api/v2/project/{slug}/pipeline");
        let mut params = Vec::new();
        if let Some(b) = branch {
            params.push(format!("branch={}", b.replace('/', "%2F")));
        }
        if n > 0 {
            params.push(format!("page-token=t{}", n + 1));
        }
        if !params.is_empty() {
            url = format!("{url}?{}", params.join("&"));
        }
        let next = (n + 1 < chunks.len()).then(|| format!("t{}", n + 2));
        fake.json(&url, &page(chunk.to_vec(), next.as_deref()));
    }
    chunks.len()
}

/// `count` pipelines `p0` (newest) .. with distinct SHAs, except that the
/// pipelines at `positions` built `target`.
fn history(count: u32, positions: &[u32], target: &str) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let s = if positions.contains(&i) {
                target.to_string()
            } else {
                sha(1000 + i)
            };
            pipeline(&format!("p{i}"), u64::from(1000 - i), &s, &at(i))
        })
        .collect()
}

/// One workflow `w-p{i}` (one job) for each of the pipelines at `positions`.
fn serve_simple_builds(fake: &Fake, base: &str, positions: &[u32]) {
    for &i in positions {
        let (p, w) = (format!("p{i}"), format!("w-p{i}"));
        fake.json(
            &format!("{base}/api/v2/pipeline/{p}/workflow"),
            &page(
                vec![workflow(
                    &w,
                    &p,
                    u64::from(1000 - i),
                    "build",
                    "success",
                    &at(i),
                )],
                None,
            ),
        );
        fake.json(
            &format!("{base}/api/v2/workflow/{w}/job"),
            &page(
                vec![job(
                    &format!("j-{w}"),
                    Some(u64::from(i)),
                    "test",
                    "build",
                    "success",
                )],
                None,
            ),
        );
    }
}

fn search(fake: &Fake, q: &CommitQuery) -> CommitBuilds {
    builds_for_commit(fake, &ctx(BASE), q).expect("search succeeds")
}

#[test]
fn page_three_two_pipelines_and_a_rerun() {
    let fake = Fake::new();
    let target = sha(7);
    serve_pages(
        &fake,
        BASE,
        PROJECT,
        None,
        &history(100, &[41, 42], &target),
    );
    // p41: a failed `build`, its re-run (same name, newer) and `deploy`.
    // The API lists the older one first; builds come newest first.
    fake.json(
        &format!("{BASE}/api/v2/pipeline/p41/workflow"),
        &page(
            vec![
                workflow(
                    "w-old",
                    "p41",
                    959,
                    "build",
                    "failed",
                    "2024-05-01T11:19:01Z",
                ),
                workflow(
                    "w-rerun",
                    "p41",
                    959,
                    "build",
                    "success",
                    "2024-05-01T11:25:00Z",
                ),
                workflow(
                    "w-deploy",
                    "p41",
                    959,
                    "deploy",
                    "running",
                    "2024-05-01T11:19:02Z",
                ),
            ],
            None,
        ),
    );
    for w in ["w-old", "w-rerun", "w-deploy"] {
        fake.json(
            &format!("{BASE}/api/v2/workflow/{w}/job"),
            &page(
                vec![job(&format!("j-{w}"), Some(1), "test", "build", "success")],
                None,
            ),
        );
    }
    serve_simple_builds(&fake, BASE, &[42]);

    let found = search(&fake, &query(PROJECT, &target, 500));
    let ids: Vec<&str> = found.builds.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["w-rerun", "w-deploy", "w-old", "w-p42"]);
    assert!(found.builds.iter().all(|b| b.sha == target));
    assert_eq!(
        found.builds[0].name, found.builds[2].name,
        "a re-run is its own build with the same name"
    );
    let attempts: Vec<u32> = found.builds.iter().map(|b| b.attempt).collect();
    assert_eq!(
        attempts,
        [2, 1, 1, 1],
        "the re-run is build's second attempt"
    );
    assert!(found.builds.iter().all(|b| b.parent_id.is_none()));
    assert_eq!(found.builds[0].pipeline_id, "p41");
    assert_eq!(found.builds[0].status, Status::Success);
    assert_eq!(found.builds[2].status, Status::Failed);
    assert_eq!(found.builds[1].status, Status::Running);

    // Economy: pages down to the oldest match (page 3) plus one.
    assert_eq!(found.report.pages_fetched, 4);
    assert_eq!(fake.count(&format!("/project/{PROJECT}/pipeline")), 4);
    assert_eq!(fake.count("page-token=t5"), 0);
    assert_eq!(found.report.stopped_because, StopReason::PastMatches);
    assert_eq!(found.report.pipelines_searched, 80);
    assert_eq!(
        found.report.oldest_searched.as_deref(),
        Some(at(79).as_str())
    );
    assert_eq!(found.report.without_commit, 0);
    // One workflow list per matching pipeline, one job list per workflow,
    // each stage in one batch.
    assert_eq!(fake.count("/api/v2/pipeline/"), 2);
    assert_eq!(fake.count("/job"), 4);
    assert_eq!(*fake.batches.borrow(), vec![2, 4]);
    fake.assert_clean();
}

#[test]
fn economy_bound_holds_wherever_contiguous_matches_sit() {
    let target = sha(9);
    for positions in [
        vec![0],
        vec![5, 6],
        vec![19, 20],
        vec![38, 39, 40],
        vec![59],
        vec![80, 99],
        vec![99],
    ] {
        let fake = Fake::new();
        let pages = serve_pages(
            &fake,
            BASE,
            PROJECT,
            None,
            &history(100, &positions, &target),
        );
        serve_simple_builds(&fake, BASE, &positions);
        let found = search(&fake, &query(PROJECT, &target, 1000));
        let oldest_page = *positions.iter().max().unwrap() as usize / 20 + 1;
        let bound = (oldest_page + 1).min(pages);
        assert_eq!(found.report.pages_fetched as usize, bound, "{positions:?}");
        assert_eq!(fake.count("/api/v2/project/"), bound, "{positions:?}");
        assert_eq!(
            fake.count("/api/v2/pipeline/"),
            positions.len(),
            "{positions:?}"
        );
        assert_eq!(fake.count("/job"), positions.len(), "{positions:?}");
        assert_eq!(found.builds.len(), positions.len(), "{positions:?}");
        fake.assert_clean();
    }
}

#[test]
fn no_match_searches_the_whole_horizon() {
    let fake = Fake::new();
    serve_pages(&fake, BASE, PROJECT, None, &history(100, &[], ""));
    let found = search(&fake, &query(PROJECT, &sha(5), 45));
    assert!(found.builds.is_empty());
    assert_eq!(found.report.pipelines_searched, 45);
    assert_eq!(found.report.pages_fetched, 3);
    assert_eq!(found.report.stopped_because, StopReason::Horizon);
    assert_eq!(
        found.report.oldest_searched.as_deref(),
        Some(at(44).as_str())
    );

    let fake = Fake::new();
    serve_pages(&fake, BASE, PROJECT, None, &history(30, &[], ""));
    let found = search(&fake, &query(PROJECT, &sha(5), 1000));
    assert_eq!(
        (found.report.pipelines_searched, found.report.pages_fetched),
        (30, 2)
    );
    assert_eq!(found.report.stopped_because, StopReason::EndOfHistory);
    fake.assert_clean();
}

#[test]
fn not_before_stops_at_the_first_older_pipeline() {
    let fake = Fake::new();
    let target = sha(3);
    // p50 built the commit but is older than not-before: not looked at.
    serve_pages(&fake, BASE, PROJECT, None, &history(100, &[50], &target));
    let mut q = query(PROJECT, &target, 1000);
    // Second precision against millisecond pipelines: at(25) is 11:35:00.000.
    q.horizon.not_before = Some("2024-05-01T11:35:00Z".into());
    let found = search(&fake, &q);
    assert!(found.builds.is_empty());
    assert_eq!(found.report.stopped_because, StopReason::NotBefore);
    assert_eq!(found.report.pipelines_searched, 26);
    assert_eq!(found.report.pages_fetched, 2);
    assert_eq!(
        found.report.oldest_searched.as_deref(),
        Some(at(25).as_str())
    );
}

#[test]
fn repeated_page_token_stops_with_a_log_line() {
    let fake = Fake::new();
    let url = format!("{BASE}/api/v2/project/{PROJECT}/pipeline");
    fake.json(&url, &page(history(20, &[], "").clone(), Some("same")));
    let second: Vec<Value> = (20..40)
        .map(|i| pipeline(&format!("p{i}"), 1, &sha(i), &at(i)))
        .collect();
    fake.json(
        &format!("{url}?page-token=same"),
        &page(second, Some("same")),
    );
    take_lines();
    let found = search(&fake, &query(PROJECT, &sha(99_999), 1000));
    assert_eq!(found.report.stopped_because, StopReason::PageLoop);
    assert_eq!(found.report.pages_fetched, 2);
    assert!(
        take_lines()
            .iter()
            .any(|(l, m)| *l == Level::Warn && m.contains("repeated a page token"))
    );
}

#[test]
fn approval_job_on_hold_without_number() {
    let fake = Fake::new();
    let target = sha(4);
    serve_pages(&fake, BASE, PROJECT, None, &history(3, &[1], &target));
    fake.json(
        &format!("{BASE}/api/v2/pipeline/p1/workflow"),
        &page(
            vec![workflow("w1", "p1", 999, "release", "on_hold", &at(1))],
            None,
        ),
    );
    let mut hold = job(
        "j-approve",
        None,
        "hold-for-approval",
        "approval",
        "on_hold",
    );
    hold.as_object_mut().unwrap().remove("started_at");
    fake.json(
        &format!("{BASE}/api/v2/workflow/w1/job"),
        &page(
            vec![job("j-build", Some(77), "build", "build", "success"), hold],
            None,
        ),
    );

    let found = search(&fake, &query(PROJECT, &target, 100));
    let b = &found.builds[0];
    assert_eq!(
        (b.status, b.provider_status.as_str()),
        (Status::OnHold, "on_hold")
    );
    let approval = b.jobs.iter().find(|j| j.id == "j-approve").unwrap();
    assert_eq!(approval.number, None);
    assert_eq!(approval.kind, JobKind::Approval);
    assert_eq!(approval.status, Status::OnHold);
    assert_eq!(approval.started_at, None);
    let wf_url = "https://app.circleci.com/pipelines/github/acme/app/999/workflows/w1";
    assert_eq!(b.url.as_deref(), Some(wf_url));
    assert_eq!(
        approval.url.as_deref(),
        Some(wf_url),
        "an approval is approved on the workflow page"
    );
    let build_job = b.jobs.iter().find(|j| j.id == "j-build").unwrap();
    assert_eq!(
        build_job.url.as_deref(),
        Some(format!("{wf_url}/jobs/77").as_str())
    );
    assert_eq!(build_job.number, Some(77));
    assert!(b.jobs_complete);
}

#[test]
fn github_app_project_without_vcs() {
    let fake = Fake::new();
    let slug = "circleci/43G3kM5RtfFE7v5sa4nWAU/44n9pujWcTnVZ2b5S8Fnat";
    let target = sha(11);
    let mut app = pipeline("pa", 12, "", &at(0));
    app.as_object_mut().unwrap().remove("vcs");
    app["trigger_parameters"] = json!({
        "circleci": {"event_time": "2024-12-18 17:23:29.361740256 +0000 UTC"},
        "github_app": {"commit_sha": target.to_uppercase(), "branch": "main"},
        "git": {"branch": "main"}
    });
    let mut errored = pipeline("pe", 11, "", &at(1));
    errored.as_object_mut().unwrap().remove("vcs");
    errored["state"] = json!("errored");
    errored["trigger_parameters"] = json!({"git": {"checkout_sha": target}});
    let mut nothing = pipeline("pn", 10, "", &at(2));
    nothing.as_object_mut().unwrap().remove("vcs");
    serve_pages(&fake, BASE, slug, None, &[app, errored, nothing]);
    let mut wa = workflow("wa", "pa", 12, "build", "success", &at(0));
    wa["project_slug"] = json!(slug);
    fake.json(
        &format!("{BASE}/api/v2/pipeline/pa/workflow"),
        &page(vec![wa], None),
    );
    fake.json(
        &format!("{BASE}/api/v2/pipeline/pe/workflow"),
        &page(vec![], None),
    );
    fake.json(
        &format!("{BASE}/api/v2/workflow/wa/job"),
        &page(vec![], None),
    );

    let found = search(&fake, &query(slug, &target[..12], 100));
    assert_eq!(found.builds.len(), 1);
    let b = &found.builds[0];
    assert_eq!(b.sha, target, "lower-cased full SHA");
    assert_eq!(b.branch.as_deref(), Some("main"));
    assert_eq!(
        b.url.as_deref(),
        Some(format!("https://app.circleci.com/pipelines/{slug}/12/workflows/wa").as_str())
    );
    assert_eq!(found.report.without_commit, 1);
    assert_eq!(
        fake.count("/pipeline/pe/workflow"),
        1,
        "the errored pipeline matched through git.checkout_sha"
    );
    fake.assert_clean();
}

#[test]
fn retention_404s_are_tolerated() {
    let fake = Fake::new();
    let target = sha(12);
    serve_pages(&fake, BASE, PROJECT, None, &history(5, &[1, 2], &target));
    fake.on(
        &format!("{BASE}/api/v2/pipeline/p1/workflow"),
        404,
        r#"{"message":"Not found."}"#,
    );
    fake.json(
        &format!("{BASE}/api/v2/pipeline/p2/workflow"),
        &page(
            vec![
                workflow("w-gone", "p2", 998, "a", "failed", &at(2)),
                workflow("w-ok", "p2", 998, "b", "success", &at(2)),
            ],
            None,
        ),
    );
    fake.on(&format!("{BASE}/api/v2/workflow/w-gone/job"), 404, "");
    fake.json(
        &format!("{BASE}/api/v2/workflow/w-ok/job"),
        &page(vec![job("j1", Some(1), "t", "build", "success")], None),
    );
    take_lines();
    let found = search(&fake, &query(PROJECT, &target, 100));
    let ids: Vec<_> = found
        .builds
        .iter()
        .map(|b| (b.id.as_str(), b.jobs_complete, b.jobs.len()))
        .collect();
    assert_eq!(ids, [("w-gone", false, 0), ("w-ok", true, 1)]);
    let logs = take_lines();
    assert!(
        logs.iter()
            .any(|(_, m)| m.contains("pipeline p1") && m.contains("gone")),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|(_, m)| m.contains("workflow w-gone") && m.contains("gone")),
        "{logs:?}"
    );
}

#[test]
fn rate_limit_with_retry_after() {
    let fake = Fake::new();
    fake.on_with(
        &format!("{BASE}/api/v2/project/{PROJECT}/pipeline"),
        429,
        &[("retry-after", "30")],
        "Rate limited.",
    );
    let err = builds_for_commit(&fake, &ctx(BASE), &query(PROJECT, &sha(1), 100)).unwrap_err();
    assert_eq!(
        err,
        ProviderError::RateLimited(RateLimit {
            until: Some(NOW + 30_000),
            message: "Rate limited.".into()
        })
    );

    // A 429 on a job list fails the call too: the host retries it later.
    let fake = Fake::new();
    let target = sha(2);
    serve_pages(&fake, BASE, PROJECT, None, &history(2, &[0], &target));
    fake.json(
        &format!("{BASE}/api/v2/pipeline/p0/workflow"),
        &page(vec![workflow("w", "p0", 1, "b", "success", &at(0))], None),
    );
    fake.on(&format!("{BASE}/api/v2/workflow/w/job"), 429, "{}");
    match builds_for_commit(&fake, &ctx(BASE), &query(PROJECT, &target, 100)).unwrap_err() {
        ProviderError::RateLimited(r) => assert_eq!(r.until, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn upstream_and_auth_and_host_errors() {
    let url = format!("{BASE}/api/v2/project/{PROJECT}/pipeline");
    let run = |status: u16, body: &str| {
        let fake = Fake::new();
        fake.on(&url, status, body);
        builds_for_commit(&fake, &ctx(BASE), &query(PROJECT, &sha(1), 100)).unwrap_err()
    };
    assert_eq!(
        run(503, r#"{"message":"Service unavailable"}"#),
        ProviderError::Upstream(UpstreamError {
            status: 503,
            message: "Service unavailable".into()
        })
    );
    assert_eq!(
        run(500, ""),
        ProviderError::Upstream(UpstreamError {
            status: 500,
            message: "CircleCI answered HTTP 500".into()
        })
    );
    assert_eq!(
        run(401, r#"{"message":"You must log in first."}"#),
        ProviderError::Unauthorized("You must log in first.".into())
    );
    match run(404, r#"{"message":"Project not found"}"#) {
        ProviderError::NotFound(m) => assert!(
            m.contains(PROJECT) && m.contains("Project not found"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    let fake = Fake::new();
    fake.fail(&url, HttpError::Timeout);
    match builds_for_commit(&fake, &ctx(BASE), &query(PROJECT, &sha(1), 100)).unwrap_err() {
        ProviderError::Other(m) => assert!(m.contains("timeout")),
        other => panic!("{other:?}"),
    }
    let fake = Fake::new();
    assert!(matches!(
        builds_for_commit(&fake, &ctx(BASE), &query(PROJECT, "xyz", 100)),
        Err(ProviderError::Other(_))
    ));
    assert!(fake.requests.borrow().is_empty());
}

#[test]
fn malformed_items_are_skipped_and_malformed_bodies_fail() {
    let fake = Fake::new();
    let target = sha(21);
    let mut items = history(4, &[2], &target);
    items.insert(1, json!({"number": 3, "vcs": {"revision": target}})); // no id
    items.insert(3, json!("not an object"));
    serve_pages(&fake, BASE, PROJECT, None, &items);
    fake.json(
        &format!("{BASE}/api/v2/pipeline/p2/workflow"),
        &page(
            vec![
                json!({"name": "no id"}),
                workflow("w", "p2", 998, "b", "success", &at(2)),
            ],
            None,
        ),
    );
    fake.json(
        &format!("{BASE}/api/v2/workflow/w/job"),
        &page(
            vec![
                job("j1", Some(1), "t", "build", "success"),
                json!({"id": 5}),
            ],
            None,
        ),
    );
    take_lines();
    let found = search(&fake, &query(PROJECT, &target, 100));
    assert_eq!(found.builds.len(), 1);
    assert_eq!(found.builds[0].jobs.len(), 1);
    assert!(
        !found.builds[0].jobs_complete,
        "a skipped job makes the list incomplete"
    );
    assert_eq!(found.report.pipelines_searched, 6);
    assert_eq!(found.report.without_commit, 2);
    let logs = take_lines();
    assert_eq!(
        logs.iter().filter(|(_, m)| m.contains("malformed")).count(),
        4,
        "{logs:?}"
    );

    // Whole bodies.
    let fake = Fake::new();
    fake.on(
        &format!("{BASE}/api/v2/project/{PROJECT}/pipeline"),
        200,
        "<html>maintenance</html>",
    );
    assert!(matches!(
        builds_for_commit(&fake, &ctx(BASE), &query(PROJECT, &target, 100)),
        Err(ProviderError::InvalidResponse(_))
    ));

    let fake = Fake::new();
    serve_pages(&fake, BASE, PROJECT, None, &history(3, &[0], &target));
    fake.on(
        &format!("{BASE}/api/v2/pipeline/p0/workflow"),
        200,
        "{\"items\": [",
    );
    assert!(matches!(
        builds_for_commit(&fake, &ctx(BASE), &query(PROJECT, &target, 100)),
        Err(ProviderError::InvalidResponse(_))
    ));

    let fake = Fake::new();
    serve_pages(&fake, BASE, PROJECT, None, &history(3, &[0], &target));
    fake.json(
        &format!("{BASE}/api/v2/pipeline/p0/workflow"),
        &page(vec![workflow("w", "p0", 1, "b", "success", &at(0))], None),
    );
    fake.on(&format!("{BASE}/api/v2/workflow/w/job"), 200, "null");
    let found = search(&fake, &query(PROJECT, &target, 100));
    assert_eq!(
        (found.builds.len(), found.builds[0].jobs_complete),
        (1, false)
    );
}

#[test]
fn circleci_server_base_url() {
    let base = "https://circleci.example.com";
    let fake = Fake::new();
    let target = sha(31);
    serve_pages(&fake, base, PROJECT, None, &history(3, &[0], &target));
    serve_simple_builds(&fake, base, &[0]);
    let found = builds_for_commit(
        &fake,
        &ctx(&format!("{base}/")),
        &query(PROJECT, &target, 100),
    )
    .unwrap();
    let b = &found.builds[0];
    assert_eq!(
        b.url.as_deref(),
        Some("https://app.circleci.example.com/pipelines/github/acme/app/1000/workflows/w-p0")
    );
    assert_eq!(
        b.jobs[0].url.as_deref(),
        Some(
            "https://app.circleci.example.com/pipelines/github/acme/app/1000/workflows/w-p0/jobs/0"
        )
    );
    assert!(fake.requests.borrow().iter().all(|u| u.starts_with(base)));
    fake.assert_clean();
}

#[test]
fn short_and_ambiguous_prefixes() {
    let fake = Fake::new();
    let a = format!("abcdef1{}", "0".repeat(33));
    let b = format!("abcdef1{}", "f".repeat(33));
    let mut items = history(6, &[], "");
    items[1] = pipeline("p1", 999, &a, &at(1));
    items[2] = pipeline("p2", 998, &b, &at(2));
    serve_pages(&fake, BASE, PROJECT, None, &items);
    serve_simple_builds(&fake, BASE, &[1, 2]);

    let found = search(&fake, &query(PROJECT, "ABCDEF1", 100));
    let shas: Vec<_> = found.builds.iter().map(|b| b.sha.as_str()).collect();
    assert_eq!(
        shas,
        [a.as_str(), b.as_str()],
        "both commits, each build with its full SHA"
    );

    let found = search(&fake, &query(PROJECT, &b[..10], 100));
    assert_eq!(found.builds.len(), 1);
    assert_eq!(found.builds[0].sha, b);
}

#[test]
fn branch_filter_and_paged_workflow_and_job_lists() {
    let fake = Fake::new();
    let target = sha(41);
    serve_pages(
        &fake,
        BASE,
        PROJECT,
        Some("feature/x"),
        &history(25, &[22], &target),
    );
    let wurl = format!("{BASE}/api/v2/pipeline/p22/workflow");
    fake.json(
        &wurl,
        &page(
            vec![workflow("w1", "p22", 978, "a", "success", &at(22))],
            Some("wt2"),
        ),
    );
    fake.json(
        &format!("{wurl}?page-token=wt2"),
        &page(
            vec![workflow("w2", "p22", 978, "b", "failing", &at(22))],
            None,
        ),
    );
    let j1 = format!("{BASE}/api/v2/workflow/w1/job");
    fake.json(
        &j1,
        &page(
            vec![job("j1", Some(1), "t", "build", "success")],
            Some("jt2"),
        ),
    );
    fake.json(
        &format!("{j1}?page-token=jt2"),
        &page(vec![job("j2", Some(2), "u", "build", "timedout")], None),
    );
    fake.json(
        &format!("{BASE}/api/v2/workflow/w2/job"),
        &page(
            vec![job("j3", Some(3), "v", "build", "infrastructure_fail")],
            None,
        ),
    );

    let mut q = query(PROJECT, &target, 100);
    q.branch = Some("feature/x".into());
    let found = search(&fake, &q);
    let w1 = found.builds.iter().find(|b| b.id == "w1").unwrap();
    let w2 = found.builds.iter().find(|b| b.id == "w2").unwrap();
    assert_eq!(
        w1.jobs
            .iter()
            .map(|j| (j.id.as_str(), j.status))
            .collect::<Vec<_>>(),
        [("j1", Status::Success), ("j2", Status::Failed)]
    );
    assert!(w1.jobs_complete);
    assert_eq!(w2.status, Status::Failing);
    assert_eq!(w2.jobs[0].status, Status::Error);
    assert_eq!(
        *fake.batches.borrow(),
        vec![1, 1, 2, 1],
        "first pages batched, continuations batched"
    );
    assert!(fake.requests.borrow()[0].ends_with("?branch=feature%2Fx"));
    fake.assert_clean();
}

/// Issue 18, F6: a project slug with `..` segments sent the token to
/// `GET /internal/admin%3Fx%3D1%23/pipeline`. It is refused before any request.
#[test]
fn slugs_that_would_leave_the_project_path_send_nothing() {
    for project in [
        "gh/../../../../internal/admin?x=1#",
        "gh/acme/..",
        "gh//app",
        "gh/acme/app%2F..",
        "gitlab/acme/app",
    ] {
        let fake = Fake::new();
        match builds_for_commit(&fake, &ctx(BASE), &query(project, &sha(1), 100)) {
            Err(ProviderError::NotFound(m)) => {
                assert!(m.contains("not a CircleCI project slug"), "{m}")
            }
            other => panic!("{project:?}: {other:?}"),
        }
        assert!(fake.requests.borrow().is_empty(), "{project:?}");
    }
}
