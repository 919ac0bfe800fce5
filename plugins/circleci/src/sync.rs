//! `sync`: incremental refresh of a project's recent builds.
//!
//! The cursor is `<created_at>|<pipeline id>` of the newest pipeline seen,
//! opaque to the host. A sync reads the pipeline list newest first and
//! stops at the cursor's pipeline, at the first pipeline older than it, or
//! at the horizon (whichever comes first); every pipeline above that point
//! is new, and its builds are returned in full. The builds in `refresh`
//! (those the host holds as not final) are re-read with
//! `GET /api/v2/workflow/{id}`, their pipelines (for commit and branch) and
//! their job lists, all in batches; their pipelines' workflow lists too, to
//! count re-runs (`attempt`) and find setup workflows (`parent-id`). A
//! refreshed workflow that CircleCI no longer has (404) is left out, with a
//! log line.
//!
//! Every request of a sync is conditional: a sync reads the same URLs
//! again and again (the first pipeline page above all), and where CircleCI
//! sends an `ETag` the host revalidates its copy instead of taking a new
//! body.

use std::collections::{HashMap, HashSet};

use crate::api::{Pipeline, Workflow};
use crate::client::{Api, encode_component, host_error, ok_or_error, parse_json, with_query};
use crate::fetch::{
    Unbuilt, attach_jobs, builds_for_pipelines, describe, read_lists, workflows_path,
};
use crate::items::{Page, from_body, keep_read};
use crate::links::Links;
use crate::logging::warn;
use crate::mapping::{self, Lineages, PipelineInfo};
use crate::search::pipelines_path;
use crate::slug;
use crate::time::rfc3339_millis;
use crate::transport::Transport;
use crate::wit::{CallContext, ProviderError, SyncPage, SyncRequest};

/// Where the previous sync stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// `created_at` of the newest pipeline seen.
    pub created_at: String,
    /// ID of that pipeline (ties on `created_at`).
    pub pipeline_id: String,
}

impl Cursor {
    /// The cursor's text form.
    pub fn encode(&self) -> String {
        format!("{}|{}", self.created_at, self.pipeline_id)
    }

    /// None for text this plugin did not write.
    pub fn decode(s: &str) -> Option<Cursor> {
        let (created_at, pipeline_id) = s.rsplit_once('|')?;
        rfc3339_millis(created_at)?;
        (!pipeline_id.is_empty()).then(|| Cursor {
            created_at: created_at.to_string(),
            pipeline_id: pipeline_id.to_string(),
        })
    }
}

/// New builds since `req.cursor` and the refreshed `req.refresh` builds.
pub fn sync(
    transport: &dyn Transport,
    ctx: &CallContext,
    req: &SyncRequest,
) -> Result<SyncPage, ProviderError> {
    // Refused here, before any request: it goes into the URL path.
    let project = slug::parse(&req.project).map_err(|e| ProviderError::NotFound(e.to_string()))?;
    let api = Api::new(transport, ctx);
    let links = Links::for_base(api.base());
    let cursor = req.cursor.as_deref().and_then(|c| {
        let cursor = Cursor::decode(c);
        if cursor.is_none() {
            warn(&format!(
                "ignoring a sync cursor this plugin did not write: {c:?}"
            ));
        }
        cursor
    });

    let (new_pipelines, newest) = new_pipelines(&api, &project, req, cursor.as_ref())?;
    let mut builds = builds_for_pipelines(&api, &links, &project, &new_pipelines, true)?;

    let known: HashSet<String> = builds.iter().map(|b| b.id.clone()).collect();
    let mut wanted: Vec<&String> = Vec::new();
    for id in &req.refresh {
        if !known.contains(id) && !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    builds.extend(refresh(&api, &links, &project, &wanted, &new_pipelines)?);

    let next_cursor = newest
        .map(|c| c.encode())
        .or_else(|| cursor.map(|c| c.encode()));
    Ok(SyncPage {
        builds,
        next_cursor,
    })
}

/// Pipelines above the cursor (down to the horizon), and the newest one seen.
fn new_pipelines(
    api: &Api,
    project: &str,
    req: &SyncRequest,
    cursor: Option<&Cursor>,
) -> Result<(Vec<PipelineInfo>, Option<Cursor>), ProviderError> {
    let path = pipelines_path(project);
    let cursor_ms = cursor.and_then(|c| rfc3339_millis(&c.created_at));
    let not_before = req.horizon.not_before.as_deref().and_then(rfc3339_millis);
    let mut found = Vec::new();
    let mut newest: Option<Cursor> = None;
    let mut looked_at = 0u32;
    let mut token: Option<String> = None;
    let mut seen_tokens = HashSet::new();
    'paging: loop {
        if looked_at >= req.horizon.max_pipelines {
            break;
        }
        let r = api.get_conditional(&with_query(&path, &[("page-token", token.as_deref())]));
        let page: Page<Pipeline> = parse_json(&api.send(&r)?.body, &r.url)?;
        let empty = page.items.is_empty();
        for p in keep_read(page.items, "pipeline", &r.url) {
            if looked_at >= req.horizon.max_pipelines {
                break 'paging;
            }
            let created = p.created_at.as_deref().and_then(rfc3339_millis);
            if cursor.is_some_and(|c| c.pipeline_id == p.id) {
                break 'paging;
            }
            if let (Some(created), Some(limit)) = (created, cursor_ms.max(not_before))
                && created < limit
            {
                break 'paging;
            }
            looked_at += 1;
            if newest.is_none()
                && let Some(created_at) = p.created_at.clone().filter(|_| created.is_some())
            {
                newest = Some(Cursor {
                    created_at,
                    pipeline_id: p.id.clone(),
                });
            }
            if let Some(info) = PipelineInfo::from_api(&p) {
                found.push(info);
            }
        }
        match page.next_page_token.filter(|t| !t.is_empty()) {
            Some(_) if empty => break,
            Some(t) if seen_tokens.insert(t.clone()) => token = Some(t),
            Some(_) => {
                warn(&format!("{path} repeated a page token; stopped"));
                break;
            }
            None => break,
        }
    }
    Ok((found, newest))
}

