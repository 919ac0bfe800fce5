//! Every body the simulator serves, for every route, status and scenario case, validates
//! against the vendored GitHub OpenAPI description, except for the deviations listed here.

mod common;

use std::collections::HashSet;
use std::sync::Mutex;

use common::schema::{Checker, Exception, REST};
use common::*;
use github_sim::{Fault, FaultRule, RateLimitConfig, SimHandle, SimOptions, cases, generate};
use serde_json::{Value, json};

/// Statuses GitHub answers on routes whose description documents only 200 (or fewer
/// errors). The bodies are GitHub's `basic-error` shape and are validated against it.
const EXCEPTIONS: &[Exception] = &[
    Exception {
        route: "*",
        status: 400,
        instance: "",
        keyword: "undocumented-status",
        detail: "",
        reason: "an unsupported X-GitHub-Api-Version is answered 400 on every route; no route documents it",
    },
    Exception {
        route: "/repos/{owner}/{repo}/actions/runs*",
        status: 404,
        instance: "",
        keyword: "undocumented-status",
        detail: "",
        reason: "unknown or invisible repositories and runs are 404 Not Found; the run routes document only 200",
    },
    Exception {
        route: "/repos/{owner}/{repo}/*",
        status: 403,
        instance: "",
        keyword: "undocumented-status",
        detail: "",
        reason: "rate limits (primary and secondary) answer 403 on every route; the repository routes do not document it",
    },
    Exception {
        route: "/repos/{owner}/{repo}/actions/runs*",
        status: 422,
        instance: "",
        keyword: "undocumented-status",
        detail: "",
        reason: "invalid status/created/filter values are refused with 422 Validation Failed (a simulator choice)",
    },
    Exception {
        route: "/repos/{owner}/{repo}/*",
        status: 401,
        instance: "",
        keyword: "undocumented-status",
        detail: "",
        reason: "a bad token is 401 Bad credentials on every route; the repository routes do not document it",
    },
    Exception {
        route: "/repos/{owner}/{repo}/*",
        status: 304,
        instance: "",
        keyword: "undocumented-status",
        detail: "",
        reason: "conditional GETs answer 304 on every route; only /user and /user/repos document it",
    },
    Exception {
        route: "/repos/{owner}/{repo}/actions/runs",
        status: 429,
        instance: "",
        keyword: "undocumented-status",
        detail: "",
        reason: "GitHub may answer a rate limit with 429 instead of 403; no route documents it",
    },
];

struct Rest {
    c: Checker,
    bad: Mutex<Vec<String>>,
}

impl Rest {
    fn new() -> Self {
        Self {
            c: Checker::new(REST, EXCEPTIONS),
            bad: Mutex::default(),
        }
    }

    /// Validates one answer to a GET of `path` (relative to the API root, query allowed).
    fn check(&self, path: &str, r: &Resp) {
        let bare = path.split('?').next().unwrap();
        let route = github_sim::routes::template(bare);
        let op = &self.c.root["paths"][route.as_str()]["get"];
        assert!(op.is_object(), "the description has GET {route}");
        let status = r.status;
        let mut documented = op["responses"][status.to_string()].clone();
        if let Some(Value::String(reference)) = documented.get("$ref") {
            documented = self
                .c
                .root
                .pointer(reference.trim_start_matches('#'))
                .unwrap()
                .clone();
        }
        let schema = if documented.is_null() {
            if let Some(v) = self.c.undocumented(&route, status) {
                self.bad.lock().unwrap().push(v);
            }
            if status == 304 {
                assert!(r.body.is_empty(), "{route} 304 has a body");
                return;
            }
            json!({"$ref": "#/components/schemas/basic-error"})
        } else {
            match documented.pointer("/content/application~1json/schema") {
                Some(s) => s.clone(),
                None => {
                    // 304 and friends: no content at all.
                    if !r.body.is_empty() {
                        self.bad
                            .lock()
                            .unwrap()
                            .push(format!("{route} {status} has a body: {}", r.text()));
                    }
                    return;
                }
            }
        };
        let key = format!("{route} {status}");
        let v = self.c.violations(&key, &route, status, &schema, &r.json());
        self.bad.lock().unwrap().extend(v);
    }
}

/// GETs `path` and checks the answer.
async fn visit(sim: &SimHandle, rest: &Rest, token: &str, path: &str) -> Resp {
    let r = get(sim, path, token).await;
    rest.check(path, &r);
    r
}

