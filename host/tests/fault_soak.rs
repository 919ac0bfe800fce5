//! Fault soak: deploys registered against the CircleCI simulator answering
//! a fifth of all requests with a fault (429 with Retry-After, 5xx, stalls,
//! truncated JSON, reset connections), while the real `buildsnap` binary is
//! SIGKILLed and started again on the same data dir, over and over.
//!
//! Holds: every acknowledged deploy (answered 202) ends complete, with the
//! simulator's truth for its SHA; no request of the integration reaches the
//! simulator before a Retry-After it was given has elapsed; no deploy is
//! captured twice at once, nor completed twice.
//!
//! `fault_soak_ci` (60 deploys of 20 commits, one kill) runs with the other tests. The
//! full soak (1,000 deploys, a kill every 20 s) is ignored by default; run
//! it, and read its figures, with
//! `cargo test -p buildsnap --test fault_soak -- --ignored --nocapture`
//! (docs/reliability.md, "Fault soak").

#[path = "capture_support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use circleci_sim::auth::fingerprint;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Fault, FaultRule, RateLimitBody, RequestRecord, SimHandle, SimOptions};
use serde_json::{Value, json};
use support::*;

/// One soak's size.
struct Soak {
    deploys: usize,
    /// `None`: each deploy is a new commit, registered as the simulated
    /// clock reaches it. `Some(k)`: the deploys cycle through `k` commits
    /// (later captures of a commit may come from the index).
    commits: Option<usize>,
    /// Deploys registered per second.
    rate: f64,
    kill_every: Duration,
    max_kills: usize,
    /// Share of requests answered with a fault.
    faults: f64,
    retry_after_secs: u64,
    timeout: Duration,
}

/// Requests that arrived this soon after a 429 was sent were on the wire
/// before the client could have read it: they are counted apart, as in
/// flight, not as ignoring the Retry-After.
const IN_FLIGHT: Duration = Duration::from_millis(50);

/// Seconds between two pipelines, and from a pipeline's creation to its
/// deploy (its workflows stop a minute after they start).
const SPACING: u64 = 5;
const DEPLOY_AFTER: u64 = 65;

/// The commit of pipeline `n`.
fn sha_of(n: usize) -> String {
    stable_sha(&format!("soak:{n}"))
}

/// One pipeline per deploy, `SPACING` s apart from the clock start on, as a
/// team that deploys each commit soon after CI ran: the deploy of commit
/// `n` is registered once the simulated clock has moved to it, when a few
/// newer pipelines are there too. Every deploy is a new commit, so every
/// capture searches the provider.
fn scenario(pipelines: usize) -> circleci_sim::Scenario {
    let span = SPACING * pipelines as u64 + DEPLOY_AFTER;
    let start = real_now_minus(span + 600);
    let mut b = circleci_sim::Scenario::builder()
        .clock_start(&start)
        .user("alice", ALICE)
        .project(PROJECT);
    for n in 1..=pipelines {
        let status = |k: usize| {
            if (n + k).is_multiple_of(5) {
                "failed"
            } else {
                "success"
            }
        };
        let mut p = PipelineSpec::new(n as i64)
            .revision(&sha_of(n))
            .created_at(&plus(&start, (SPACING * n as u64) as i64));
        for w in 0..(1 + n % 2) {
            p = p.workflow(
                WorkflowSpec::new(&format!("wf{w}"))
                    .status(status(w))
                    .job(JobSpec::new("build").status("success"))
                    .job(JobSpec::new("test").status(status(w))),
            );
        }
        b = b.pipeline(p);
    }
    b.build().unwrap()
}

/// What a complete snapshot of `sha` must hold: build id → (status, jobs).
fn truth(sim: &SimHandle, sha: &str) -> HashMap<String, (String, Vec<(String, String)>)> {
    let project = &sim.scenario().projects[0];
    let pipeline = project
        .pipelines
        .iter()
        .find(|p| p.vcs.as_ref().is_some_and(|v| v.revision == sha))
        .expect("pipeline of sha");
    pipeline
        .workflows
        .iter()
        .map(|w| {
            let jobs = w
                .jobs
                .iter()
                .map(|j| (j.name.clone(), j.status.clone()))
                .collect();
            (w.id.clone(), (w.status.clone(), jobs))
        })
        .collect()
}

