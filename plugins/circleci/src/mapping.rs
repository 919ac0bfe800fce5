//! CircleCI pipeline + workflow + jobs → the contract's `build`.
//!
//! A workflow is a build; a re-run is another workflow with the same name
//! in the same pipeline and so another build. The pipeline supplies the
//! commit, branch and tag, which workflows do not carry.

use crate::api;
use crate::links::{self, Links};
use crate::slug;
use crate::status::{job_status, workflow_status};
use crate::wit::{Build, Job};

/// What a build takes from its pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineInfo {
    /// The pipeline's UUID.
    pub id: String,
    /// Its number within the project.
    pub number: Option<u64>,
    /// Full commit SHA, lower-case.
    pub sha: String,
    /// The branch built, if any.
    pub branch: Option<String>,
    /// The tag built, if any.
    pub tag: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: Option<String>,
}

impl PipelineInfo {
    /// None when the pipeline names no commit (nothing to tie builds to).
    pub fn from_api(p: &api::Pipeline) -> Option<PipelineInfo> {
        Some(PipelineInfo {
            id: p.id.clone(),
            number: p.number,
            sha: p.sha()?,
            branch: p.branch(),
            tag: p.tag(),
            created_at: p.created_at.clone(),
        })
    }
}

/// The build for one workflow. `project` is the slug asked about, used for
/// links when the workflow does not name its own.
pub fn build(
    links: &Links,
    project: &str,
    pipeline: &PipelineInfo,
    wf: &api::Workflow,
    jobs: Vec<api::Job>,
    jobs_complete: bool,
) -> Build {
    let slug = wf
        .project_slug
        .as_deref()
        .map(slug::normalize)
        .unwrap_or_else(|| project.to_string());
    let number = wf.pipeline_number.or(pipeline.number);
    let provider_status = wf.status.clone().unwrap_or_default();
    let url = number.map(|n| links.workflow(&slug, n, &wf.id));
    Build {
        id: wf.id.clone(),
        name: wf.name.clone().unwrap_or_default(),
        status: workflow_status(&provider_status),
        provider_status,
        // Jobs are moved, not cloned: one allocation per string, not two.
        jobs: jobs.into_iter().map(|j| job(url.as_deref(), j)).collect(),
        url,
        pipeline_id: pipeline.id.clone(),
        pipeline_number: number,
        sha: pipeline.sha.clone(),
        branch: pipeline.branch.clone(),
        tag: pipeline.tag.clone(),
        // A workflow always has created_at in practice; the pipeline's is
        // the closest honest stand-in if one ever does not.
        created_at: wf
            .created_at
            .clone()
            .or_else(|| pipeline.created_at.clone())
            .unwrap_or_default(),
        stopped_at: wf.stopped_at.clone(),
        jobs_complete,
    }
}

/// One job of the workflow whose page is `workflow_url`. An approval job
/// has no number and so no page of its own; its link is the workflow page,
/// where it is approved.
pub fn job(workflow_url: Option<&str>, j: api::Job) -> Job {
    let provider_status = j.status.unwrap_or_default();
    let url = workflow_url.map(|w| match j.job_number {
        Some(job_number) => links::job_of(w, job_number),
        None => w.to_string(),
    });
    Job {
        id: j.id,
        name: j.name.unwrap_or_default(),
        number: j.job_number,
        kind: j.kind.unwrap_or_default(),
        status: job_status(&provider_status),
        provider_status,
        started_at: j.started_at,
        stopped_at: j.stopped_at,
        url,
    }
}
