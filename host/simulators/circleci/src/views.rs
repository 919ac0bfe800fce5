//! Response bodies: model objects as CircleCI serves them at a given instant.
//!
//! Derived fields (`project_slug`, `pipeline_id`, `pipeline_number`) are filled
//! in here, and time-dependent fields come from [`crate::timeline`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::model::{Extra, Job, Org, Pipeline, PipelineError, Project, Trigger, Vcs, Workflow};
use crate::slug;
use crate::timeline;
use crate::timestamp::Timestamp;

#[derive(Serialize)]
struct PipelineView<'a> {
    id: &'a str,
    errors: &'a [PipelineError],
    project_slug: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<&'a Timestamp>,
    number: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger_parameters: Option<&'a Value>,
    state: &'a str,
    created_at: &'a Timestamp,
    trigger: &'a Trigger,
    #[serde(skip_serializing_if = "Option::is_none")]
    vcs: Option<&'a Vcs>,
    #[serde(flatten)]
    extra: &'a Extra,
}

/// `GET /pipeline/{id}` body and pipeline list item.
pub fn pipeline(project: &Project, p: &Pipeline, now: DateTime<Utc>) -> Value {
    serde_json::to_value(PipelineView {
        id: &p.id,
        errors: &p.errors,
        project_slug: &project.slug,
        updated_at: p.updated_at.as_ref(),
        number: p.number,
        trigger_parameters: p.trigger_parameters.as_ref(),
        state: timeline::pipeline_state(p, now),
        created_at: &p.created_at,
        trigger: &p.trigger,
        vcs: p.vcs.as_ref(),
        extra: &p.extra,
    })
    .expect("pipeline serialises")
}

#[derive(Serialize)]
struct WorkflowView<'a> {
    pipeline_id: &'a str,
    id: &'a str,
    name: &'a str,
    project_slug: &'a str,
    status: &'a str,
    started_by: &'a str,
    pipeline_number: i64,
    created_at: &'a Timestamp,
    /// Always present; `null` while running.
    stopped_at: Option<Timestamp>,
    #[serde(flatten)]
    extra: &'a Extra,
}

/// `GET /workflow/{id}` body and workflow list item.
pub fn workflow(project: &Project, p: &Pipeline, w: &Workflow, now: DateTime<Utc>) -> Value {
    let state = timeline::workflow_now(w, now);
    serde_json::to_value(WorkflowView {
        pipeline_id: &p.id,
        id: &w.id,
        name: &w.name,
        project_slug: &project.slug,
        status: state.status,
        started_by: &w.started_by,
        pipeline_number: p.number,
        created_at: &w.created_at,
        stopped_at: state.stopped_at,
        extra: &w.extra,
    })
    .expect("workflow serialises")
}

#[derive(Serialize)]
struct JobView<'a> {
    dependencies: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    job_number: Option<i64>,
    id: &'a str,
    /// Always present; `null` while waiting.
    started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<&'a Timestamp>,
    name: &'a str,
    project_slug: &'a str,
    status: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    /// Absent (not null) while running: a real-world quirk.
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_at: Option<Timestamp>,
    #[serde(flatten)]
    extra: &'a Extra,
}

/// Job list item.
pub fn job(project: &Project, j: &Job, now: DateTime<Utc>) -> Value {
    let state = timeline::job_now(j, now);
    serde_json::to_value(JobView {
        dependencies: &j.dependencies,
        job_number: j.job_number,
        id: &j.id,
        started_at: state.started_at,
        created_at: j.created_at.as_ref(),
        name: &j.name,
        project_slug: &project.slug,
        status: state.status,
        kind: &j.kind,
        stopped_at: state.stopped_at,
        extra: &j.extra,
    })
    .expect("job serialises")
}

/// `GET /project/{slug}` body.
pub fn project(p: &Project, org: &Org) -> Value {
    let mut v = json!({
        "slug": p.slug,
        "organization_name": org.name,
        "organization_id": org.id,
        "name": p.name,
        "id": p.id,
        "organization_slug": org.slug,
        "vcs_info": {
            "vcs_url": p.vcs_url,
            "default_branch": p.default_branch,
            "provider": p.provider.clone().unwrap_or_else(|| slug::provider(&p.slug).to_owned()),
        }
    });
    let obj = v.as_object_mut().expect("object");
    for (k, val) in &p.extra {
        obj.insert(k.clone(), val.clone());
    }
    v
}

/// One `/me/collaborations` entry. Real CircleCI spells the key `vcs_type`
/// although the spec says `vcs-type` (circleci-api.md §4.8).
pub fn collaboration(o: &Org) -> Value {
    json!({
        "vcs_type": o.vcs_type.clone().unwrap_or_else(|| slug::vcs_type(&o.slug).to_owned()),
        "slug": o.slug,
        "name": o.name,
        "id": o.id,
        // The spec requires a string here, so scenarios without one get a stable placeholder.
        "avatar_url": o.avatar_url.clone().unwrap_or_else(|| format!("https://avatars.githubusercontent.com/{}", o.name)),
    })
}

/// `{items, next_page_token}` wrapper.
pub fn list(items: Vec<Value>, next_page_token: Option<String>) -> Value {
    json!({ "items": items, "next_page_token": next_page_token })
}
