//! `github-sim` binary: serve a scenario on 127.0.0.1 until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use github_sim::{
    RateLimitConfig, Scenario, SimOptions, Simulator, WebhookConfig, cases, generate,
};

/// GitHub REST API simulator (Actions runs, attempts, jobs; rate limits; webhooks).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Scenario JSON file.
    #[arg(long, conflicts_with_all = ["demo", "generate"])]
    scenario: Option<PathBuf>,
    /// Serve the built-in demo scenario (every provider test case).
    #[arg(long, conflicts_with = "generate")]
    demo: bool,
    /// Generate a repository with this many runs instead (token `bench-token`).
    #[arg(long)]
    generate: Option<usize>,
    /// Seed for --generate and for probabilistic faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the scenario as JSON to this file and exit.
    #[arg(long)]
    write_scenario: Option<PathBuf>,
    /// Listen address; only loopback addresses are accepted.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Serve under /api/v3 like GitHub Enterprise Server.
    #[arg(long)]
    enterprise: bool,
    /// Simulated start time (RFC 3339); defaults to the scenario's or now.
    #[arg(long)]
    clock_start: Option<String>,
    /// Keep the clock frozen (move it with POST /_sim/clock/advance).
    #[arg(long)]
    frozen_clock: bool,
    /// Primary rate limit: requests per window per user.
    #[arg(long, default_value_t = 5000)]
    rate_limit: u32,
    /// Primary rate-limit window in seconds.
    #[arg(long, default_value_t = 3600)]
    rate_limit_window: u64,
    /// Status of over-budget answers (403 or 429).
    #[arg(long, default_value_t = 403)]
    rate_limit_status: u16,
    /// Deliver webhooks to this URL (http://127.0.0.1:...).
    #[arg(long)]
    webhook_url: Option<String>,
    /// Signing secret for --webhook-url.
    #[arg(
        long,
        env = "GITHUB_SIM_WEBHOOK_SECRET",
        default_value = "secret",
        hide_env_values = true
    )]
    webhook_secret: String,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        // Display, not Debug: the message is meant for a person.
        eprintln!("github-sim: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let scenario = match (&args.scenario, args.demo, args.generate) {
        (Some(path), _, _) => Scenario::from_file(path)?,
        (_, true, _) => cases::demo()?,
        (_, _, Some(n)) => generate::large(n, args.seed),
        _ => return Err("one of --scenario, --demo or --generate is required".into()),
    };
    if let Some(out) = &args.write_scenario {
        std::fs::write(out, scenario.to_json_pretty() + "\n")?;
        println!("wrote {}", out.display());
        return Ok(());
    }
    let mut opts = SimOptions {
        listen: args.listen,
        enterprise: args.enterprise,
        seed: args.seed,
        rate_limit: RateLimitConfig {
            limit: args.rate_limit,
            window_secs: args.rate_limit_window,
            exhausted_status: args.rate_limit_status,
            ..RateLimitConfig::default()
        },
        ..SimOptions::default()
    };
    if let Some(t) = &args.clock_start {
        opts.clock_start = Some(chrono::DateTime::parse_from_rfc3339(t)?.to_utc());
    }
    // The binary is for people watching things happen, so the clock runs unless told otherwise.
    opts.clock_running = Some(!args.frozen_clock);
    if let Some(url) = &args.webhook_url {
        opts.webhooks
            .push(WebhookConfig::new(url.clone(), args.webhook_secret.clone()));
    }
    let sim = Simulator::start(scenario, opts).await?;
    println!(
        "github-sim listening on {} (control: {}/_sim/...)",
        sim.base_url(),
        sim.root_url()
    );
    for a in &sim.scenario().accounts {
        for t in &a.tokens {
            // Scenario tokens are test fixtures, printed so a person can use them.
            println!("token for {}: {t}", a.login);
        }
    }
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
