//! What the CircleCI end-to-end tests share: the component they run, the
//! projects and commits of the demo scenario, reading a provider error, quick retries, a
//! scenario's pipeline, generated histories and the request-economy check.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use buildsnap::runtime::limits::{HttpLimits, PluginLimits};
use buildsnap::runtime::plugin::ProviderErrorText;
use buildsnap::runtime::wit::{Build, CommitBuilds, ProviderError};
use buildsnap::runtime::{CallError, Plugin};
use circleci_sim::{Scenario, SimHandle};

use crate::sim::*;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec};

pub const API: &str = "gh/acme/api";

pub const APP: &str = "gh/acme/app";

/// The demo commit built by pipeline 4 (a failed run and its successful
/// re-run, same workflow name) and pipeline 5 (deploy held for approval).
pub const SHA_45: &str = "607ed3348ddd5e74b8bb4b0d227bc63bf4ec2b64";

pub const GH_APP_PROJECT: &str = "circleci/9z8PamRuKaKWrW91o7Kqvn/AHWysFUuUfBgs6VeUqm6tg";

pub const GH_APP_SHA: &str = "af79b26fc1fa5121ac8d7afdb751ed28f8928f73";

/// The CircleCI plugin the suite runs (its crate's `CIRCLECI`).
pub async fn circleci(sim: &SimHandle) -> Arc<Plugin> {
    circleci_with(sim, PluginLimits::default()).await
}

/// The suite's CircleCI plugin with `limits`.
pub async fn circleci_with(sim: &SimHandle, limits: PluginLimits) -> Arc<Plugin> {
    circleci_of(crate::CIRCLECI, sim, limits).await
}

pub fn provider_error(result: Result<impl std::fmt::Debug, CallError>) -> ProviderError {
    match result {
        Err(CallError::Provider(ProviderErrorText(e))) => e,
        other => panic!("expected a provider error, got {other:?}"),
    }
}

pub fn ids(builds: &[Build]) -> Vec<&str> {
    builds.iter().map(|b| b.id.as_str()).collect()
}

pub fn quick_retries(call_timeout: Duration) -> PluginLimits {
    PluginLimits {
        call_timeout,
        http: HttpLimits {
            initial_backoff: Duration::from_millis(50),
            ..HttpLimits::default()
        },
        ..PluginLimits::default()
    }
}

/// The ids the simulator gave a scenario's pipeline `number` of `project`.
pub fn pipeline_of<'a>(
    sim: &'a SimHandle,
    project: &str,
    number: i64,
) -> &'a circleci_sim::model::Pipeline {
    sim.scenario()
        .projects
        .iter()
        .find(|p| p.slug == project)
        .and_then(|p| p.pipelines.iter().find(|pl| pl.number == number))
        .unwrap_or_else(|| panic!("no pipeline {project}#{number}"))
}

/// `count` pipelines numbered 1..=count on `project` (one minute apart,
/// newest = highest number); the pipelines in `matching` build `sha` and get
/// the workflows `workflows(number)`; the others build their own commit and
/// have one workflow each (never fetched by a correct search).
pub fn history(
    project: &str,
    count: i64,
    sha: &str,
    matching: &[i64],
    workflows: impl Fn(i64) -> Vec<WorkflowSpec>,
) -> Scenario {
    let mut b = Scenario::builder().user("alice", ALICE).project(project);
    for n in 1..=count {
        let mut p = PipelineSpec::new(n);
        if matching.contains(&n) {
            p = p.revision(sha);
            for w in workflows(n) {
                p = p.workflow(w);
            }
        } else {
            p = p.workflow(WorkflowSpec::new("build").job(JobSpec::new("test")));
        }
        b = b.pipeline(p);
    }
    b.build().unwrap()
}

/// Position (0 = newest) of pipeline `number` among `count`, and its page (1-based, 20 a page).
pub fn page_of(count: i64, number: i64) -> u32 {
    ((count - number) / 20 + 1) as u32
}

/// The economy bound: pipeline pages down to the page of the oldest match
/// plus one; one workflow list per matching pipeline; one job list per
/// workflow (all lists here fit on one page). Nothing else is requested.
pub fn assert_economy(sim: &SimHandle, count: i64, matching: &[i64], result: &CommitBuilds) {
    let oldest = *matching.iter().min().unwrap();
    let bound = page_of(count, oldest) + 1;
    let last_page = page_of(count, 1);
    let pages = on_route(sim, PIPELINES).len() as u32;
    assert_eq!(pages, bound.min(last_page), "pipeline pages");
    assert_eq!(result.report.pages_fetched, pages);
    assert_eq!(
        on_route(sim, WORKFLOWS).len(),
        matching.len(),
        "one workflow list per matching pipeline"
    );
    assert_eq!(
        on_route(sim, JOBS).len(),
        result.builds.len(),
        "one job list per workflow"
    );
    let by_route = sim.count_by_route();
    let mut expected = [JOBS, WORKFLOWS, PIPELINES];
    expected.sort();
    assert_eq!(
        by_route.keys().collect::<Vec<_>>(),
        expected,
        "nothing else was requested: {by_route:?}"
    );
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.method == "GET" && r.status == Some(200))
    );
}
