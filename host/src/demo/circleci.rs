//! The demo's CircleCI side: the generated scenario (two repositories, a
//! pipeline each every 30 s with every outcome) and which commit each tick
//! deploys.

use std::time::Duration;

use anyhow::Context;
use buildsnap_store::ts::{self, OffsetDateTime};
use circleci_sim::Scenario;
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};

use super::SIM_TOKEN;

/// A new pipeline per repository every this many seconds.
pub(super) const PIPELINE_EVERY: i64 = 30;
/// Pipelines are generated this far ahead (the demo keeps going after that,
/// deploying the newest commits there are).
const HORIZON_SECS: i64 = 8 * 3600;
/// Finished pipelines before the clock start, so there is history at once.
const HISTORY: i64 = 10;

/// A buildsnap project backed by a simulated CircleCI project.
pub(super) struct DemoProject {
    pub(super) slug: &'static str,
    pub(super) name: &'static str,
    pub(super) circleci: &'static str,
    pub(super) repo_url: &'static str,
    /// Seconds by which its pipelines are staggered against the other's.
    phase: i64,
}

pub(super) const PROJECTS: [DemoProject; 2] = [
    DemoProject {
        slug: "api",
        name: "API",
        circleci: "gh/acme/api",
        repo_url: "https://github.com/acme/api",
        phase: 0,
    },
    DemoProject {
        slug: "web",
        name: "Web app",
        circleci: "gh/acme/web",
        repo_url: "https://github.com/acme/web",
        phase: 15,
    },
];

/// A project without a code deployment, to show why it can't get a build server yet.
pub(super) const BARE_PROJECT: (&str, &str) = ("billing", "Billing");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failed,
    /// Tests pass, then an approval job holds the workflow for a while.
    Approval,
    Canceled,
}

const OUTCOMES: [Outcome; 8] = [
    Outcome::Success,
    Outcome::Success,
    Outcome::Failed,
    Outcome::Success,
    Outcome::Approval,
    Outcome::Success,
    Outcome::Canceled,
    Outcome::Success,
];

/// One generated pipeline.
#[derive(Debug, Clone)]
pub struct Planned {
    pub(super) project: usize,
    pub(super) number: i64,
    /// Seconds from the clock start to its creation.
    pub(super) at: i64,
    pub(super) sha: String,
}

pub(super) fn shift(start: OffsetDateTime, secs: i64) -> OffsetDateTime {
    if secs >= 0 {
        start + Duration::from_secs(secs as u64)
    } else {
        start - Duration::from_secs(secs.unsigned_abs())
    }
}

/// The workflows of one pipeline created `t` seconds after the clock start.
/// Pipelines created before the start are already finished.
fn workflows(mut p: PipelineSpec, t: i64, outcome: Outcome) -> PipelineSpec {
    let past = t < 0;
    let job = |name: &str, status: &str, steps: &[(i64, &str)]| {
        let mut j = JobSpec::new(name).status(status);
        for (dt, s) in steps {
            j = j.then_at(t + dt, s);
        }
        j
    };
    let flow = |name: &str, status: &str, steps: &[(i64, &str)]| {
        let mut w = WorkflowSpec::new(name).status(status);
        for (dt, s) in steps {
            w = w.then_at(t + dt, s);
        }
        w
    };
    if past {
        let (w, test, image) = match outcome {
            Outcome::Success | Outcome::Approval => ("success", "success", "success"),
            Outcome::Failed => ("failed", "failed", "success"),
            Outcome::Canceled => ("canceled", "canceled", "canceled"),
        };
        p = p.workflow(
            flow("build", w, &[])
                .job(job("lint", "success", &[]))
                .job(job("test", test, &[]))
                .job(job("build-image", image, &[])),
        );
        if outcome == Outcome::Approval {
            p = p.workflow(
                flow("deploy", "success", &[])
                    .job(JobSpec::approval("hold").status("success"))
                    .job(job("deploy", "success", &[])),
            );
        }
        return p;
    }
    let lint = job("lint", "running", &[(25, "success")]);
    match outcome {
        Outcome::Success => p.workflow(
            flow("build", "running", &[(95, "success")])
                .job(lint)
                .job(job("test", "running", &[(90, "success")]))
                .job(job(
                    "build-image",
                    "queued",
                    &[(25, "running"), (95, "success")],
                )),
        ),
        Outcome::Failed => p.workflow(
            flow("build", "running", &[(55, "failing"), (95, "failed")])
                .job(lint)
                .job(job("test", "running", &[(55, "failed")]))
                .job(job(
                    "build-image",
                    "queued",
                    &[(25, "running"), (95, "success")],
                )),
        ),
        Outcome::Canceled => p.workflow(
            flow("build", "running", &[(40, "canceled")])
                .job(lint)
                .job(job("test", "running", &[(40, "canceled")]))
                .job(job(
                    "build-image",
                    "queued",
                    &[(25, "running"), (40, "canceled")],
                )),
        ),
        Outcome::Approval => p.workflow(
            flow(
                "build-and-deploy",
                "running",
                &[(95, "on_hold"), (180, "running"), (220, "success")],
            )
            .job(lint)
            .job(job("test", "running", &[(90, "success")]))
            .job(job(
                "build-image",
                "queued",
                &[(25, "running"), (95, "success")],
            ))
            .job({
                let mut j = JobSpec::approval("hold").status("blocked");
                j = j.then_at(t + 95, "on_hold").then_at(t + 180, "success");
                j
            })
            .job(job(
                "deploy",
                "blocked",
                &[(180, "running"), (220, "success")],
            )),
        ),
    }
}

