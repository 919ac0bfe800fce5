//! GitHub Actions end to end through the real host: `buildsnap serve` in
//! process with its built-in GitHub Actions component (contract 0.2.0), the
//! GitHub simulator on 127.0.0.1, and the public HTTP API. What the plugin
//! maps is tested in `plugins/github-actions`; here the host's side is: the
//! provider listing, enabling with a token, the repo URL turned into a
//! project, short SHAs resolved, attempts kept, and GitHub's 403 rate limit
//! honoured for the whole integration.

#[path = "capture_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use buildsnap::serve::{self, Server};
use buildsnap::settings::Settings;
use github_sim::cases::{self, DEMO_TOKEN, ids};
use github_sim::{RateLimitConfig, SimHandle, SimOptions, Simulator};
use serde_json::{Value, json};
use support::{ADMIN, Api};

const SECRET: &str = "github-e2e-webhook-secret";

struct Env {
    sim: SimHandle,
    server: Option<Server>,
    /// The capture tests' API client (admin token, org `acme`).
    api: Api,
    _dir: tempfile::TempDir,
}

impl Env {
    /// The demo scenario under GitHub's default rate limits, or `rate_limit`.
    async fn start(rate_limit: RateLimitConfig) -> Env {
        Env::start_with(
            SimOptions {
                rate_limit,
                ..SimOptions::default()
            },
            3600,
        )
        .await
    }

    /// The demo scenario under `opts` with its clock frozen at its start
    /// (2025-06-01 12:00 UTC, the in-progress cases still in progress), so
    /// every deploy registered now comes after every case began; the host
    /// syncing every `sync_secs`.
    async fn start_with(opts: SimOptions, sync_secs: u64) -> Env {
        let sim = Simulator::start(
            cases::demo().unwrap(),
            SimOptions {
                clock_running: Some(false),
                ..opts
            },
        )
        .await
        .expect("simulator");
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .data_dir(dir.path())
            .allow_hosts(sim.root_url())
            .admin_token(Some(ADMIN.into()))
            .sync_interval(Duration::from_secs(sync_secs))
            .build()
            .unwrap();
        let server = serve::start(settings).await.expect("server starts");
        Env {
            api: Api::new(server.addr),
            server: Some(server),
            sim,
            _dir: dir,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api.call(method, path, body).await
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method.clone(), path, body).await;
        assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
        v
    }

    /// Org acme, project api deployed from github.com/acme/api, GitHub
    /// Actions enabled at the simulator as its build server.
    async fn setup(&self) {
        self.setup_with("https://github.com/acme/api").await
    }

