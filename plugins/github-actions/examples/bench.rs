//! Request economy of the plugin's logic against the GitHub simulator's
//! generated repository (`generate::large`), with the test transport playing
//! the host (one request at a time, the conditional-request cache):
//!
//! 1. requests per cold commit lookup (`builds-for-commit` with the full
//!    SHA) against the lower bound: one run-list page per 100 runs of the
//!    commit, one request per older attempt, one job list per run;
//! 2. a sync pass over an unchanged repository: requests sent and how many
//!    GitHub answered 304 (aim: all of them).
//!
//! `cargo run --release -p buildsnap-github-actions --example bench [runs] [seed]`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use buildsnap_github_actions::wit::{CommitQuery, Horizon, SyncRequest};
use buildsnap_github_actions::{search, sync};
use common::Sim;
use github_sim::SimOptions;
use github_sim::generate::{BENCH_REPO, BENCH_TOKEN, large};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let sim = Sim::start(
        large(n, seed),
        SimOptions {
            clock_running: Some(false),
            ..SimOptions::default()
        },
        BENCH_TOKEN,
    );
    let now = sim.sim().clock().now();
    // Per commit: runs and older attempts visible at the clock.
    let mut commits: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for run in &sim.sim().scenario().repos[0].runs {
        let visible = run.attempts.iter().filter(|a| a.created_at <= now).count();
        if visible == 0 {
            continue;
        }
        let e = commits.entry(run.head_sha.clone()).or_default();
        e.0 += 1;
        e.1 += visible - 1;
    }
    let horizon = Horizon {
        max_pipelines: 100_000,
        not_before: None,
    };
    let (mut sent, mut bound, mut builds) = (0usize, 0usize, 0usize);
    for (sha, (runs, older)) in &commits {
        let before = sim.sim().counters().total;
        let q = CommitQuery {
            project: BENCH_REPO.into(),
            sha: sha.clone(),
            branch: None,
            horizon: horizon.clone(),
        };
        let found = search::builds_for_commit(&sim, &sim.ctx(), &q).expect("lookup");
        builds += found.builds.len();
        sent += sim.sim().counters().total - before;
        bound += runs.div_ceil(100).max(1) + older + runs;
    }
    println!(
        "cold lookups: {} commits of {n} runs, {builds} builds: {sent} requests (lower bound {bound}), {:.2} per commit",
        commits.len(),
        sent as f64 / commits.len() as f64
    );

    let first = SyncRequest {
        project: BENCH_REPO.into(),
        cursor: None,
        horizon: horizon.clone(),
        refresh: vec![],
    };
    let page = sync::sync(&sim, &sim.ctx(), &first).expect("sync");
    let held: Vec<String> = page
        .builds
        .iter()
        .filter(|b| b.stopped_at.is_none())
        .map(|b| b.id.clone())
        .collect();
    let warm = SyncRequest {
        cursor: page.next_cursor,
        refresh: held,
        ..first
    };
    sync::sync(&sim, &sim.ctx(), &warm).expect("sync");
    let before = sim.sim().counters();
    sync::sync(&sim, &sim.ctx(), &warm).expect("sync");
    let after = sim.sim().counters();
    println!(
        "sync pass over the unchanged repository: {} requests, {} answered 304 ({} builds held not final)",
        after.total - before.total,
        after.not_modified - before.not_modified,
        warm.refresh.len()
    );
}
