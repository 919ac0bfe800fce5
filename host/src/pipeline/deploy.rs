//! `buildsnap deploy`: register a deploy from a pipeline; with `--wait`,
//! print its snapshot once the capture is done.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{ApiClient, percent};

/// What to register, and whether to wait for the snapshot.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Project slug.
    pub project: String,
    /// The deployed commit (7 to 40 hex characters).
    pub sha: String,
    /// Environment (the server's default when absent).
    pub environment: Option<String>,
    /// RFC 3339 deploy time (now when absent).
    pub deployed_at: Option<String>,
    /// Code deployment slug (needed when the project has several).
    pub code_deployment: Option<String>,
    /// Wait for the snapshot and print it.
    pub wait: bool,
    /// How long to wait at most.
    pub timeout: Duration,
}

/// Exit code: the snapshot was still pending when `--timeout` ran out.
pub const STILL_PENDING: u8 = 2;

/// Registers the deploy and prints it (or, with `wait`, its snapshot once
/// it is no longer pending) as one line of JSON on `out`; progress goes to
/// stderr. The exit code: 0 done, [`STILL_PENDING`] on a timeout.
pub async fn deploy(
    client: &ApiClient,
    req: &DeployRequest,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let mut body = json!({ "sha": req.sha });
    for (key, value) in [
        ("environment", &req.environment),
        ("deployed_at", &req.deployed_at),
        ("code_deployment", &req.code_deployment),
    ] {
        if let Some(v) = value {
            body[key] = Value::String(v.clone());
        }
    }
    let path = format!("/projects/{}/deploys", percent(&req.project));
    let registered = client.post(&path, &body).await?;
    let id = registered["id"].as_i64().unwrap_or_default();
    let state = registered["builds"]["state"].as_str().unwrap_or("?");
    eprintln!(
        "buildsnap: registered deploy {id} of {} at {} ({state})",
        req.project,
        registered["sha"].as_str().unwrap_or(&req.sha)
    );
    if !req.wait {
        writeln!(out, "{registered}")?;
        return Ok(0);
    }
    let deadline = Instant::now() + req.timeout;
    let mut pause = Duration::from_millis(250);
    let mut snapshot = registered["builds"].clone();
    loop {
        if snapshot["state"] != "pending" {
            eprintln!(
                "buildsnap: snapshot {}: summary {}",
                snapshot["state"].as_str().unwrap_or("?"),
                snapshot["summary"].as_str().unwrap_or("?")
            );
            writeln!(out, "{snapshot}")?;
            return Ok(0);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            eprintln!(
                "buildsnap: the snapshot of deploy {id} is still pending after {} s",
                req.timeout.as_secs()
            );
            writeln!(out, "{snapshot}")?;
            return Ok(STILL_PENDING);
        }
        tokio::time::sleep(pause.min(left)).await;
        // Quick at first (most captures take a second), then every 5 s.
        pause = (pause * 2).min(Duration::from_secs(5));
        snapshot = client
            .get(&format!("/deploys/{id}/builds"), Duration::from_secs(30))
            .await?;
    }
}