/// Follows `rel="next"` from `path`, checking every page; returns the items under `key`.
async fn pages(
    sim: &SimHandle,
    rest: &Rest,
    token: &str,
    path: &str,
    key: Option<&str>,
) -> Vec<Value> {
    let mut items = Vec::new();
    let mut r = visit(sim, rest, token, path).await;
    loop {
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let body = r.json();
        let list = key.map_or(&body, |k| &body[k]);
        items.extend(list.as_array().unwrap().iter().cloned());
        let Some(next) = r.link("next") else { break };
        let rel = next
            .strip_prefix(&sim.base_url())
            .expect("links point at the simulator")
            .to_owned();
        r = visit(sim, rest, token, &rel).await;
    }
    items
}

/// Visits every route reachable for `token`.
async fn crawl(sim: &SimHandle, rest: &Rest, token: &str) {
    visit(sim, rest, token, "/user").await;
    let repos = pages(sim, rest, token, "/user/repos?per_page=2", None).await;
    assert!(!repos.is_empty());
    let mut shas = HashSet::new();
    for repo in repos {
        let full = repo["full_name"].as_str().unwrap().to_owned();
        let base = format!("/repos/{full}/actions/runs");
        let runs = pages(
            sim,
            rest,
            token,
            &format!("{base}?per_page=100"),
            Some("workflow_runs"),
        )
        .await;
        for run in &runs {
            let id = run["id"].as_u64().unwrap();
            visit(sim, rest, token, &format!("{base}/{id}")).await;
            pages(
                sim,
                rest,
                token,
                &format!("{base}/{id}/jobs?filter=all&per_page=2"),
                Some("jobs"),
            )
            .await;
            visit(sim, rest, token, &format!("{base}/{id}/jobs")).await;
            for n in 1..=run["run_attempt"].as_u64().unwrap() {
                visit(sim, rest, token, &format!("{base}/{id}/attempts/{n}")).await;
                visit(sim, rest, token, &format!("{base}/{id}/attempts/{n}/jobs")).await;
            }
            let sha = run["head_sha"].as_str().unwrap().to_owned();
            if shas.insert(sha.clone()) {
                visit(sim, rest, token, &format!("/repos/{full}/commits/{sha}")).await;
                visit(
                    sim,
                    rest,
                    token,
                    &format!("/repos/{full}/commits/{}", &sha[..7]),
                )
                .await;
                let filtered = format!(
                    "{base}?head_sha={sha}&status=completed&event=push&branch=main&created=%3E%3D2024-01-01"
                );
                visit(sim, rest, token, &filtered).await;
            }
        }
        visit(sim, rest, token, &format!("/repos/{full}/commits/main")).await;
    }
}

