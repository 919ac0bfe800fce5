//! Fan-out: the workflows of pipelines and the jobs of workflows.
//!
//! Every list of a stage is requested in one `send-batch` (the host runs
//! them in parallel); lists that have further pages are continued in
//! another batch, round after round, until each is exhausted.

use std::collections::HashSet;

use crate::api;
use crate::client::{Api, encode_component, host_error, ok_or_error, parse_json, with_query};
use crate::items::{Item, ListRecord, Page, keep_read};
use crate::links::Links;
use crate::logging::warn;
use crate::mapping::{self, Lineage, PipelineInfo};
use crate::time::rfc3339_millis;
use crate::wit::{Build, ProviderError};

/// A cap on pages per list, so a misbehaving API cannot keep us paging.
pub const MAX_PAGES_PER_LIST: u32 = 100;

/// Everything read of one list.
#[derive(Debug)]
pub struct ListRead<T> {
    /// The items read, in order.
    pub items: Vec<Item<T>>,
    /// False when a later page failed, a page token came back twice, or the
    /// page cap was hit: `items` is then a prefix of the list.
    pub complete: bool,
    /// How many pages were requested.
    pub pages: u32,
}

struct ListState<T> {
    path: String,
    token: Option<String>,
    seen: HashSet<String>,
    read: ListRead<T>,
    result: Option<Result<(), ProviderError>>,
}

/// Read every page of each list at `paths`, batching each round. A list's
/// first-page failure is its `Err`; a later failure only makes it incomplete.
/// `conditional` makes every request conditional (see
/// [`Api::get_conditional`]): for lists read again and again.
pub fn read_lists<T: ListRecord>(
    api: &Api,
    paths: &[String],
    conditional: bool,
) -> Vec<Result<ListRead<T>, ProviderError>> {
    let mut lists: Vec<ListState<T>> = paths
        .iter()
        .map(|p| ListState {
            path: p.clone(),
            token: None,
            seen: HashSet::new(),
            read: ListRead {
                items: Vec::new(),
                complete: false,
                pages: 0,
            },
            result: None,
        })
        .collect();
    loop {
        let pending: Vec<usize> = (0..lists.len())
            .filter(|&i| lists[i].result.is_none())
            .collect();
        if pending.is_empty() {
            break;
        }
        let reqs: Vec<_> = pending
            .iter()
            .map(|&i| {
                let path = with_query(&lists[i].path, &[("page-token", lists[i].token.as_deref())]);
                if conditional {
                    api.get_conditional(&path)
                } else {
                    api.get(&path)
                }
            })
            .collect();
        let answers = api.send_batch(&reqs);
        for ((&i, req), answer) in pending.iter().zip(&reqs).zip(answers) {
            let list = &mut lists[i];
            let first = list.read.pages == 0;
            let page = answer
                .map_err(|e| host_error(&e))
                .and_then(ok_or_error)
                .and_then(|resp| parse_json::<Page<T>>(&resp.body, &req.url));
            let page = match page {
                Ok(page) => page,
                Err(e) if first => {
                    list.result = Some(Err(e));
                    continue;
                }
                Err(e) => {
                    warn(&format!(
                        "stopped reading {} after {} pages: {}",
                        list.path,
                        list.read.pages,
                        describe(&e)
                    ));
                    list.result = Some(Ok(()));
                    continue;
                }
            };
            list.read.pages += 1;
            list.read.items.extend(page.items);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                None => {
                    list.read.complete = true;
                    list.result = Some(Ok(()));
                }
                Some(token) if !list.seen.insert(token.clone()) => {
                    warn(&format!(
                        "{} repeated a page token; stopped after {} pages",
                        list.path, list.read.pages
                    ));
                    list.result = Some(Ok(()));
                }
                Some(_) if list.read.pages >= MAX_PAGES_PER_LIST => {
                    warn(&format!(
                        "{} has more than {MAX_PAGES_PER_LIST} pages; read no further",
                        list.path
                    ));
                    list.result = Some(Ok(()));
                }
                Some(token) => list.token = Some(token),
            }
        }
    }
    lists
        .into_iter()
        .map(|l| match l.result {
            Some(Err(e)) => Err(e),
            _ => Ok(l.read),
        })
        .collect()
}

/// The path of a pipeline's workflow list.
pub fn workflows_path(pipeline_id: &str) -> String {
    format!(
        "/api/v2/pipeline/{}/workflow",
        encode_component(pipeline_id)
    )
}

