//! `buildsnap demo`: everything needed to see buildsnap work, in one process.
//!
//! Starts the CircleCI simulator in-process with a generated scenario (two
//! repositories whose pipelines appear every 30 s and run, fail, wait for an
//! approval or get canceled as the simulator's real-time clock moves on) and
//! the GitHub simulator with its demo cases (re-run attempts, an environment
//! review, a run failing while in progress), then a buildsnap server on a
//! fresh data dir that may reach both (`--allow-hosts` = their origins).
//! Through the server's own HTTP API it creates an org, an org token,
//! enables CircleCI and GitHub Actions with the simulators' tokens, adds
//! projects with code deployments, makes CircleCI the build server of two
//! and GitHub Actions of a third, deploys each GitHub case once, and from
//! then on registers a deploy of a recent CircleCI commit every few
//! seconds. It prints the URL of the web page and the org slug and token to
//! sign in with, and runs until Ctrl-C or SIGTERM.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use buildsnap_store::ts::{self, OffsetDateTime};
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Scenario, SimOptions, Simulator};
use serde_json::{Value, json};

use crate::cli::DemoArgs;
use crate::settings::Settings;

/// The org the demo creates.
pub const DEMO_ORG: &str = "demo";
/// The simulator's personal API token the integration is enabled with.
pub const SIM_TOKEN: &str = "demo-token-alice";
/// A new pipeline per repository every this many seconds.
const PIPELINE_EVERY: i64 = 30;
/// Pipelines are generated this far ahead (the demo keeps going after that,
/// deploying the newest commits there are).
const HORIZON_SECS: i64 = 8 * 3600;
/// Finished pipelines before the clock start, so there is history at once.
const HISTORY: i64 = 10;

/// A buildsnap project backed by a simulated CircleCI project.
struct DemoProject {
    slug: &'static str,
    name: &'static str,
    circleci: &'static str,
    repo_url: &'static str,
    /// Seconds by which its pipelines are staggered against the other's.
    phase: i64,
}

const PROJECTS: [DemoProject; 2] = [
    DemoProject {
        slug: "api",
        name: "API",
        circleci: "gh/acme/api",
        repo_url: "https://github.com/acme/api",
        phase: 0,
    },
    DemoProject {
        slug: "web",
        name: "Web app",
        circleci: "gh/acme/web",
        repo_url: "https://github.com/acme/web",
        phase: 15,
    },
];

/// The project GitHub Actions builds: (slug, name, repository URL).
const GITHUB_PROJECT: (&str, &str, &str) = ("site", "Site", "https://github.com/acme/api");

/// A project without a code deployment, to show why it can't get a build server yet.
const BARE_PROJECT: (&str, &str) = ("billing", "Billing");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failed,
    /// Tests pass, then an approval job holds the workflow for a while.
    Approval,
    Canceled,
}

const OUTCOMES: [Outcome; 8] = [
    Outcome::Success,
    Outcome::Success,
    Outcome::Failed,
    Outcome::Success,
    Outcome::Approval,
    Outcome::Success,
    Outcome::Canceled,
    Outcome::Success,
];

/// One generated pipeline.
#[derive(Debug, Clone)]
pub struct Planned {
    project: usize,
    number: i64,
    /// Seconds from the clock start to its creation.
    at: i64,
    sha: String,
}

fn shift(start: OffsetDateTime, secs: i64) -> OffsetDateTime {
    if secs >= 0 {
        start + Duration::from_secs(secs as u64)
    } else {
        start - Duration::from_secs(secs.unsigned_abs())
    }
}

