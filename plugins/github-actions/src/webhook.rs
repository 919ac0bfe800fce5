//! `parse-webhook`: `workflow_run` and `workflow_job` deliveries.
//!
//! The host verifies `X-Hub-Signature-256` itself (the descriptor declares
//! `hmac-sha256`) and de-duplicates on `X-GitHub-Delivery`; this module only
//! maps a verified body. A delivery the host says it did not verify is
//! refused: this plugin declares no scheme that leaves verification to it.

use crate::mapping::{build, build_id, job};
use crate::model::{WorkflowJobEvent, WorkflowRunEvent};
use crate::wit::{CallContext, JobUpdate, WebhookError, WebhookEvent, WebhookRequest};

/// The event type header GitHub sends with every delivery.
const EVENT_HEADER: &str = "x-github-event";

fn header<'a>(req: &'a WebhookRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WebhookError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| WebhookError::Malformed(format!("the body is not UTF-8: {e}")))?;
    serde_json::from_str(text)
        .map_err(|e| WebhookError::Malformed(format!("not a GitHub event body: {e}")))
}

/// Map one delivery.
pub fn parse(_ctx: &CallContext, req: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
    if !req.verified {
        return Err(WebhookError::BadSignature(
            "the host did not verify this delivery's X-Hub-Signature-256".into(),
        ));
    }
    let kind = header(req, EVENT_HEADER)
        .ok_or_else(|| WebhookError::Malformed("no X-GitHub-Event header".into()))?
        .to_owned();
    match kind.as_str() {
        "workflow_run" => {
            let ev: WorkflowRunEvent = parse_body(&req.body)?;
            let run = ev.workflow_run;
            let id = req.delivery_id.clone().unwrap_or_else(|| {
                format!(
                    "workflow_run:{}:{}:{}",
                    build_id(run.id, run.run_attempt.unwrap_or(1)),
                    ev.action,
                    run.updated_at
                )
            });
            // The payload carries no jobs: the build says its job list is
            // not the truth, and the host keeps the jobs it holds.
            Ok(WebhookEvent {
                id,
                kind,
                project: Some(ev.repository.full_name.to_ascii_lowercase()),
                builds: vec![build(run, None)],
                jobs: vec![],
            })
        }
        "workflow_job" => {
            let ev: WorkflowJobEvent = parse_body(&req.body)?;
            let j = ev.workflow_job;
            let build_id = build_id(j.run_id, j.run_attempt.unwrap_or(1).max(1));
            let id = req.delivery_id.clone().unwrap_or_else(|| {
                format!(
                    "workflow_job:{}:{}:{}",
                    j.id,
                    ev.action,
                    j.completed_at
                        .as_deref()
                        .or(j.started_at.as_deref())
                        .unwrap_or("")
                )
            });
            let sha = j.head_sha.to_ascii_lowercase();
            Ok(WebhookEvent {
                id,
                kind,
                project: Some(ev.repository.full_name.to_ascii_lowercase()),
                builds: vec![],
                jobs: vec![JobUpdate {
                    build_id,
                    sha,
                    job: job(j),
                }],
            })
        }
        other => Err(WebhookError::Unsupported(format!(
            "GitHub event {other:?} is not one buildsnap uses (workflow_run, workflow_job)"
        ))),
    }
}