fn seen(snap: &Value) -> HashMap<String, (String, Vec<(String, String)>)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    snap["builds"]
        .as_array()
        .map(|builds| {
            builds
                .iter()
                .map(|b| {
                    let jobs = b["jobs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|j| (s(&j["name"]), s(&j["status"])))
                        .collect();
                    (s(&b["id"]), (s(&b["status"]), jobs))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn spawn(sim: &SimHandle, dir: &Path, port: u16, generation: usize) -> Child {
    let log = std::fs::File::create(dir.join(format!("gen-{generation}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_buildsnap"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args(["--allow-hosts", &sim.base_url(), "--admin-token", ADMIN])
        .args(["--sync-interval", "0", "--capture-attempts", "30"])
        .args(["--log-format", "json", "--log", "info"])
        .env_remove("BUILDSNAP_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn buildsnap")
}

async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let url = format!("http://127.0.0.1:{port}/healthz");
    while !reqwest::get(&url)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "buildsnap did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The fault mix: five kinds, each on an equal share of all requests (a
/// rule sees only what the rules before it spared, hence the division).
fn set_faults(sim: &SimHandle, share: f64, retry_after_secs: u64) {
    let kinds = [
        Fault::RateLimit {
            retry_after_secs,
            body: RateLimitBody::Json,
            http_date: false,
        },
        Fault::ServerError {
            status: 502,
            body: None,
        },
        Fault::Hang { ms: Some(1_500) },
        Fault::Truncated,
        Fault::Reset,
    ];
    let each = share / kinds.len() as f64;
    sim.seed_faults(18);
    for (i, fault) in kinds.into_iter().enumerate() {
        let p = each / (1.0 - each * i as f64);
        sim.set_fault(FaultRule::sometimes("/api/*", p, fault));
    }
}

/// POSTs the deploy until the server acknowledges it (a down server, or a
/// kill before the answer, is tried again); its id once answered 202.
async fn register(api: &Api, sha: &str, at: &str) -> i64 {
    let body = json!({"sha": sha, "deployed_at": at, "environment": "production"});
    loop {
        let sent = api
            .http
            .post(format!(
                "{}/api/v1/orgs/acme/projects/api/deploys",
                api.base
            ))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await;
        if let Ok(r) = sent
            && r.status() == 202
            && let Ok(v) = r.json::<Value>().await
        {
            return v["id"].as_i64().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The snapshot, or `None` while the server is down.
async fn snapshot(api: &Api, id: i64) -> Option<Value> {
    let url = format!("{}/api/v1/orgs/acme/deploys/{id}/builds", api.base);
    let r = api.http.get(url).bearer_auth(ADMIN).send().await.ok()?;
    r.json().await.ok()
}

/// Requests of `client` that arrived before a Retry-After it was given had
/// elapsed: (in flight when the 429 was sent, the latest of those after
/// the 429, the others).
fn early_requests(log: &[RequestRecord], client: &Option<String>) -> (usize, Duration, usize) {
    let (mut in_flight, mut latest, mut early) = (0, Duration::ZERO, 0);
    for r in log
        .iter()
        .filter(|r| r.status == Some(429) && &r.client == client)
    {
        let (Some(sent), Some(secs)) = (r.responded_at, r.retry_after) else {
            continue;
        };
        let until = sent + Duration::from_secs(secs);
        for o in log.iter().filter(|o| &o.client == client && o.seq != r.seq) {
            if o.received_at > sent && o.received_at < until {
                if o.received_at <= sent + IN_FLIGHT {
                    in_flight += 1;
                    latest = latest.max(o.received_at - sent);
                } else {
                    early += 1;
                    eprintln!(
                        "early: #{} {} {:?} after 429 #{}",
                        o.seq,
                        o.path,
                        o.received_at - sent,
                        r.seq
                    );
                }
            }
        }
    }
    (in_flight, latest, early)
}

/// From the servers' logs: (attempts started while the same deploy's
/// attempt was running, deploys completed more than once, attempts).
fn overlaps(dir: &Path, generations: usize) -> (usize, usize, usize) {
    let (mut twice_at_once, mut attempts) = (0, 0);
    let mut completed: HashMap<i64, usize> = HashMap::new();
    for g in 0..generations {
        let text = std::fs::read_to_string(dir.join(format!("gen-{g}.log"))).unwrap();
        // A killed generation's open attempts end with it.
        let mut running: HashSet<i64> = HashSet::new();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(deploy) = v["deploy"].as_i64() else {
                continue;
            };
            match v["message"].as_str() {
                Some("capture started") => {
                    attempts += 1;
                    if !running.insert(deploy) {
                        twice_at_once += 1;
                    }
                }
                Some("capture finished") => {
                    running.remove(&deploy);
                    if v["outcome"] == "complete" {
                        *completed.entry(deploy).or_default() += 1;
                    }
                }
                _ => {}
            }
        }
    }
    let completed_twice = completed.values().filter(|n| **n > 1).count();
    (twice_at_once, completed_twice, attempts)
}

async fn soak(cfg: Soak) {
    let started = Instant::now();
    let pipelines = cfg.commits.unwrap_or(cfg.deploys);
    let sim = Arc::new(start_sim(scenario(pipelines), SimOptions::default()).await);
    let start = sim_start(&sim);
    let dir = data_dir(&sim).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = spawn(&sim, dir.path(), port, 0);
    wait_healthy(port).await;
    let api = Api::new(format!("127.0.0.1:{port}").parse().unwrap());
    api.setup(&sim, ALICE, Some(PROJECT)).await;
    set_faults(&sim, cfg.faults, cfg.retry_after_secs);

    // Deploys go in at a steady rate while the killer works, each when
    // the simulated clock has reached its time.
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(i64, String)>::new()));
    let producer = {
        let (api, acked, sim, start) = (api.clone(), acked.clone(), sim.clone(), start.clone());
        let (gap, deploys, commits) = (
            Duration::from_secs_f64(1.0 / cfg.rate),
            cfg.deploys,
            cfg.commits,
        );
        tokio::spawn(async move {
            let last = commits.unwrap_or(0) as u64;
            sim.clock()
                .advance(Duration::from_secs(DEPLOY_AFTER + SPACING * last));
            for i in 0..deploys {
                let n = match commits {
                    None => {
                        sim.clock().advance(Duration::from_secs(SPACING));
                        i + 1
                    }
                    Some(k) => 1 + (i * 7919) % k,
                };
                let step = if commits.is_some() {
                    last
                } else {
                    i as u64 + 1
                };
                let at = plus(&start, (SPACING * step + DEPLOY_AFTER) as i64);
                let sha = sha_of(n);
                let id = register(&api, &sha, &at).await;
                acked.lock().unwrap().push((id, sha));
                tokio::time::sleep(gap).await;
            }
        })
    };
    let mut generation = 0;
    let mut next_kill = Instant::now() + cfg.kill_every;
    let mut pending: Vec<(i64, String)> = Vec::new();
    let mut done: Vec<(i64, String, Value)> = Vec::new();
    loop {
        if generation < cfg.max_kills && Instant::now() >= next_kill {
            server.kill().expect("SIGKILL");
            server.wait().unwrap();
            generation += 1;
            server = spawn(&sim, dir.path(), port, generation);
            wait_healthy(port).await;
            next_kill = Instant::now() + cfg.kill_every;
        }
        pending.extend(acked.lock().unwrap().drain(..));
        let mut still = Vec::new();
        for (id, sha) in pending.drain(..) {
            match snapshot(&api, id).await {
                Some(s) if s["state"] != "pending" => done.push((id, sha, s)),
                _ => still.push((id, sha)),
            }
        }
        pending = still;
        if producer.is_finished() && pending.is_empty() && acked.lock().unwrap().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < cfg.timeout,
            "{} deploys still pending after {:?}: {:?}",
            pending.len(),
            cfg.timeout,
            &pending[..pending.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let elapsed = started.elapsed();
    let metrics = api.metrics().await;
    server.kill().unwrap();
    server.wait().unwrap();

    let wrong: Vec<_> = done
        .iter()
        .filter(|(_, sha, s)| s["state"] != "complete" || seen(s) != truth(&sim, sha))
        .map(|(id, _, s)| (id, s.to_string()))
        .collect();
    let log = sim.requests();
    let alice = Some(fingerprint(ALICE));
    let (in_flight, latest, early) = early_requests(&log, &alice);
    let (twice_at_once, completed_twice, attempts) = overlaps(dir.path(), generation + 1);
    let mut by_fault: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in &log {
        *by_fault.entry(r.fault.unwrap_or("none")).or_default() += 1;
    }
    eprintln!(
        "fault soak: {} deploys acknowledged, {} complete and right, {} wrong; {} kills; {:.1} s; \
         {} provider requests {by_fault:?}; {} capture attempts; requests before a Retry-After \
         elapsed: {early} (+{in_flight} in flight, at most {latest:?} after the 429); captured twice at once: \
         {twice_at_once}; completed twice: {completed_twice}; last server's pauses: {}",
        done.len(),
        done.len() - wrong.len(),
        wrong.len(),
        generation,
        elapsed.as_secs_f64(),
        log.len(),
        attempts,
        metric(
            &metrics,
            "buildsnap_provider_pauses_total{provider=\"circleci\"}"
        ),
    );
    assert_eq!(done.len(), cfg.deploys);
    assert!(wrong.is_empty(), "{:#?}", &wrong[..wrong.len().min(3)]);
    assert_eq!(generation, cfg.max_kills.min(generation));
    assert!(generation >= 1, "the server was never killed");
    assert!(by_fault.len() >= 5, "fault kinds seen: {by_fault:?}");
    assert_eq!(early, 0, "requests before Retry-After elapsed");
    assert_eq!((twice_at_once, completed_twice), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_soak_ci() {
    soak(Soak {
        deploys: 60,
        commits: Some(20),
        rate: 15.0,
        kill_every: Duration::from_secs(3),
        max_kills: 1,
        faults: 0.2,
        retry_after_secs: 1,
        timeout: Duration::from_secs(300),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: the full fault soak (docs/reliability.md)"]
async fn fault_soak_full() {
    soak(Soak {
        deploys: 1_000,
        commits: Some(100),
        rate: 5.0,
        kill_every: Duration::from_secs(20),
        max_kills: usize::MAX,
        faults: 0.2,
        retry_after_secs: 1,
        timeout: Duration::from_secs(3_600),
    })
    .await;
}