/// Re-read the given workflows with their pipelines and jobs.
fn refresh(
    api: &Api,
    links: &Links,
    project: &str,
    ids: &[&String],
    known_pipelines: &[PipelineInfo],
) -> Result<Vec<crate::wit::Build>, ProviderError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let reqs: Vec<_> = ids
        .iter()
        .map(|id| api.get_conditional(&format!("/api/v2/workflow/{}", encode_component(id))))
        .collect();
    let mut workflows = Vec::new();
    for ((id, r), answer) in ids.iter().zip(&reqs).zip(api.send_batch(&reqs)) {
        match answer.map_err(|e| host_error(&e)).and_then(ok_or_error) {
            Ok(resp) => match from_body::<Workflow>(&resp.body) {
                Ok(wf) => workflows.push(wf),
                Err(e) => warn(&format!(
                    "skipped workflow {id}: unexpected JSON from {}: {e}",
                    r.url
                )),
            },
            Err(ProviderError::NotFound(m)) => {
                warn(&format!("workflow {id} is gone ({m}); not refreshed"))
            }
            Err(e) => return Err(e),
        }
    }

    // Their pipelines: the commit and branch live there.
    let mut pipelines: HashMap<String, PipelineInfo> = known_pipelines
        .iter()
        .map(|p| (p.id.clone(), p.clone()))
        .collect();
    let mut missing: Vec<String> = Vec::new();
    for wf in &workflows {
        if let Some(pid) = &wf.pipeline_id
            && !pipelines.contains_key(pid)
            && !missing.contains(pid)
        {
            missing.push(pid.clone());
        }
    }
    let reqs: Vec<_> = missing
        .iter()
        .map(|id| api.get_conditional(&format!("/api/v2/pipeline/{}", encode_component(id))))
        .collect();
    for ((id, r), answer) in missing.iter().zip(&reqs).zip(api.send_batch(&reqs)) {
        match answer.map_err(|e| host_error(&e)).and_then(ok_or_error) {
            Ok(resp) => match from_body::<Pipeline>(&resp.body) {
                Ok(p) => match PipelineInfo::from_api(&p) {
                    Some(info) => {
                        pipelines.insert(id.clone(), info);
                    }
                    None => warn(&format!(
                        "pipeline {id} names no commit; its workflows are not refreshed"
                    )),
                },
                Err(e) => warn(&format!(
                    "skipped pipeline {id}: unexpected JSON from {}: {e}",
                    r.url
                )),
            },
            Err(ProviderError::NotFound(m)) => warn(&format!("pipeline {id} is gone ({m})")),
            Err(e) => {
                warn(&format!("could not read pipeline {id}: {}", describe(&e)));
                return Err(e);
            }
        }
    }

    let lineage = lineage_of(api, &workflows)?;
    let unbuilt = workflows
        .into_iter()
        .filter_map(|wf| {
            let info = wf
                .pipeline_id
                .as_ref()
                .and_then(|pid| pipelines.get(pid))
                .cloned();
            if info.is_none() {
                warn(&format!(
                    "workflow {} has no readable pipeline; not refreshed",
                    wf.id
                ));
            }
            Some(Unbuilt {
                pipeline: info?,
                lineage: lineage.of(&wf.id),
                workflow: wf,
            })
        })
        .collect();
    attach_jobs(api, links, project, unbuilt, true)
}

/// The lineage of `workflows` among their pipelines' workflows: one
/// (conditional) workflow list per pipeline. A list that cannot be read
/// leaves its workflows at [`Lineage::ALONE`], which the host does not let
/// lower an attempt it knows; an error that fails every request (401, a
/// pause) fails the call.
fn lineage_of(api: &Api, workflows: &[Workflow]) -> Result<Lineages, ProviderError> {
    let mut pipeline_ids: Vec<&str> = Vec::new();
    for pid in workflows.iter().filter_map(|w| w.pipeline_id.as_deref()) {
        if !pipeline_ids.contains(&pid) {
            pipeline_ids.push(pid);
        }
    }
    let paths: Vec<String> = pipeline_ids.iter().map(|p| workflows_path(p)).collect();
    let mut out = Lineages::default();
    for (path, list) in paths.iter().zip(read_lists::<Workflow>(api, &paths, true)) {
        match list {
            Ok(list) => {
                let siblings = keep_read(list.items, "workflow", path);
                out.extend(mapping::lineage(&siblings));
            }
            Err(e @ (ProviderError::Unauthorized(_) | ProviderError::RateLimited(_))) => {
                return Err(e);
            }
            Err(e) => warn(&format!("re-runs of {path} not counted: {}", describe(&e))),
        }
    }
    Ok(out)
}