/// Error answers of every kind the simulator produces.
async fn errors(sim: &SimHandle, rest: &Rest) {
    let t = DEMO_TOKEN;
    let base = "/repos/acme/api/actions/runs";
    for (token, path, status) in [
        ("wrong-token", "/user", 401),
        ("wrong-token", base, 401),
        (t, "/repos/acme/nope/actions/runs", 404),
        (t, "/repos/hubot/secret/actions/runs", 404),
        (t, &format!("{base}/1"), 404),
        (
            t,
            &format!("{base}/{}/attempts/9", cases::ids::TWO_ATTEMPTS),
            404,
        ),
        (
            t,
            &format!("{base}/{}/attempts/9/jobs", cases::ids::TWO_ATTEMPTS),
            404,
        ),
        (
            t,
            &format!("{base}/{}/jobs?filter=bogus", cases::ids::TWO_ATTEMPTS),
            422,
        ),
        (t, &format!("{base}?status=bogus"), 422),
        (t, &format!("{base}?created=yesterday"), 422),
        (t, "/repos/acme/api/commits/0000000000", 422),
        (t, "/repos/acme/api/commits/no-such-branch", 422),
        (t, "/user/repos?type=owner&visibility=all", 422),
    ] {
        let r = get(sim, path, token).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        rest.check(path, &r);
    }
    let no_token = request("GET", &format!("{}/user", sim.base_url()), &[], None)
        .await
        .unwrap();
    assert_eq!(no_token.status, 401);
    rest.check("/user", &no_token);
    for path in ["/user", base, "/repos/acme/api/commits/main"] {
        let r = get_with(sim, path, t, &[("x-github-api-version", "2020-01-01")]).await;
        assert_eq!(r.status, 400);
        rest.check(path, &r);
        let first = get(sim, path, t).await;
        let etag = first.header("etag").unwrap().to_owned();
        let r = get_with(sim, path, t, &[("if-none-match", &etag)]).await;
        assert_eq!(r.status, 304);
        rest.check(path, &r);
    }
    for status in [403, 429] {
        let id = sim.set_fault(FaultRule::times(
            "*",
            1,
            Fault::SecondaryRateLimit {
                status,
                retry_after_secs: Some(1),
            },
        ));
        let r = visit(sim, rest, t, base).await;
        assert_eq!(r.status, status);
        sim.remove_fault(id);
    }
    let r = visit(sim, rest, t, "/user").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn every_served_body_matches_the_description_outside_listed_exceptions() {
    let rest = Rest::new();
    let sim = start_demo().await;
    crawl(&sim, &rest, DEMO_TOKEN).await;
    crawl(&sim, &rest, OTHER_TOKEN).await;
    for secs in [150, 3600] {
        // Through every clock-driven transition of the demo.
        sim.clock()
            .set(sim.scenario().clock.start.unwrap() + chrono::Duration::seconds(secs));
        crawl(&sim, &rest, DEMO_TOKEN).await;
    }
    errors(&sim, &rest).await;
    sim.shutdown().await;

    let enterprise = SimOptions {
        enterprise: true,
        ..SimOptions::default()
    };
    let sim = start_with(demo_scenario(), enterprise).await;
    crawl(&sim, &rest, DEMO_TOKEN).await;
    sim.shutdown().await;

    let limited = SimOptions {
        rate_limit: RateLimitConfig {
            limit: 1,
            ..RateLimitConfig::default()
        },
        ..SimOptions::default()
    };
    let sim = start_with(demo_scenario(), limited).await;
    for (path, status) in [
        ("/user", 200),
        ("/user", 403),
        ("/repos/acme/api/actions/runs", 403),
    ] {
        let r = visit(&sim, &rest, DEMO_TOKEN, path).await;
        assert_eq!(r.status, status);
    }
    sim.shutdown().await;

    let sim = start(generate::large(250, 3)).await;
    crawl(&sim, &rest, generate::BENCH_TOKEN).await;
    sim.shutdown().await;

    let bad = rest.bad.lock().unwrap().clone();
    assert!(
        bad.is_empty(),
        "{} violations outside the exception list:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(
        *rest.c.checked.lock().unwrap() > 2000,
        "the crawl covered too little"
    );
    rest.c.assert_every_exception_used();
}

#[tokio::test]
async fn the_checker_fails_on_violations_outside_the_exceptions() {
    let rest = Rest::new();
    let sim = start_demo().await;
    let path = format!("/repos/acme/api/actions/runs/{}", cases::ids::TWO_ATTEMPTS);
    let good = get(&sim, &path, DEMO_TOKEN).await;
    rest.check(&path, &good);
    assert!(rest.bad.lock().unwrap().is_empty());
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut v = good.json();
        f(&mut v);
        Resp {
            status: 200,
            headers: good.headers.clone(),
            body: serde_json::to_vec(&v).unwrap(),
        }
    };
    rest.check(&path, &mutate(&|v| v["id"] = json!("12")));
    rest.check(
        &path,
        &mutate(&|v| drop(v.as_object_mut().unwrap().remove("head_commit"))),
    );
    rest.check(&path, &mutate(&|v| v["created_at"] = json!("yesterday")));
    rest.check(
        &path,
        &mutate(&|v| v["actor"]["avatar_url"] = json!("not a uri")),
    );
    assert_eq!(
        rest.bad.lock().unwrap().len(),
        4,
        "{:#?}",
        rest.bad.lock().unwrap()
    );
    rest.bad.lock().unwrap().clear();
    // A 404 on a route that documents only 200 is excused, one on /user is not.
    let missing = get(&sim, "/repos/acme/api/actions/runs/1", DEMO_TOKEN).await;
    rest.check("/repos/acme/api/actions/runs/1", &missing);
    assert!(rest.bad.lock().unwrap().is_empty());
    rest.check("/user", &missing);
    assert_eq!(rest.bad.lock().unwrap().len(), 1);
}
