//! Small readers the capture tests share: the ids of a snapshot's builds,
//! a workflow's id in the scenario, requests to one route.

use std::time::Duration;

use serde_json::Value;

pub const WAIT: Duration = Duration::from_secs(60);

pub fn ids(snap: &Value) -> Vec<String> {
    snap["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

pub fn workflow_id(sim: &circleci_sim::SimHandle, number: i64, index: usize) -> String {
    let p = sim.scenario().projects[0]
        .pipelines
        .iter()
        .find(|p| p.number == number)
        .unwrap();
    p.workflows[index].id.clone()
}

pub fn on(sim: &circleci_sim::SimHandle, route: &str) -> usize {
    sim.requests().iter().filter(|r| r.route == route).count()
}