    /// [`Env::setup`] with the code deployment's repository URL given.
    async fn setup_with(&self, repo_url: &str) {
        use reqwest::Method as M;
        self.ok(
            M::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "acme", "name": "Acme"})),
        )
        .await;
        self.ok(
            M::POST,
            "/api/v1/orgs/acme/projects",
            Some(json!({"slug": "api", "name": "API"})),
        )
        .await;
        self.ok(
            M::POST,
            "/api/v1/orgs/acme/projects/api/code-deployments",
            Some(json!({"slug": "prod", "repo_url": repo_url, "branch": "main"})),
        )
        .await;
        let v = self
            .ok(
                M::PUT,
                "/api/v1/orgs/acme/integrations/github-actions",
                Some(json!({"token": DEMO_TOKEN, "base_url": self.sim.base_url(), "webhook_secret": SECRET})),
            )
            .await;
        assert!(!v.to_string().contains(DEMO_TOKEN), "{v}");
        self.ok(
            M::PUT,
            "/api/v1/orgs/acme/integrations/github-actions/default-build-server",
            Some(json!({"project": "api"})),
        )
        .await;
        self.sim.clear_requests();
    }

    async fn deploy(&self, sha: &str) -> i64 {
        self.deploy_at(sha, None).await
    }

    /// A deploy at `deployed_at` (RFC 3339), now when `None`.
    async fn deploy_at(&self, sha: &str, deployed_at: Option<String>) -> i64 {
        let mut body = json!({"sha": sha, "environment": "production"});
        if let Some(at) = deployed_at {
            body["deployed_at"] = json!(at);
        }
        let v = self
            .ok(
                reqwest::Method::POST,
                "/api/v1/orgs/acme/projects/api/deploys",
                Some(body),
            )
            .await;
        v["id"].as_i64().unwrap()
    }

    /// The simulator's clock start plus `secs`, RFC 3339.
    fn sim_time(&self, secs: i64) -> String {
        let start = self.sim.scenario().clock.start.expect("clock start");
        (start + chrono::Duration::seconds(secs)).to_rfc3339()
    }

    async fn wait_snapshot(&self, id: i64, timeout: Duration) -> Value {
        self.api.wait_snapshot(id, timeout).await
    }

    fn sha_of(&self, run: u64) -> String {
        self.sim
            .scenario()
            .repos
            .iter()
            .flat_map(|r| &r.runs)
            .find(|r| r.id == run)
            .map(|r| r.head_sha.clone())
            .expect("run in scenario")
    }

    async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
        self.sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_built_in_github_actions_plugin_serves_contract_0_2_0() {
    let env = Env::start(RateLimitConfig::default()).await;
    let providers = env
        .ok(reqwest::Method::GET, "/api/v1/providers", None)
        .await;
    let list = providers["providers"]
        .as_array()
        .unwrap_or_else(|| panic!("{providers}"));
    let gha = list
        .iter()
        .find(|p| p["id"] == "github-actions")
        .unwrap_or_else(|| panic!("{providers}"));
    assert_eq!(gha["name"], "GitHub Actions");
    assert_eq!(gha["api_version"], "0.2.0");
    assert_eq!(gha["default_base_url"], "https://api.github.com");
    let circle = list.iter().find(|p| p["id"] == "circleci").unwrap();
    assert!(circle["api_version"].is_string());

    // A wrong token is GitHub's own words, and nothing is stored.
    env.ok(
        reqwest::Method::POST,
        "/api/v1/orgs",
        Some(json!({"slug": "acme", "name": "Acme"})),
    )
    .await;
    let (s, v) = env
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/integrations/github-actions",
            Some(json!({"token": "not-a-token", "base_url": env.sim.base_url()})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "invalid_credentials", "{v}");
    assert!(v.to_string().contains("Bad credentials"), "{v}");
    env.stop().await;
}

#[tokio::test]
async fn a_deploy_gets_the_runs_of_its_commit_with_their_attempts() {
    let env = Env::start(RateLimitConfig::default()).await;
    env.setup().await;
    let sha = env.sha_of(ids::TWO_ATTEMPTS);
    let id = env.deploy(&sha).await;
    let snap = env.wait_snapshot(id, Duration::from_secs(30)).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    let builds = snap["builds"].as_array().unwrap();
    let got: Vec<(String, String, i64)> = builds
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_string(),
                b["status"].as_str().unwrap().to_string(),
                // Absent means the first attempt.
                b["attempt"].as_i64().unwrap_or(1),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (format!("{}/2", ids::TWO_ATTEMPTS), "success".to_string(), 2),
            (format!("{}/1", ids::TWO_ATTEMPTS), "failed".to_string(), 1),
        ],
        "{snap}"
    );
    assert_eq!(snap["provider"], "github-actions", "{snap}");
    env.stop().await;
}

#[tokio::test]
async fn a_short_sha_is_resolved_through_github() {
    let env = Env::start(RateLimitConfig::default()).await;
    env.setup().await;
    let sha = env.sha_of(ids::CANCELLED);
    // Upper case, as people paste it: stored and resolved lower-case.
    let id = env.deploy(&sha[..10].to_uppercase()).await;
    let snap = env.wait_snapshot(id, Duration::from_secs(30)).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    let statuses: Vec<&str> = snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["canceled"], "{snap}");
    assert_eq!(
        env.sim
            .count(&format!("/repos/acme/api/commits/{}", &sha[..10])),
        1,
        "one resolution: {:?}",
        env.sim
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
    env.stop().await;
}

