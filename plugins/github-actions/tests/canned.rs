//! Paging rules on canned answers, where the simulator cannot be made to
//! misbehave: a `Link` that points back (page loop), GitHub's 1,000-result
//! cap on filtered lists, job lists over several pages, a job list GitHub
//! no longer has, and a secondary limit's `retry-after`.

use std::cell::RefCell;

use buildsnap_github_actions::search;
use buildsnap_github_actions::transport::Transport;
use buildsnap_github_actions::wit::{
    CacheState, CallContext, CommitQuery, Horizon, HttpError, ProviderError, Request, Response,
    StopReason,
};
use serde_json::json;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const BASE: &str = "https://api.github.com";

/// Answers by URL prefix; records every URL.
struct Canned {
    answer: Box<dyn Fn(&str) -> Response>,
    sent: RefCell<Vec<String>>,
}

impl Transport for Canned {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        self.sent.borrow_mut().push(req.url.clone());
        Ok((self.answer)(&req.url))
    }
    fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
        reqs.iter().map(|r| self.send(r)).collect()
    }
}

fn ok(body: serde_json::Value, link: Option<String>) -> Response {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(l) = link {
        headers.push(("link".into(), l));
    }
    Response {
        status: 200,
        headers,
        body: body.to_string().into_bytes(),
        cache_state: CacheState::Miss,
        received_at: 5_000,
    }
}

fn run(id: u64) -> serde_json::Value {
    json!({
        "id": id, "name": "CI", "head_branch": "main", "head_sha": SHA, "run_number": id,
        "run_attempt": 1, "status": "completed", "conclusion": "success",
        "html_url": format!("https://github.com/a/b/actions/runs/{id}"),
        "created_at": "2025-06-01T12:00:00Z", "updated_at": "2025-06-01T12:05:00Z",
    })
}

fn job(id: u64, run: u64) -> serde_json::Value {
    json!({
        "id": id, "run_id": run, "run_attempt": 1, "head_sha": SHA, "status": "completed",
        "conclusion": "success", "name": format!("job {id}"),
        "started_at": "2025-06-01T12:00:00Z", "completed_at": "2025-06-01T12:01:00Z",
    })
}

fn ctx() -> CallContext {
    CallContext {
        now: 4_000,
        base_url: BASE.into(),
        settings: vec![],
    }
}

fn query() -> CommitQuery {
    CommitQuery {
        project: "a/b".into(),
        sha: SHA.into(),
        branch: None,
        horizon: Horizon {
            max_pipelines: 5_000,
            not_before: None,
        },
    }
}

fn no_jobs() -> serde_json::Value {
    json!({"total_count": 0, "jobs": []})
}

#[test]
fn a_link_back_to_a_page_already_read_stops_the_search() {
    let t = Canned {
        answer: Box::new(|url| {
            if url.contains("/jobs") {
                return ok(no_jobs(), None);
            }
            let me = format!("<{url}>; rel=\"next\"");
            ok(
                json!({"total_count": 1, "workflow_runs": [run(1)]}),
                Some(me),
            )
        }),
        sent: RefCell::default(),
    };
    let found = search::builds_for_commit(&t, &ctx(), &query()).unwrap();
    assert_eq!(found.report.stopped_because, StopReason::PageLoop);
    assert_eq!(found.report.pages_fetched, 1);
    assert_eq!(found.builds.len(), 1);
}

#[test]
fn the_filter_cap_is_reported() {
    let t = Canned {
        answer: Box::new(|url| {
            if url.contains("/jobs") {
                return ok(no_jobs(), None);
            }
            let page: u64 = url
                .rsplit_once("page=")
                .map_or(1, |(_, p)| p.parse().unwrap_or(1));
            let runs: Vec<_> = (0..100).map(|i| run(page * 1000 + i)).collect();
            // GitHub stops linking after the 10th page of a filtered list.
            let next = (page < 10).then(|| {
                format!("<{BASE}/repos/a/b/actions/runs?head_sha={SHA}&per_page=100&page={}>; rel=\"next\"", page + 1)
            });
            ok(json!({"total_count": 1500, "workflow_runs": runs}), next)
        }),
        sent: RefCell::default(),
    };
    let found = search::builds_for_commit(&t, &ctx(), &query()).unwrap();
    assert_eq!(found.report.pipelines_searched, 1000);
    assert_eq!(found.report.pages_fetched, 10);
    assert_eq!(found.report.stopped_because, StopReason::FilterCap);
}

#[test]
fn job_lists_are_followed_and_a_missing_one_marks_the_build_incomplete() {
    let t = Canned {
        answer: Box::new(|url| {
            if url.contains("/runs/1/jobs") {
                if url.contains("page=2") {
                    return ok(json!({"total_count": 101, "jobs": [job(100, 1)]}), None);
                }
                let jobs: Vec<_> = (0..100).map(|i| job(i, 1)).collect();
                let next = format!(
                    "<{BASE}/repos/a/b/actions/runs/1/jobs?filter=all&per_page=100&page=2>; rel=\"next\""
                );
                return ok(json!({"total_count": 101, "jobs": jobs}), Some(next));
            }
            if url.contains("/runs/2/jobs") {
                let mut r = ok(json!({"message": "Not Found"}), None);
                r.status = 404;
                return r;
            }
            ok(
                json!({"total_count": 2, "workflow_runs": [run(2), run(1)]}),
                None,
            )
        }),
        sent: RefCell::default(),
    };
    let found = search::builds_for_commit(&t, &ctx(), &query()).unwrap();
    let b2 = &found.builds[0];
    let b1 = &found.builds[1];
    assert_eq!(
        (b2.id.as_str(), b2.jobs_complete, b2.jobs.len()),
        ("2/1", false, 0)
    );
    assert_eq!(
        (b1.id.as_str(), b1.jobs_complete, b1.jobs.len()),
        ("1/1", true, 101)
    );
    assert_eq!(t.sent.borrow().len(), 4);
}

#[test]
fn a_secondary_limit_waits_its_retry_after() {
    let t = Canned {
        answer: Box::new(|_| Response {
            status: 429,
            headers: vec![("retry-after".into(), "7".into())],
            body: br#"{"message":"You have exceeded a secondary rate limit."}"#.to_vec(),
            cache_state: CacheState::Miss,
            received_at: 5_000,
        }),
        sent: RefCell::default(),
    };
    match search::builds_for_commit(&t, &ctx(), &query()) {
        Err(ProviderError::RateLimited(r)) => assert_eq!(r.until, Some(5_000 + 7_000)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        t.sent.borrow().len(),
        1,
        "nothing more is sent once limited"
    );
}
