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
use circleci_sim::{SimOptions, Simulator};
use serde_json::{Value, json};

use crate::cli::DemoArgs;
use crate::settings::Settings;

mod circleci;
mod github;

use circleci::{BARE_PROJECT, PIPELINE_EVERY, PROJECTS, Planned, pick, scenario, shift};
use github::{GITHUB_PROJECT, enable_github};

/// The org the demo creates.
pub const DEMO_ORG: &str = "demo";
/// The simulator's personal API token the integration is enabled with.
pub const SIM_TOKEN: &str = "demo-token-alice";

pub(super) struct Api {
    c: reqwest::Client,
    base: String,
}

impl Api {
    pub(super) async fn call(
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