/// GitHub's primary rate limit: a 403 with `x-ratelimit-remaining: 0` and
/// the reset as epoch seconds. No request of the integration may reach
/// GitHub before that reset, and the capture completes after it.
#[tokio::test]
async fn a_403_with_a_reset_time_pauses_the_integration_until_the_reset() {
    let env = Env::start(RateLimitConfig {
        limit: 6,
        window_secs: 3,
        exhausted_status: 403,
        ..RateLimitConfig::default()
    })
    .await;
    env.setup().await;
    let ids_ = [
        ids::TWO_ATTEMPTS,
        ids::CANCELLED,
        ids::SKIPPED,
        ids::TIMED_OUT,
    ];
    let mut deploys = Vec::new();
    for run in ids_ {
        deploys.push(env.deploy(&env.sha_of(run)).await);
    }
    for id in deploys {
        let snap = env.wait_snapshot(id, Duration::from_secs(60)).await;
        assert_eq!(snap["state"], "complete", "{snap}");
    }
    let counters = env.sim.counters();
    assert!(
        counters.primary_limited > 0,
        "the limit was reached: {counters:?}"
    );
    env.sim
        .assert_reset_respected()
        .unwrap_or_else(|v| panic!("a request before the reset: {v:?}"));
    env.stop().await;
}

fn statuses(snap: &Value) -> Vec<String> {
    snap["builds"]
        .as_array()
        .unwrap_or_else(|| panic!("{snap}"))
        .iter()
        .map(|b| b["status"].as_str().unwrap().to_string())
        .collect()
}

/// GitHub's words as the contract maps them, through the host.
#[tokio::test]
async fn each_case_gets_its_status_word() {
    let env = Env::start(RateLimitConfig::default()).await;
    env.setup().await;
    for (run, want) in [
        (ids::WAITING, "on_hold"),
        (ids::FAILING, "failing"),
        (ids::CANCELLED, "canceled"),
        (ids::SKIPPED, "not_run"),
    ] {
        let id = env.deploy(&env.sha_of(run)).await;
        let snap = env.wait_snapshot(id, Duration::from_secs(30)).await;
        assert_eq!(statuses(&snap), [want], "run {run}: {snap}");
        let build = &snap["builds"][0];
        assert!(
            build["attempt"].is_null(),
            "a first attempt says nothing: {snap}"
        );
        assert!(
            build["provider_status"].is_string(),
            "GitHub's word is kept: {snap}"
        );
    }
    env.stop().await;
}

/// Economy: a commit with two attempts of one run costs one run-list page,
/// one older attempt and one job list per attempt at most; a commit with
/// 120 runs gets them all from two pages.
#[tokio::test]
async fn requests_stay_near_the_lower_bound_and_busy_commits_are_paged() {
    let env = Env::start(RateLimitConfig::default()).await;
    env.setup().await;
    let id = env.deploy(&env.sha_of(ids::TWO_ATTEMPTS)).await;
    env.wait_snapshot(id, Duration::from_secs(30)).await;
    let sent: Vec<String> = env.sim.requests().iter().map(|r| r.route.clone()).collect();
    // Lower bound: the run list, the older attempt, one job list.
    assert!(sent.len() >= 3 && sent.len() <= 4, "{sent:?}");
    assert_eq!(
        sent.iter()
            .filter(|r| r.as_str() == "/repos/{owner}/{repo}/actions/runs")
            .count(),
        1,
        "{sent:?}"
    );

    env.sim.clear_requests();
    let id = env.deploy(&cases::busy_sha()).await;
    let snap = env.wait_snapshot(id, Duration::from_secs(60)).await;
    assert_eq!(snap["state"], "complete", "{snap}");
    assert_eq!(
        snap["builds"].as_array().unwrap().len(),
        cases::BUSY_RUNS,
        "{snap}"
    );
    let pages = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.route == "/repos/{owner}/{repo}/actions/runs")
        .count();
    assert_eq!(pages, cases::BUSY_RUNS.div_ceil(100), "pages of 100");
    env.stop().await;
}

/// A backdated deploy: the re-run created after it is left out.
#[tokio::test]
async fn a_backdated_deploy_leaves_out_what_came_later_and_sees_a_later_stop_as_running() {
    let env = Env::start(RateLimitConfig::default()).await;
    env.setup().await;
    // Attempt 1 was created an hour before the clock start, attempt 2 half
    // an hour before it.
    let id = env
        .deploy_at(&env.sha_of(ids::TWO_ATTEMPTS), Some(env.sim_time(-2400)))
        .await;
    let snap = env.wait_snapshot(id, Duration::from_secs(30)).await;
    let ids_: Vec<&str> = snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids_, [format!("{}/1", ids::TWO_ATTEMPTS)], "{snap}");
    assert_eq!(snap["summary"], "failed", "{snap}");

    // The queued case starts a minute after the clock start and succeeds
    // at three minutes: once it has, a deploy backdated to two minutes
    // finds it running then.
    env.sim.clock().advance(Duration::from_secs(240));
    let id = env
        .deploy_at(&env.sha_of(ids::QUEUED), Some(env.sim_time(120)))
        .await;
    let snap = env.wait_snapshot(id, Duration::from_secs(30)).await;
    assert_eq!(statuses(&snap), ["running"], "{snap}");
    assert_eq!(snap["builds"][0]["stopped_at"], Value::Null, "{snap}");
    env.stop().await;
}