/// The workflows of one pipeline created `t` seconds after the clock start.
/// Pipelines created before the start are already finished.
fn workflows(mut p: PipelineSpec, t: i64, outcome: Outcome) -> PipelineSpec {
    let past = t < 0;
    let job = |name: &str, status: &str, steps: &[(i64, &str)]| {
        let mut j = JobSpec::new(name).status(status);
        for (dt, s) in steps {
            j = j.then_at(t + dt, s);
        }
        j
    };
    let flow = |name: &str, status: &str, steps: &[(i64, &str)]| {
        let mut w = WorkflowSpec::new(name).status(status);
        for (dt, s) in steps {
            w = w.then_at(t + dt, s);
        }
        w
    };
    if past {
        let (w, test, image) = match outcome {
            Outcome::Success | Outcome::Approval => ("success", "success", "success"),
            Outcome::Failed => ("failed", "failed", "success"),
            Outcome::Canceled => ("canceled", "canceled", "canceled"),
        };
        p = p.workflow(
            flow("build", w, &[])
                .job(job("lint", "success", &[]))
                .job(job("test", test, &[]))
                .job(job("build-image", image, &[])),
        );
        if outcome == Outcome::Approval {
            p = p.workflow(
                flow("deploy", "success", &[])
                    .job(JobSpec::approval("hold").status("success"))
                    .job(job("deploy", "success", &[])),
            );
        }
        return p;
    }
    let lint = job("lint", "running", &[(25, "success")]);
    match outcome {
        Outcome::Success => p.workflow(
            flow("build", "running", &[(95, "success")])
                .job(lint)
                .job(job("test", "running", &[(90, "success")]))
                .job(job(
                    "build-image",
                    "queued",
                    &[(25, "running"), (95, "success")],
                )),
        ),
        Outcome::Failed => p.workflow(
            flow("build", "running", &[(55, "failing"), (95, "failed")])
                .job(lint)
                .job(job("test", "running", &[(55, "failed")]))
                .job(job(
                    "build-image",
                    "queued",
                    &[(25, "running"), (95, "success")],
                )),
        ),
        Outcome::Canceled => p.workflow(
            flow("build", "running", &[(40, "canceled")])
                .job(lint)
                .job(job("test", "running", &[(40, "canceled")]))
                .job(job(
                    "build-image",
                    "queued",
                    &[(25, "running"), (40, "canceled")],
                )),
        ),
        Outcome::Approval => p.workflow(
            flow(
                "build-and-deploy",
                "running",
                &[(95, "on_hold"), (180, "running"), (220, "success")],
            )
            .job(lint)
            .job(job("test", "running", &[(90, "success")]))
            .job(job(
                "build-image",
                "queued",
                &[(25, "running"), (95, "success")],
            ))
            .job({
                let mut j = JobSpec::approval("hold").status("blocked");
                j = j.then_at(t + 95, "on_hold").then_at(t + 180, "success");
                j
            })
            .job(job(
                "deploy",
                "blocked",
                &[(180, "running"), (220, "success")],
            )),
        ),
    }
}

/// The generated scenario (clock starting at `start`, following real time)
/// and its pipelines in creation order.
pub fn scenario(start: OffsetDateTime) -> anyhow::Result<(Scenario, Vec<Planned>)> {
    let mut b = Scenario::builder()
        .clock_start(&ts::format(start))
        .clock_running(true)
        .user("alice", SIM_TOKEN);
    let mut planned = Vec::new();
    for (pi, proj) in PROJECTS.iter().enumerate() {
        b = b.project(proj.circleci);
        let mut number = 0;
        for k in -HISTORY..(HORIZON_SECS / PIPELINE_EVERY) {
            number += 1;
            let at = k * PIPELINE_EVERY + proj.phase;
            let sha = stable_sha(&format!("buildsnap-demo/{}/{number}", proj.circleci));
            let outcome = OUTCOMES[((k + HISTORY) as usize + pi * 3) % OUTCOMES.len()];
            let spec = PipelineSpec::new(number)
                .branch("main")
                .revision(&sha)
                .created_at(&ts::format(shift(start, at)));
            b = b.pipeline(workflows(spec, at, outcome));
            planned.push(Planned {
                project: pi,
                number,
                at,
                sha,
            });
        }
    }
    let s = b.build().context("building the demo scenario")?;
    planned.sort_by_key(|p| p.at);
    Ok((s, planned))
}

/// The pipeline to deploy on tick `i`, `elapsed` seconds after the clock
/// start: alternately each project; `staging` gets its newest commit (often
/// still building), `production` one that had four minutes to finish.
fn pick(planned: &[Planned], i: u64, elapsed: i64) -> Option<(&Planned, &'static str)> {
    let project = (i % PROJECTS.len() as u64) as usize;
    let (env, age) = if (i / PROJECTS.len() as u64).is_multiple_of(2) {
        // a few seconds old, so its workflows have started
        ("staging", 5)
    } else {
        ("production", 240)
    };
    planned
        .iter()
        .rev()
        .find(|p| p.project == project && p.at <= elapsed - age)
        .map(|p| (p, env))
}