/// The generated scenario (clock starting at `start`, following real time)
/// and its pipelines in creation order.
pub fn scenario(start: OffsetDateTime) -> anyhow::Result<(Scenario, Vec<Planned>)> {
    let mut b = Scenario::builder()
        .clock_start(&ts::format(start))
        .clock_running(true)
        .user("alice", SIM_TOKEN);
    let mut planned = Vec::new();
    for (pi, proj) in PROJECTS.iter().enumerate() {
        b = b.project(proj.circleci);
        let mut number = 0;
        for k in -HISTORY..(HORIZON_SECS / PIPELINE_EVERY) {
            number += 1;
            let at = k * PIPELINE_EVERY + proj.phase;
            let sha = stable_sha(&format!("buildsnap-demo/{}/{number}", proj.circleci));
            let outcome = OUTCOMES[((k + HISTORY) as usize + pi * 3) % OUTCOMES.len()];
            let spec = PipelineSpec::new(number)
                .branch("main")
                .revision(&sha)
                .created_at(&ts::format(shift(start, at)));
            b = b.pipeline(workflows(spec, at, outcome));
            planned.push(Planned {
                project: pi,
                number,
                at,
                sha,
            });
        }
    }
    let s = b.build().context("building the demo scenario")?;
    planned.sort_by_key(|p| p.at);
    Ok((s, planned))
}

/// The pipeline to deploy on tick `i`, `elapsed` seconds after the clock
/// start: alternately each project; `staging` gets its newest commit (often
/// still building), `production` one that had four minutes to finish.
pub(super) fn pick(planned: &[Planned], i: u64, elapsed: i64) -> Option<(&Planned, &'static str)> {
    let project = (i % PROJECTS.len() as u64) as usize;
    let (env, age) = if (i / PROJECTS.len() as u64).is_multiple_of(2) {
        // a few seconds old, so its workflows have started
        ("staging", 5)
    } else {
        ("production", 240)
    };
    planned
        .iter()
        .rev()
        .find(|p| p.project == project && p.at <= elapsed - age)
        .map(|p| (p, env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_builds_and_deploy_picks_follow_the_clock() {
        let start = ts::parse("2026-01-01T12:00:00Z").unwrap();
        let (s, planned) = scenario(start).unwrap();
        assert_eq!(s.projects.len(), 2);
        assert_eq!(s.users[0].tokens, vec![SIM_TOKEN.to_string()]);
        // Per project: history plus the horizon.
        let per = HISTORY + HORIZON_SECS / PIPELINE_EVERY;
        assert_eq!(planned.len() as i64, 2 * per);
        assert!(planned.windows(2).all(|w| w[0].at <= w[1].at));
        // Distinct commits.
        let shas: std::collections::BTreeSet<_> = planned.iter().map(|p| &p.sha).collect();
        assert_eq!(shas.len(), planned.len());
        // Every outcome occurs in the first few minutes of each project.
        let first = &s.projects[0].pipelines;
        let statuses: std::collections::BTreeSet<_> = first
            .iter()
            .flat_map(|p| p.workflows.iter().map(|w| w.status.clone()))
            .collect();
        for st in ["success", "failed", "canceled", "running"] {
            assert!(statuses.contains(st), "no {st} workflow in {statuses:?}");
        }
        // Tick 0 is api/staging at its newest visible commit; tick 1 web/staging.
        let (p, env) = pick(&planned, 0, 100).unwrap();
        assert_eq!((p.project, env), (0, "staging"));
        assert_eq!(p.at, 90);
        let (p, env) = pick(&planned, 1, 100).unwrap();
        assert_eq!((p.project, env), (1, "staging"));
        assert_eq!(p.at, 75);
        // Ticks 2 and 3 deploy to production what had four minutes to finish.
        let (p, env) = pick(&planned, 2, 100).unwrap();
        assert_eq!(env, "production");
        assert!(p.at <= 100 - 240);
    }
}
