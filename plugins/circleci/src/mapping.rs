//! CircleCI pipeline + workflow + jobs → the contract's `build`.
//!
//! A workflow is a build; a re-run is another workflow with the same name
//! in the same pipeline and so another build, with the next `attempt`
//! (CircleCI gives it a fresh id and no number, so attempts are counted
//! here: see [`lineage`]). A setup workflow (`tag: setup`, dynamic config)
//! is the `parent-id` of the workflows it continued into. The pipeline
//! supplies the commit, branch and tag, which workflows do not carry.

use crate::api;
use crate::links::{self, Links};
use crate::slug;
use crate::status::{job_status, workflow_status};
use crate::time::rfc3339_millis;
use crate::wit::{Build, Job, JobKind};

/// Where a workflow stands among its pipeline's workflows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// 1 for the first workflow of its name in the pipeline, 2 for its
    /// first re-run, and so on.
    pub attempt: u32,
    /// The setup workflow this one was continued from, if any.
    pub parent_id: Option<String>,
}

impl Lineage {
    /// A workflow seen without its siblings (a webhook event): nothing to
    /// count against. The host keeps a higher attempt it already knows.
    pub const ALONE: Lineage = Lineage {
        attempt: 1,
        parent_id: None,
    };
}

/// The tag CircleCI gives a dynamic-config setup workflow.
pub const SETUP_TAG: &str = "setup";

/// The lineage of every workflow of one pipeline, by workflow id.
///
/// Attempts are counted per workflow name, oldest first by `created_at`
/// (ties, and unreadable times, by id, so the count is the same whatever
/// order the API listed them in). A workflow's parent is the newest setup
/// workflow created no later than it; a setup workflow has none.
//
// Vectors, not maps: a pipeline has a handful of workflows, and each map
// type is code the component carries (docs/performance.md, component size).
pub fn lineage(workflows: &[api::Workflow]) -> Lineages {
    let created = |w: &api::Workflow| w.created_at.as_deref().and_then(rfc3339_millis);
    let mut order: Vec<&api::Workflow> = workflows.iter().collect();
    order.sort_by(|a, b| (created(a), &a.id).cmp(&(created(b), &b.id)));
    let mut per_name: Vec<(&str, u32)> = Vec::new();
    let mut setup: Option<&api::Workflow> = None;
    let mut out = Vec::with_capacity(order.len());
    for wf in order {
        let name = wf.name.as_deref().unwrap_or_default();
        let attempt = match per_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                per_name.push((name, 1));
                1
            }
        };
        let is_setup = wf.tag.as_deref() == Some(SETUP_TAG);
        let parent_id = (!is_setup).then(|| setup.map(|s| s.id.clone())).flatten();
        if is_setup {
            setup = Some(wf);
        }
        out.push((wf.id.clone(), Lineage { attempt, parent_id }));
    }
    Lineages(out)
}

/// Workflow ids with their lineage, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lineages(pub Vec<(String, Lineage)>);

impl Lineages {
    /// The lineage of workflow `id`; [`Lineage::ALONE`] for one not
    /// counted (the last entry wins should an id repeat).
    pub fn of(&self, id: &str) -> Lineage {
        self.0
            .iter()
            .rev()
            .find(|(w, _)| w == id)
            .map_or(Lineage::ALONE, |(_, l)| l.clone())
    }

    /// Adds another pipeline's lineages.
    pub fn extend(&mut self, other: Lineages) {
        self.0.extend(other.0);
    }
}

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
    lineage: &Lineage,
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
        attempt: lineage.attempt,
        parent_id: lineage.parent_id.clone(),
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
        kind: job_kind(j.kind.as_deref()),
        // CircleCI re-runs whole workflows (a new build), never a job
        // inside one.
        attempt: 1,
        status: job_status(&provider_status),
        provider_status,
        started_at: j.started_at,
        stopped_at: j.stopped_at,
        url,
    }
}

/// A job's `type` word as the contract's kind.
pub fn job_kind(word: Option<&str>) -> JobKind {
    match word {
        Some("approval") => JobKind::Approval,
        Some("build") | None => JobKind::Build,
        Some(other) => JobKind::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(id: &str, name: &str, created_at: &str, tag: Option<&str>) -> api::Workflow {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "created_at": created_at, "tag": tag
        }))
        .unwrap()
    }

    #[test]
    fn re_runs_count_per_name_and_setup_workflows_are_parents() {
        // Listed newest first, as the API does; a setup workflow, re-run
        // once, continued into `build` (failed, re-run) and `deploy`.
        let workflows = [
            wf("deploy", "deploy", "2024-05-01T11:30:00Z", None),
            wf("build-2", "build", "2024-05-01T11:25:00Z", None),
            wf("setup-2", "setup", "2024-05-01T11:24:00Z", Some("setup")),
            wf("build-1", "build", "2024-05-01T11:20:00Z", None),
            wf("setup-1", "setup", "2024-05-01T11:19:00Z", Some("setup")),
        ];
        let l = lineage(&workflows);
        let of = |id: &str| {
            let l = l.of(id);
            (l.attempt, l.parent_id)
        };
        assert_eq!(of("setup-1"), (1, None));
        assert_eq!(of("setup-2"), (2, None), "a setup re-run has no parent");
        assert_eq!(of("build-1"), (1, Some("setup-1".into())));
        assert_eq!(
            of("build-2"),
            (2, Some("setup-2".into())),
            "the newest setup before it"
        );
        assert_eq!(of("deploy"), (1, Some("setup-2".into())));
    }

    #[test]
    fn equal_times_count_by_id_whatever_the_listing_order() {
        let a = [
            wf("b", "build", "2024-05-01T11:20:00Z", None),
            wf("a", "build", "2024-05-01T11:20:00Z", None),
        ];
        let mut b = a.clone();
        b.reverse();
        for id in ["a", "b"] {
            assert_eq!(lineage(&a).of(id), lineage(&b).of(id));
        }
        assert_eq!(lineage(&a).of("a").attempt, 1);
    }

    #[test]
    fn job_kinds() {
        assert_eq!(job_kind(Some("approval")), JobKind::Approval);
        assert_eq!(job_kind(Some("build")), JobKind::Build);
        assert_eq!(job_kind(None), JobKind::Build);
        assert_eq!(job_kind(Some("pause")), JobKind::Other("pause".into()));
    }
}