struct Api {
    c: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let r = self
            .c
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// Runs the demo until Ctrl-C / SIGTERM.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (data_dir, temporary) = match &args.data_dir {
        Some(d) => {
            if !is_empty_dir(d) {
                bail!(
                    "--data-dir {} is not empty; the demo sets up a new org and needs a fresh directory",
                    d.display()
                );
            }
            (d.clone(), false)
        }
        None => {
            let d = std::env::temp_dir().join(format!(
                "buildsnap-demo-{}-{}",
                std::process::id(),
                random_hex(4)
            ));
            (d, true)
        }
    };
    buildsnap_store::create_data_dir(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let result = run_in(&args, &data_dir).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

async fn run_in(args: &DemoArgs, data_dir: &Path) -> anyhow::Result<()> {
    let start = ts::now()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| ts::now());
    let (scenario, planned) = scenario(start)?;
    let sim = Simulator::start(scenario, SimOptions::default())
        .await
        .context("starting the CircleCI simulator")?;
    let sim_base = sim.base_url();
    let github = match github_sim::Simulator::start(
        github_sim::cases::demo().context("the GitHub demo scenario")?,
        github_sim::SimOptions::default(),
    )
    .await
    {
        Ok(g) => g,
        Err(e) => {
            sim.shutdown().await;
            return Err(anyhow::Error::new(e).context("starting the GitHub simulator"));
        }
    };
    let github_base = github.base_url();

    let admin = random_hex(24);
    let listen = args.listen.to_string();
    let settings = Settings::builder()
        .listen(args.listen)
        .data_dir(data_dir)
        .allow_hosts(format!("{sim_base},{github_base}"))
        .admin_token(Some(admin.clone()))
        .log(&args.log)
        .build()
        .context("building the server settings")?;
    let server = match crate::serve::start(settings).await {
        Ok(s) => s,
        Err(e) => {
            sim.shutdown().await;
            github.shutdown().await;
            return Err(e.context(format!(
                "starting buildsnap on {listen} (use --listen to pick another address)"
            )));
        }
    };
    let base = format!("http://{}", server.addr);
    let outcome = drive(args, &base, &admin, &sim, &github, start, &planned).await;
    server.stop().await?;
    sim.shutdown().await;
    github.shutdown().await;
    outcome
}

