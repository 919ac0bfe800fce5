//! The commands a deploy pipeline calls: `buildsnap deploy` registers a
//! deploy (and with `--wait` prints its snapshot), `buildsnap gate` decides
//! from a commit's builds whether a deploy may go ahead. Both talk to a
//! running server over its HTTP API with an org token read from
//! `BUILDSNAP_TOKEN` only: a flag would put the token in the process list
//! and in CI logs that echo commands.

mod client;
mod deploy;
mod gate;

use std::time::Duration;

pub use client::{ApiClient, ClientError, TOKEN_ENV};
pub use deploy::{DeployRequest, STILL_PENDING, deploy};
pub use gate::{Verdict, gate, verdict};

use crate::cli::{DeployArgs, GateArgs};

/// `buildsnap deploy`: the exit code, or why it could not run.
pub async fn run_deploy(args: DeployArgs) -> anyhow::Result<u8> {
    let client = ApiClient::from_env(&args.server.server, &args.server.org)?;
    let req = DeployRequest {
        project: args.project,
        sha: args.sha,
        environment: args.environment,
        deployed_at: args.deployed_at,
        code_deployment: args.code_deployment,
        wait: args.wait,
        timeout: Duration::from_secs(args.timeout),
    };
    deploy(&client, &req, &mut std::io::stdout().lock()).await
}

/// `buildsnap gate`: the exit code, or why it could not run.
pub async fn run_gate(args: GateArgs) -> anyhow::Result<u8> {
    let client = ApiClient::from_env(&args.server.server, &args.server.org)?;
    let timeout = Duration::from_secs(args.timeout);
    gate(
        &client,
        &args.project,
        &args.sha,
        timeout,
        &mut std::io::stdout().lock(),
    )
    .await
}
