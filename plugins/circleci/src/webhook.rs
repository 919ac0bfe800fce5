//! `parse-webhook`: map CircleCI's outbound webhooks.
//!
//! `circleci-signature` holds comma-separated `version=value` pairs; `v1`
//! is the lower-case hex HMAC-SHA256 of the raw body keyed with the signing
//! secret, and is the only version CircleCI sends today. The descriptor
//! declares exactly that (`hmac-sha256`, prefix `v1=`, comma-separated),
//! so the host verifies deliveries and the secrets never enter the plugin;
//! [`verify_signature`] is the same check for a host that hands the
//! secrets over (`verified = false`). There is no signed timestamp and no
//! delivery id header: the host de-duplicates on the event `id`.
//!
//! A `workflow-completed` event is a whole build (without jobs, which it
//! does not carry). A `job-completed` event is a single job update of the
//! workflow it names.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sha2::Sha256;

use crate::api::{Job, Pipeline, Workflow};
use crate::items::Item;
use crate::links::Links;
use crate::mapping::{self, Lineage, PipelineInfo};
use crate::slug;
use crate::status::workflow_status;
use crate::wit::{CallContext, JobUpdate, WebhookError, WebhookEvent, WebhookRequest};

/// The signature header (the host lower-cases header names; compare
/// without case anyway).
pub const SIGNATURE_HEADER: &str = "circleci-signature";

/// Check `req`'s signature: nothing to do when the host verified it,
/// otherwise against each of `req.secrets` (any one verifying is enough,
/// as while a secret is rotated).
pub fn verify_signature(req: &WebhookRequest) -> Result<(), WebhookError> {
    if req.verified {
        return Ok(());
    }
    if req.secrets.iter().all(|s| s.is_empty()) {
        return Err(WebhookError::BadSignature(
            "no webhook secret is configured for this integration".into(),
        ));
    }
    let header = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| WebhookError::BadSignature(format!("missing {SIGNATURE_HEADER} header")))?;
    let candidates: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(version, _)| version.trim() == "v1")
        .filter_map(|(_, hex)| decode_hex(hex.trim()))
        .collect();
    if candidates.is_empty() {
        return Err(WebhookError::BadSignature(format!(
            "{SIGNATURE_HEADER} carries no v1 signature"
        )));
    }
    for secret in req.secrets.iter().filter(|s| !s.is_empty()) {
        // The body is hashed once per secret; each candidate checks a copy.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(&req.body);
        for candidate in &candidates {
            // verify_slice compares in constant time.
            if mac.clone().verify_slice(candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err(WebhookError::BadSignature(
        "signature does not match the body and secret".into(),
    ))
}

/// Lower-case hex of HMAC-SHA256(`secret`, `body`), as CircleCI signs.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Strict hex: pairs of `[0-9a-fA-F]` and nothing else (`from_str_radix`
/// alone would take a leading `+`, so `+7` would pass for `07`).
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    project: Option<EventProject>,
    // Kept as raw text and parsed from `&str` like API answers
    // (`items::from_body`): one deserializer per record type keeps the
    // component small.
    #[serde(default)]
    workflow: Option<Box<RawValue>>,
    #[serde(default)]
    pipeline: Option<Box<RawValue>>,
    #[serde(default)]
    job: Option<Box<RawValue>>,
}

/// A part of the event as `T`; a missing part reads as `null`.
fn part<T: DeserializeOwned>(raw: Option<&RawValue>) -> serde_json::Result<T> {
    serde_json::from_str(raw.map_or("null", RawValue::get))
}

/// The one workflow field the event has beyond the API's workflow record.
#[derive(Deserialize)]
struct EventLink {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct EventProject {
    #[serde(default)]
    slug: Option<String>,
}

/// Verify the signature, then map a `workflow-completed` or `job-completed`
/// event to the build it is about.
///
/// A workflow event is its build, with the workflow's final status and no
/// jobs (`jobs-complete = false`) and as its first attempt
/// ([`Lineage::ALONE`]: the event names no re-runs; the host keeps the
/// attempt a search counted). A job event carries one job and no workflow
/// status: it is a job update of its workflow's build. An event whose
/// pipeline names no commit has neither.
pub fn parse(ctx: &CallContext, req: &WebhookRequest) -> Result<WebhookEvent, WebhookError> {
    verify_signature(req)?;
    let event: Event = crate::items::from_body(&req.body)
        .map_err(|e| WebhookError::Malformed(format!("not a CircleCI webhook body: {e}")))?;
    if event.kind != "workflow-completed" && event.kind != "job-completed" {
        return Err(WebhookError::Unsupported(format!(
            "event type {:?}",
            event.kind
        )));
    }
    let project = event
        .project
        .and_then(|p| p.slug)
        .map(|s| slug::normalize(&s))
        .filter(|s| !s.is_empty());
    let malformed = |what: &str, e: &dyn std::fmt::Display| {
        WebhookError::Malformed(format!("{} event: {what}: {e}", event.kind))
    };

    let workflow: Workflow =
        part(event.workflow.as_deref()).map_err(|e| malformed("workflow", &e))?;
    let pipeline: Pipeline =
        part(event.pipeline.as_deref()).map_err(|e| malformed("pipeline", &e))?;
    let jobs: Vec<Job> = match &event.job {
        Some(job) if event.kind == "job-completed" => {
            // Read like a job list's item: jobs have only the one reader.
            match serde_json::from_str::<Item<Job>>(job.get()) {
                Ok(Item::Read(job)) => vec![job],
                Ok(Item::Malformed(e)) => return Err(malformed("job", &e)),
                Err(e) => return Err(malformed("job", &e)),
            }
        }
        None if event.kind == "job-completed" => {
            return Err(WebhookError::Malformed(
                "job-completed event without a job".into(),
            ));
        }
        _ => Vec::new(),
    };

    let mut event_out = WebhookEvent {
        // CircleCI sends no delivery id header; the event id is the key.
        id: req.delivery_id.clone().unwrap_or_else(|| event.id.clone()),
        kind: event.kind.clone(),
        project: project.clone(),
        builds: Vec::new(),
        jobs: Vec::new(),
    };
    let Some(info) = PipelineInfo::from_api(&pipeline) else {
        crate::logging::warn(&format!(
            "webhook event {} names no commit; nothing to update",
            event.id
        ));
        return Ok(event_out);
    };
    let links = Links::for_base(&ctx.base_url);
    let project_slug = project.unwrap_or_default();
    let mut build = mapping::build(
        &links,
        &project_slug,
        &info,
        &workflow,
        &Lineage::ALONE,
        jobs,
        false,
    );
    // The event's own link wins when it has one (real events sent "").
    if let Some(url) = event
        .workflow
        .as_deref()
        .and_then(|w| part::<EventLink>(Some(w)).ok())
        .and_then(|l| l.url)
        && !url.is_empty()
    {
        build.url = Some(url);
    }
    if event.kind == "job-completed" {
        if let Some(job) = build.jobs.pop() {
            event_out.jobs.push(JobUpdate {
                build_id: build.id,
                sha: build.sha,
                job,
            });
        }
    } else {
        build.status = workflow_status(&build.provider_status);
        event_out.builds.push(build);
    }
    Ok(event_out)
}