async fn drive(
    args: &DemoArgs,
    base: &str,
    admin: &str,
    sim: &circleci_sim::SimHandle,
    github: &github_sim::SimHandle,
    start: OffsetDateTime,
    planned: &[Planned],
) -> anyhow::Result<()> {
    use reqwest::Method;
    let sim_base = sim.base_url();
    let api = Api {
        c: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        base: base.to_string(),
    };
    api.call(
        Method::POST,
        "/api/v1/orgs",
        admin,
        json!({"slug": DEMO_ORG, "name": "Demo Inc."}),
    )
    .await?;
    let t = api
        .call(
            Method::POST,
            &format!("/api/v1/orgs/{DEMO_ORG}/tokens"),
            admin,
            json!({"name": "demo web page", "scope": "all"}),
        )
        .await?;
    let token = t["token"]
        .as_str()
        .context("token in the answer")?
        .to_string();
    let org = format!("/api/v1/orgs/{DEMO_ORG}");
    api.call(
        Method::PUT,
        &format!("{org}/integrations/circleci"),
        &token,
        json!({"token": SIM_TOKEN, "base_url": sim_base}),
    )
    .await
    .context("enabling CircleCI with the simulator")?;
    for p in &PROJECTS {
        api.call(
            Method::POST,
            &format!("{org}/projects"),
            &token,
            json!({"slug": p.slug, "name": p.name}),
        )
        .await?;
        api.call(
            Method::POST,
            &format!("{org}/projects/{}/code-deployments", p.slug),
            &token,
            json!({"slug": "production", "repo_url": p.repo_url, "branch": "main", "build_project": p.circleci}),
        )
        .await?;
        api.call(
            Method::PUT,
            &format!("{org}/integrations/circleci/default-build-server"),
            &token,
            json!({"project": p.slug}),
        )
        .await?;
    }
    enable_github(&api, &org, &token, github).await?;
    api.call(
        Method::POST,
        &format!("{org}/projects"),
        &token,
        json!({"slug": BARE_PROJECT.0, "name": BARE_PROJECT.1}),
    )
    .await?;

    // History: a production deploy of some finished commits, two minutes after each was pushed.
    for p in planned
        .iter()
        .filter(|p| p.at + 120 < 0 && (p.number % 3 == 0))
    {
        let at = shift(start, p.at + 120);
        api.call(
            Method::POST,
            &format!("{org}/projects/{}/deploys", PROJECTS[p.project].slug),
            &token,
            json!({"sha": p.sha, "environment": "production", "deployed_at": ts::format(at)}),
        )
        .await?;
    }

    println!();
    println!("buildsnap demo is running.");
    println!("  Open:       {base}/");
    println!("  Org slug:   {DEMO_ORG}");
    println!("  Org token:  {token}");
    println!("  Admin token (API only): {admin}");
    println!(
        "CircleCI simulator at {sim_base} (token {SIM_TOKEN}); a new pipeline per repository every {PIPELINE_EVERY} s."
    );
    println!(
        "GitHub simulator at {} (token {}); project {} deploys each of its cases once.",
        github.base_url(),
        github_sim::cases::DEMO_TOKEN,
        GITHUB_PROJECT.0
    );
    println!(
        "Registering a deploy every {} s. Ctrl-C stops.",
        args.deploy_every
    );
    println!();

    let mut tick = tokio::time::interval(Duration::from_secs(args.deploy_every.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut i: u64 = 0;
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        let now = sim.clock().now().timestamp();
        let elapsed = now - start.unix_timestamp();
        let Some((p, env)) = pick(planned, i, elapsed) else {
            i += 1;
            continue;
        };
        i += 1;
        let deployed_at = ts::format(shift(start, elapsed));
        let r = api
            .call(
                Method::POST,
                &format!("{org}/projects/{}/deploys", PROJECTS[p.project].slug),
                &token,
                json!({"sha": p.sha, "environment": env, "deployed_at": deployed_at}),
            )
            .await;
        match r {
            Ok(d) => println!(
                "deploy #{}: {} -> {env}, commit {} (CircleCI pipeline {}), {}",
                d["id"],
                PROJECTS[p.project].slug,
                &p.sha[..7],
                p.number,
                d["builds"]["state"].as_str().unwrap_or("?"),
            ),
            Err(e) => eprintln!("buildsnap demo: registering a deploy failed: {e:#}"),
        }
    }
    println!("stopping");
    Ok(())
}

/// GitHub Actions as the build server of [`GITHUB_PROJECT`], and one
/// deploy of each GitHub case (two attempts, an environment review, failing
/// while running, canceled, queued), registered now.
async fn enable_github(
    api: &Api,
    org: &str,
    token: &str,
    github: &github_sim::SimHandle,
) -> anyhow::Result<()> {
    use github_sim::cases::ids;
    use reqwest::Method;
    let (slug, name, repo_url) = GITHUB_PROJECT;
    api.call(
        Method::PUT,
        &format!("{org}/integrations/github-actions"),
        token,
        json!({"token": github_sim::cases::DEMO_TOKEN, "base_url": github.base_url()}),
    )
    .await
    .context("enabling GitHub Actions with the simulator")?;
    api.call(
        Method::POST,
        &format!("{org}/projects"),
        token,
        json!({"slug": slug, "name": name}),
    )
    .await?;
    api.call(
        Method::POST,
        &format!("{org}/projects/{slug}/code-deployments"),
        token,
        json!({"slug": "production", "repo_url": repo_url, "branch": "main"}),
    )
    .await?;
    api.call(
        Method::PUT,
        &format!("{org}/integrations/github-actions/default-build-server"),
        token,
        json!({"project": slug}),
    )
    .await?;
    for run in [
        ids::TWO_ATTEMPTS,
        ids::WAITING,
        ids::FAILING,
        ids::CANCELLED,
        ids::QUEUED,
    ] {
        let Some(sha) = github
            .scenario()
            .repos
            .iter()
            .flat_map(|r| &r.runs)
            .find(|r| r.id == run)
            .map(|r| r.head_sha.clone())
        else {
            continue;
        };
        api.call(
            Method::POST,
            &format!("{org}/projects/{slug}/deploys"),
            token,
            json!({"sha": sha, "environment": "production"}),
        )
        .await?;
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_builds_and_deploy_picks_follow_the_clock() {
        let start = ts::parse("2026-01-01T12:00:00Z").unwrap();
        let (s, planned) = scenario(start).unwrap();
        assert_eq!(s.projects.len(), 2);
        assert_eq!(s.users[0].tokens, vec![SIM_TOKEN.to_string()]);
        // Per project: history plus the horizon.
        let per = HISTORY + HORIZON_SECS / PIPELINE_EVERY;
        assert_eq!(planned.len() as i64, 2 * per);
        assert!(planned.windows(2).all(|w| w[0].at <= w[1].at));
        // Distinct commits.
        let shas: std::collections::BTreeSet<_> = planned.iter().map(|p| &p.sha).collect();
        assert_eq!(shas.len(), planned.len());
        // Every outcome occurs in the first few minutes of each project.
        let first = &s.projects[0].pipelines;
        let statuses: std::collections::BTreeSet<_> = first
            .iter()
            .flat_map(|p| p.workflows.iter().map(|w| w.status.clone()))
            .collect();
        for st in ["success", "failed", "canceled", "running"] {
            assert!(statuses.contains(st), "no {st} workflow in {statuses:?}");
        }
        // Tick 0 is api/staging at its newest visible commit; tick 1 web/staging.
        let (p, env) = pick(&planned, 0, 100).unwrap();
        assert_eq!((p.project, env), (0, "staging"));
        assert_eq!(p.at, 90);
        let (p, env) = pick(&planned, 1, 100).unwrap();
        assert_eq!((p.project, env), (1, "staging"));
        assert_eq!(p.at, 75);
        // Ticks 2 and 3 deploy to production what had four minutes to finish.
        let (p, env) = pick(&planned, 2, 100).unwrap();
        assert_eq!(env, "production");
        assert!(p.at <= 100 - 240);
    }
}
