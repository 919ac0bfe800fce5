//! Capture benchmarks against the CircleCI simulator (`generate::large`):
//!
//! 1. provider requests per cold commit lookup (the built-in plugin through
//!    the host, as a capture makes it), against the lower bound and against
//!    a collector that lists every pipeline's workflows and jobs (what
//!    Apache DevLake's CircleCI collector requests), on the same scenario;
//! 2. lookup latency with 100 ms injected per CircleCI request;
//! 3. end to end: deploy registered through the HTTP API (`serve::start`)
//!    until its snapshot is complete, with the same latency.
//!
//! `cargo run --release -p buildsnap --example capture_bench [pipelines] [seed]`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use buildsnap::runtime::origin::AllowList;
use buildsnap::runtime::wit::CommitQuery;
use buildsnap::runtime::wit::latest::provider::Horizon;
use buildsnap::runtime::{Credential, Integration, Registry};
use buildsnap::settings::Settings;
use circleci_sim::generate::{BENCH_PROJECT, BENCH_TOKEN, large};
use circleci_sim::model::Pipeline;
use circleci_sim::{Fault, FaultRule, SimOptions, Simulator};
use serde_json::json;
use url::Url;

const PAGE: usize = 20;

fn pages(n: usize) -> usize {
    n.div_ceil(PAGE).max(1)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let scenario = large(n, seed);
    // Newest first, as the pipeline list is served.
    let mut pipelines: Vec<Pipeline> = scenario.projects[0].pipelines.clone();
    pipelines.sort_by_key(|p| std::cmp::Reverse(p.number));
    let total_workflows: usize = pipelines.iter().map(|p| p.workflows.len()).sum();
    let devlake = pages(pipelines.len())
        + pipelines
            .iter()
            .map(|p| pages(p.workflows.len()))
            .sum::<usize>()
        + pipelines
            .iter()
            .flat_map(|p| &p.workflows)
            .map(|w| pages(w.jobs.len()))
            .sum::<usize>();

    let sim = Simulator::start(
        scenario,
        SimOptions {
            clock_running: Some(false),
            ..SimOptions::default()
        },
    )
    .await?;
    let registry = Registry::builder()
        .grants(AllowList::parse(&sim.base_url())?)
        .cache_dir(std::env::temp_dir().join("buildsnap-capture-bench-cache"))
        .build()
        .await?;
    let plugin = registry.get("circleci").expect("built-in plugin");
    let integration = Integration {
        org: None,
        base_url: Url::parse(&sim.base_url())?,
        settings: vec![],
        credential: Some(Credential::new(BENCH_TOKEN)),
    };
    let query = |sha: &str| CommitQuery {
        project: BENCH_PROJECT.into(),
        sha: sha.into(),
        branch: None,
        horizon: Horizon {
            max_pipelines: n as u32,
            not_before: None,
        },
    };

    println!("scenario: generate::large({n}, {seed}): {n} pipelines, {total_workflows} workflows");
    println!("collector listing everything (DevLake-style): {devlake} requests for any lookup\n");
    println!(
        "| target | position | builds | requests | lower bound | pipeline pages | latency (100 ms/request) | (pages + 2) x 100 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut targets: Vec<(String, Option<usize>)> = Vec::new();
    for pos in [0usize, 5, 45, 250, 1_000, n - 1] {
        if let Some(p) = pipelines.get(pos)
            && p.sha().is_some()
            && !p.workflows.is_empty()
        {
            targets.push((p.sha().unwrap(), Some(pos)));
        }
    }
    targets.push(("ffffffffffffffffffffffffffffffffffff0000".into(), None));
    for (sha, pos) in targets {
        let matching: Vec<&Pipeline> = pipelines
            .iter()
            .filter(|p| p.sha().as_deref() == Some(sha.as_str()))
            .collect();
        let oldest_pos = pipelines
            .iter()
            .rposition(|p| p.sha().as_deref() == Some(sha.as_str()));
        let lower_bound = match oldest_pos {
            Some(i) => {
                i / PAGE
                    + 1
                    + matching
                        .iter()
                        .map(|p| pages(p.workflows.len()))
                        .sum::<usize>()
                    + matching
                        .iter()
                        .flat_map(|p| &p.workflows)
                        .map(|w| pages(w.jobs.len()))
                        .sum::<usize>()
            }
            None => pages(n),
        };
        sim.clear_faults();
        sim.clear_requests();
        let found = plugin.builds_for_commit(&integration, &query(&sha)).await?;
        let requests = sim.requests().len();
        let page_count = found.report.pages_fetched as usize;
        sim.set_fault(FaultRule::always("/api/v2/*", Fault::Latency { ms: 100 }));
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            plugin.builds_for_commit(&integration, &query(&sha)).await?;
            times.push(t.elapsed());
        }
        let latency = median(times);
        let label = match pos {
            Some(_) => format!("`{}`", &sha[..10]),
            None => "unknown SHA".into(),
        };
        println!(
            "| {label} | {} | {} | {requests} | {lower_bound} | {page_count} | {} ms | {} ms |",
            pos.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            found.builds.len(),
            latency.as_millis(),
            (page_count + 2) * 100
        );
    }

    // End to end through the HTTP API: register a deploy, wait for `complete`.
    sim.clear_faults();
    let dir = tempfile::tempdir()?;
    let cache = std::env::temp_dir().join("buildsnap-capture-bench-cache");
    copy_dir(&cache, &dir.path().join("plugin-cache"))?;
    let settings = Settings::builder()
        .listen("127.0.0.1:0".parse()?)
        .data_dir(dir.path())
        .allow_hosts(sim.base_url())
        .admin_token(Some("bench-admin-token-0123456789".into()))
        .sync_interval(Duration::ZERO)
        .log("warn")
        .build()?;
    let server = buildsnap::serve::start(settings).await?;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let call = |m: reqwest::Method, path: &str, body: serde_json::Value| {
        http.request(m, format!("{base}{path}"))
            .bearer_auth("bench-admin-token-0123456789")
            .json(&body)
            .send()
    };
    call(
        reqwest::Method::POST,
        "/api/v1/orgs",
        json!({"slug": "bench", "name": "Bench"}),
    )
    .await?
    .error_for_status()?;
    call(
        reqwest::Method::POST,
        "/api/v1/orgs/bench/projects",
        json!({"slug": "app", "name": "App"}),
    )
    .await?
    .error_for_status()?;
    call(
        reqwest::Method::POST,
        "/api/v1/orgs/bench/projects/app/code-deployments",
        json!({"slug": "prod", "repo_url": "https://github.com/bench/app", "branch": "main"}),
    )
    .await?
    .error_for_status()?;
    call(
        reqwest::Method::PUT,
        "/api/v1/orgs/bench/integrations/circleci",
        json!({"token": BENCH_TOKEN, "base_url": sim.base_url()}),
    )
    .await?
    .error_for_status()?;
    call(
        reqwest::Method::PUT,
        "/api/v1/orgs/bench/integrations/circleci/default-build-server",
        json!({"project": "app"}),
    )
    .await?
    .error_for_status()?;
    sim.set_fault(FaultRule::always("/api/v2/*", Fault::Latency { ms: 100 }));
    println!("\nend to end (POST deploy → snapshot complete), 100 ms per CircleCI request:\n");
    println!("| target | position | pipeline pages | register → complete | (pages + 2) x 100 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for pos in [5usize, 45, 250] {
        let p = &pipelines[pos];
        let Some(sha) = p.sha() else { continue };
        // An hour after the pipeline: its builds existed and had finished.
        let created = buildsnap_store::ts::parse(&p.created_at.to_string()).expect("timestamp");
        let deployed_at = buildsnap_store::ts::format(created + Duration::from_secs(3600));
        let t = Instant::now();
        let d: serde_json::Value = call(
            reqwest::Method::POST,
            "/api/v1/orgs/bench/projects/app/deploys",
            json!({"sha": sha, "deployed_at": deployed_at, "environment": format!("e{pos}")}),
        )
        .await?
        .json()
        .await?;
        let id = d["id"].as_i64().expect("deploy id");
        let snap = loop {
            let s: serde_json::Value = http
                .get(format!("{base}/api/v1/orgs/bench/deploys/{id}/builds"))
                .bearer_auth("bench-admin-token-0123456789")
                .send()
                .await?
                .json()
                .await?;
            if s["state"] != "pending" {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let elapsed = t.elapsed();
        let page_count = pos / PAGE + 2;
        println!(
            "| `{}` | {pos} | {page_count} | {} ms ({}) | {} ms |",
            &sha[..10],
            elapsed.as_millis(),
            snap["state"].as_str().unwrap_or("?"),
            (page_count + 2) * 100
        );
    }
    server.stop().await?;
    sim.shutdown().await;
    Ok(())
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target: PathBuf = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}