/// A commit GitHub does not know, by full SHA and by prefix: no builds,
/// and an explanation.
#[tokio::test]
async fn an_unknown_commit_has_no_builds_and_says_why() {
    let env = Env::start(RateLimitConfig::default()).await;
    env.setup().await;
    for sha in ["0123456789abcdef0123456789abcdef01234567", "0123456789"] {
        let id = env.deploy(sha).await;
        let snap = env.wait_snapshot(id, Duration::from_secs(30)).await;
        assert_eq!(snap["builds"].as_array().unwrap().len(), 0, "{snap}");
        let explain = snap["explain"].as_str().unwrap_or_else(|| panic!("{snap}"));
        assert!(
            explain.contains("not found") && explain.contains(sha),
            "{explain}"
        );
    }
    env.stop().await;
}

/// A secondary limit (429 with `retry-after`): nothing of the integration
/// goes out before the wait, and the capture still completes.
#[tokio::test]
async fn a_secondary_limit_is_waited_out() {
    let env = Env::start(RateLimitConfig::default()).await;
    env.setup().await;
    env.sim.set_fault(github_sim::FaultRule::times(
        "/repos/acme/api/actions/runs",
        1,
        github_sim::Fault::SecondaryRateLimit {
            status: 429,
            retry_after_secs: Some(2),
        },
    ));
    let id = env.deploy(&env.sha_of(ids::CANCELLED)).await;
    let snap = env.wait_snapshot(id, Duration::from_secs(60)).await;
    assert_eq!(statuses(&snap), ["canceled"], "{snap}");
    assert_eq!(env.sim.counters().secondary_limited, 1);
    env.sim
        .assert_retry_after_respected()
        .unwrap_or_else(|v| panic!("a request before the retry-after: {v:?}"));
    env.stop().await;
}

/// GitHub Enterprise Server: the API under `/api/v3` on the operator's
/// host, and the project derived from a repository URL on that host.
#[tokio::test]
async fn an_enterprise_server_serves_repositories_on_its_own_host() {
    let env = Env::start_with(
        SimOptions {
            enterprise: true,
            ..SimOptions::default()
        },
        3600,
    )
    .await;
    assert!(
        env.sim.base_url().ends_with("/api/v3"),
        "{}",
        env.sim.base_url()
    );
    env.setup_with(&format!("{}/acme/api", env.sim.root_url()))
        .await;
    let id = env.deploy(&env.sha_of(ids::SKIPPED)).await;
    let snap = env.wait_snapshot(id, Duration::from_secs(30)).await;
    assert_eq!(snap["build_project"], "acme/api", "{snap}");
    assert_eq!(statuses(&snap), ["not_run"], "{snap}");
    assert!(
        env.sim
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/api/v3/")),
        "{:?}",
        env.sim.requests()
    );
    // The token page is on the Enterprise host too (asked of the plugin
    // with the call context; nothing is sent to the server for it).
    let before = env.sim.requests().len();
    let v = env
        .ok(
            reqwest::Method::GET,
            &format!(
                "/api/v1/providers/github-actions/token-help-url?base_url={}",
                env.sim.base_url()
            ),
            None,
        )
        .await;
    assert_eq!(
        v["token_help_url"],
        format!("{}/settings/personal-access-tokens", env.sim.root_url()),
        "{v}"
    );
    assert_eq!(env.sim.requests().len(), before);
    let (s, v) = env
        .call(
            reqwest::Method::GET,
            "/api/v1/providers/github-actions/token-help-url?base_url=ftp://x",
            None,
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_base_url")),
        "{v}"
    );
    // The server's root is no API (the API is under /api/v3): a clear 422.
    let (s, v) = env
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/integrations/github-actions",
            Some(json!({"token": DEMO_TOKEN, "base_url": env.sim.root_url()})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("not_provider_api")),
        "{v}"
    );
    assert!(v.to_string().contains("check the base URL"), "{v}");
    env.stop().await;
}