/// A workflow to build, with what it needs from its pipeline.
pub struct Unbuilt {
    /// Its pipeline.
    pub pipeline: PipelineInfo,
    /// The workflow.
    pub workflow: api::Workflow,
    /// Its place among the pipeline's workflows.
    pub lineage: Lineage,
}

/// The builds (with jobs) of `pipelines`, in the pipelines' order and, within
/// a pipeline, newest workflow first. A pipeline whose workflow list is gone
/// (404, retention) contributes nothing; any other failure fails the call.
pub fn builds_for_pipelines(
    api: &Api,
    links: &Links,
    project: &str,
    pipelines: &[PipelineInfo],
    conditional: bool,
) -> Result<Vec<Build>, ProviderError> {
    let paths: Vec<String> = pipelines.iter().map(|p| workflows_path(&p.id)).collect();
    let mut unbuilt = Vec::new();
    let lists = read_lists(api, &paths, conditional);
    for ((pipeline, path), list) in pipelines.iter().zip(&paths).zip(lists) {
        let list = match list {
            Ok(list) => list,
            Err(ProviderError::NotFound(m)) => {
                warn(&format!(
                    "workflows of pipeline {} are gone ({m}); CircleCI may have deleted them",
                    pipeline.id
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        if !list.complete {
            warn(&format!(
                "workflow list of pipeline {} is incomplete",
                pipeline.id
            ));
        }
        let mut workflows: Vec<api::Workflow> = keep_read(list.items, "workflow", path);
        let lineage = mapping::lineage(&workflows);
        newest_first(&mut workflows);
        unbuilt.extend(workflows.into_iter().map(|workflow| Unbuilt {
            pipeline: pipeline.clone(),
            lineage: lineage.of(&workflow.id),
            workflow,
        }));
    }
    attach_jobs(api, links, project, unbuilt, conditional)
}

/// Each workflow's jobs, read in one batch (plus continuation rounds), and
/// the finished builds in the given order. A job list that is gone (404),
/// unreadable or cut short keeps its build with `jobs-complete = false`;
/// any other failure (401, 429, 5xx, host error) fails the call.
pub fn attach_jobs(
    api: &Api,
    links: &Links,
    project: &str,
    unbuilt: Vec<Unbuilt>,
    conditional: bool,
) -> Result<Vec<Build>, ProviderError> {
    let paths: Vec<String> = unbuilt
        .iter()
        .map(|u| format!("/api/v2/workflow/{}/job", encode_component(&u.workflow.id)))
        .collect();
    let lists = read_lists::<api::Job>(api, &paths, conditional);
    let mut builds = Vec::with_capacity(unbuilt.len());
    for ((u, path), list) in unbuilt.iter().zip(&paths).zip(lists) {
        let wf = &u.workflow;
        let (jobs, complete) = match list {
            Ok(list) => {
                let total = list.items.len();
                let jobs = keep_read(list.items, "job", path);
                let complete = list.complete && jobs.len() == total;
                (jobs, complete)
            }
            Err(ProviderError::NotFound(m)) => {
                warn(&format!(
                    "jobs of workflow {} are gone ({m}); CircleCI may have deleted them",
                    wf.id
                ));
                (Vec::new(), false)
            }
            // The build itself is sound; `jobs-complete = false` tells the
            // host not to trust its (empty) job list.
            Err(ProviderError::InvalidResponse(m)) => {
                warn(&format!("jobs of workflow {} unreadable: {m}", wf.id));
                (Vec::new(), false)
            }
            Err(e) => return Err(e),
        };
        builds.push(mapping::build(
            links,
            project,
            &u.pipeline,
            wf,
            &u.lineage,
            jobs,
            complete,
        ));
    }
    Ok(builds)
}

/// Sort by `created_at`, newest first; unreadable times last, ties in API order.
pub fn newest_first(workflows: &mut [api::Workflow]) {
    workflows.sort_by_key(|w| std::cmp::Reverse(w.created_at.as_deref().and_then(rfc3339_millis)));
}

/// A short description of an error for a log line.
pub fn describe(e: &ProviderError) -> String {
    match e {
        ProviderError::Unauthorized(m) => format!("unauthorized: {m}"),
        ProviderError::NotFound(m) => format!("not found: {m}"),
        ProviderError::RateLimited(r) => format!("rate limited: {}", r.message),
        ProviderError::Upstream(u) => format!("HTTP {}: {}", u.status, u.message),
        ProviderError::InvalidResponse(m) => format!("invalid response: {m}"),
        ProviderError::Other(m) => m.clone(),
    }
}
