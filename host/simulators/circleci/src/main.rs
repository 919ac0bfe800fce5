//! `circleci-sim` binary: serve a scenario on 127.0.0.1 until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use circleci_sim::{Scenario, SimOptions, Simulator, WebhookConfig};
use clap::Parser;

/// CircleCI API simulator (v2 build endpoints, v1.1 /projects, faults, webhooks).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Scenario JSON file.
    #[arg(long, conflicts_with = "generate")]
    scenario: Option<PathBuf>,
    /// Load Apache DevLake raw_tables CSVs from this directory instead.
    #[arg(long, conflicts_with_all = ["scenario", "generate"])]
    devlake: Option<PathBuf>,
    /// Generate a scenario with this many pipelines instead (token `bench-token`).
    #[arg(long)]
    generate: Option<usize>,
    /// Seed for --generate.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the scenario as JSON to this file and exit (useful with --generate).
    #[arg(long)]
    write_scenario: Option<PathBuf>,
    /// Listen address; only loopback addresses are accepted.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Simulated start time (RFC 3339); defaults to the scenario's or now.
    #[arg(long)]
    clock_start: Option<String>,
    /// Keep the clock frozen (move it with POST /_sim/clock/advance).
    #[arg(long)]
    frozen_clock: bool,
    /// Deliver webhooks to this URL (http://127.0.0.1:...).
    #[arg(long)]
    webhook_url: Option<String>,
    /// Signing secret for --webhook-url.
    #[arg(long, env = "CIRCLECI_SIM_WEBHOOK_SECRET", default_value = "secret")]
    webhook_secret: String,
    /// Extra duplicate deliveries per webhook event.
    #[arg(long, default_value_t = 0)]
    webhook_duplicates: u32,
    /// Accept the deprecated ?circle-token= query parameter.
    #[arg(long)]
    allow_query_token: bool,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        // Display, not Debug: the message is meant for a person.
        eprintln!("circleci-sim: {e}");
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
    let scenario = match (&args.scenario, &args.devlake, args.generate) {
        (Some(path), _, _) => Scenario::from_file(path)?,
        (_, Some(dir), _) => Scenario::from_devlake_raw(dir)?,
        (_, _, Some(n)) => circleci_sim::generate::large(n, args.seed),
        _ => return Err("one of --scenario, --devlake or --generate is required".into()),
    };
    if let Some(out) = &args.write_scenario {
        std::fs::write(out, scenario.to_json_pretty())?;
        println!("wrote {}", out.display());
        return Ok(());
    }
    let mut opts = SimOptions {
        listen: args.listen,
        allow_query_token: args.allow_query_token,
        ..SimOptions::default()
    };
    if let Some(t) = &args.clock_start {
        opts.clock_start = Some(chrono::DateTime::parse_from_rfc3339(t)?.to_utc());
    }
    // The binary is for people watching things happen, so the clock runs unless told otherwise.
    opts.clock_running = Some(!args.frozen_clock);
    if let Some(url) = &args.webhook_url {
        let mut c = WebhookConfig::new(url.clone(), args.webhook_secret.clone());
        c.duplicates = args.webhook_duplicates;
        opts.webhooks.push(c);
    }
    let sim = Simulator::start(scenario, opts).await?;
    println!(
        "circleci-sim listening on {} (admin: {}/_sim/...)",
        sim.base_url(),
        sim.base_url()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