/// The simulator's signed deliveries through the host's webhook route:
/// `workflow_run` and `workflow_job` update the index (the snapshot's
/// `current_status`), a redelivery is a duplicate, a bad signature 401.
#[tokio::test]
async fn webhooks_update_builds_and_jobs() {
    let env = Env::start(RateLimitConfig::default()).await;
    env.setup().await;
    let hook = format!("{}/api/v1/webhooks/github-actions/acme", env.api.base);
    env.sim
        .add_webhook(github_sim::WebhookConfig::new(hook.clone(), SECRET));
    let id = env.deploy(&env.sha_of(ids::FAILING)).await;
    let snap = env.wait_snapshot(id, Duration::from_secs(30)).await;
    assert_eq!(statuses(&snap), ["failing"], "{snap}");

    // The failing run finishes 5 minutes after the clock start.
    env.sim.clock().advance(Duration::from_secs(400));
    let done = env
        .sim
        .wait_for_deliveries(Duration::from_secs(20), |d| {
            d.iter().any(|x| {
                x.event == "workflow_run"
                    && x.action.as_deref() == Some("completed")
                    && x.status.is_some()
            })
        })
        .await;
    assert!(done, "{:?}", env.sim.webhook_deliveries());
    let deliveries = env.sim.webhook_deliveries();
    assert!(
        deliveries.iter().any(|d| d.event == "workflow_job"),
        "{deliveries:?}"
    );
    for d in &deliveries {
        assert!(
            d.status.is_some_and(|s| (200..300).contains(&s)),
            "every genuine delivery accepted: {d:?}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, snap) = env
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/orgs/acme/deploys/{id}/builds"),
                None,
            )
            .await;
        let b = &snap["builds"][0];
        if b["current_status"] == "failed" {
            assert_eq!(b["status"], "failing", "the snapshot itself never changes");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no current_status from the webhooks: {snap}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The same delivery again (GitHub's "Redeliver" keeps the GUID): a
    // duplicate, acknowledged and not applied twice.
    let sent = env
        .sim
        .webhook_bodies()
        .into_iter()
        .find(|s| s.event == "workflow_run")
        .expect("a workflow_run body");
    let signature = {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(&sent.body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let resp = env
        .api
        .http
        .post(&hook)
        .header("x-github-event", "workflow_run")
        .header("x-github-delivery", &sent.guid)
        .header("x-hub-signature-256", signature)
        .header("content-type", "application/json")
        .body(sent.body.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ack: Value = resp.json().await.unwrap();
    assert!((200..300).contains(&status), "{status} {ack}");
    assert_eq!(ack["duplicate"], true, "{ack}");

    // A forged delivery: 401, and nothing changes.
    let body = env.sim.webhook_bodies()[0].body.clone();
    let resp = env
        .api
        .http
        .post(&hook)
        .header("x-github-event", "workflow_run")
        .header("x-github-delivery", "forged-1")
        .header("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    env.stop().await;
}

/// The sync with conditional requests: after one pass, an unchanged
/// repository costs 304s only (the host keeps the answers).
#[tokio::test]
async fn a_sync_pass_over_an_unchanged_repository_costs_only_304s() {
    let env = Env::start_with(SimOptions::default(), 1).await;
    env.setup().await;
    let id = env.deploy(&env.sha_of(ids::CANCELLED)).await;
    env.wait_snapshot(id, Duration::from_secs(30)).await;
    // Wait for two sync passes at least, then look at a later one.
    let runs = "/repos/{owner}/{repo}/actions/runs";
    let deadline = Instant::now() + Duration::from_secs(30);
    while env
        .sim
        .requests()
        .iter()
        .filter(|r| r.route == runs)
        .count()
        < 3
    {
        assert!(Instant::now() < deadline, "{:?}", env.sim.requests());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.sim.clear_requests();
    let deadline = Instant::now() + Duration::from_secs(30);
    while env
        .sim
        .requests()
        .iter()
        .filter(|r| r.route == runs)
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "{:?}", env.sim.requests());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let later = env.sim.requests();
    assert!(
        later.iter().all(|r| r.status == Some(304)),
        "only 304s: {:?}",
        later
            .iter()
            .map(|r| (r.path.clone(), r.query.clone(), r.status))
            .collect::<Vec<_>>()
    );
    assert!(later.iter().all(|r| r.conditional), "{later:?}");
    env.stop().await;
}
