//! Generated scenarios for benchmarks: thousands of pipelines, deterministic per seed.
//!
//! The mix mirrors what real projects show (and what §11 of circleci-api.md
//! warns about): mostly green `main` pushes, some failures and cancellations,
//! re-runs with the same workflow name, approval jobs without numbers,
//! scheduled triggers outside the spec's enum, the odd errored pipeline
//! without `vcs`, and a few of the newest pipelines still running with
//! timelines so the clock finishes them.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::builder::{stable_sha, stable_uuid};
use crate::model::{
    Actor, Job, Org, Pipeline, PipelineError, Project, Transition, Trigger, User, Vcs, Workflow,
};
use crate::scenario::{ClockSpec, Scenario};
use crate::timestamp::{Precision, Timestamp};

/// Token of the generated user.
pub const BENCH_TOKEN: &str = "bench-token";
/// Slug of the generated project.
pub const BENCH_PROJECT: &str = "gh/bench/app";

/// Knobs for [`large_with`].
#[derive(Clone, Debug)]
pub struct LargeOptions {
    /// Number of pipelines.
    pub pipelines: usize,
    /// RNG seed.
    pub seed: u64,
    /// Branch names; the first gets most pipelines.
    pub branches: Vec<String>,
    /// Minutes between consecutive pipelines.
    pub spacing_minutes: i64,
    /// How many of the newest pipelines are still running (with timelines).
    pub running: usize,
    /// Clock start; the newest pipeline is a few minutes before it.
    pub start: DateTime<Utc>,
}

impl Default for LargeOptions {
    fn default() -> Self {
        Self {
            pipelines: 1000,
            seed: 1,
            branches: vec![
                "main".into(),
                "develop".into(),
                "feature/login".into(),
                "release/1.x".into(),
            ],
            spacing_minutes: 7,
            running: 3,
            start: DateTime::parse_from_rfc3339(crate::builder::DEFAULT_START)
                .expect("valid")
                .to_utc(),
        }
    }
}

/// One project ([`BENCH_PROJECT`]) with `n_pipelines` pipelines; token [`BENCH_TOKEN`].
pub fn large(n_pipelines: usize, seed: u64) -> Scenario {
    large_with(&LargeOptions {
        pipelines: n_pipelines,
        seed,
        ..LargeOptions::default()
    })
}

/// Like [`large`] with every knob exposed.
pub fn large_with(o: &LargeOptions) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let org = Org {
        id: stable_uuid("org:gh/bench"),
        name: "bench".into(),
        slug: "gh/bench".into(),
        vcs_type: Some("github".into()),
        avatar_url: Some("https://avatars.githubusercontent.com/u/1?v=4".into()),
    };
    let user = User {
        id: stable_uuid("user:bench"),
        login: "bench".into(),
        name: "Bench User".into(),
        orgs: vec![org.slug.clone()],
        tokens: vec![BENCH_TOKEN.into()],
        followed: None,
    };
    let vcs_url = "https://github.com/bench/app".to_owned();
    let mut job_number = 1i64;
    let mut pipelines = Vec::with_capacity(o.pipelines);
    for i in 0..o.pipelines {
        let number = i as i64 + 1;
        let age = (o.pipelines - i) as i64 * o.spacing_minutes;
        let created =
            o.start - Duration::minutes(age) + Duration::milliseconds(rng.random_range(0..1000));
        let running = o.pipelines - i <= o.running;
        pipelines.push(pipeline(
            &mut rng,
            o,
            number,
            created,
            running,
            &user.id,
            &vcs_url,
            &mut job_number,
        ));
    }
    Scenario {
        clock: ClockSpec {
            start: Some(Timestamp::from_instant(o.start, Precision::Seconds)),
            running: false,
        },
        orgs: vec![org],
        users: vec![user],
        projects: vec![Project {
            id: stable_uuid("project:gh/bench/app"),
            slug: BENCH_PROJECT.into(),
            name: "app".into(),
            org: "gh/bench".into(),
            vcs_url,
            default_branch: o.branches.first().cloned().unwrap_or_else(|| "main".into()),
            provider: None,
            pipelines,
            extra: Default::default(),
        }],
        ..Scenario::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn pipeline(
    rng: &mut ChaCha8Rng,
    o: &LargeOptions,
    number: i64,
    created: DateTime<Utc>,
    running: bool,
    user_id: &str,
    vcs_url: &str,
    job_number: &mut i64,
) -> Pipeline {
    let key = format!("bench/{number}");
    let sha = stable_sha(&format!("{}:{key}", o.seed));
    let branch = if rng.random_bool(0.7) || o.branches.len() < 2 {
        o.branches.first().cloned().unwrap_or_else(|| "main".into())
    } else {
        o.branches[rng.random_range(1..o.branches.len())].clone()
    };
    let created_ts = Timestamp::from_instant(created, Precision::Millis);
    let errored = !running && rng.random_bool(0.01);
    let trigger_kind = match rng.random_range(0..100) {
        0..=84 => "webhook",
        85..=92 => "api",
        93..=98 => "schedule", // outside the spec enum, seen in real data
        _ => "Decoupled Ingestion System",
    };
    let received = if trigger_kind == "Decoupled Ingestion System" {
        "1970-01-01T00:00:00.000Z".to_owned()
    } else {
        created_ts.to_string()
    };
    let mut p = Pipeline {
        id: stable_uuid(&format!("{}:pipeline:{key}", o.seed)),
        number,
        state: if errored {
            "errored".into()
        } else {
            "created".into()
        },
        created_at: created_ts.clone(),
        updated_at: Some(created_ts),
        errors: Vec::new(),
        trigger: Trigger {
            kind: trigger_kind.into(),
            received_at: Timestamp::parse(&received).expect("valid"),
            actor: Actor {
                login: if trigger_kind == "schedule" {
                    "Scheduled".into()
                } else {
                    "bench".into()
                },
                avatar_url: (trigger_kind != "schedule")
                    .then(|| "https://avatars.githubusercontent.com/u/1?v=4".into()),
            },
            extra: Default::default(),
        },
        trigger_parameters: None,
        vcs: None,
        timeline: Vec::new(),
        workflows: Vec::new(),
        extra: Default::default(),
    };
    if errored {
        // Like DevLake's recording: no vcs, SHA only in nested trigger_parameters.
        p.errors.push(PipelineError {
            kind: "config-fetch".into(),
            message: "Failed to fetch config.yml file.".into(),
        });
        p.trigger_parameters = Some(json!({
            "git": { "checkout_sha": sha },
            "circleci": { "org_name": "bench", "project_name": "app", "provider_name": "github" }
        }));
        return p;
    }
    let mut extra = serde_json::Map::new();
    extra.insert(
        "commit".into(),
        json!({ "subject": format!("change {number}"), "body": "" }),
    );
    p.vcs = Some(Vcs {
        provider_name: "GitHub".into(),
        origin_repository_url: vcs_url.into(),
        target_repository_url: vcs_url.into(),
        revision: sha,
        branch: Some(branch),
        tag: None,
        extra,
    });
    let wf_created = created + Duration::seconds(1);
    let mut names = vec!["build-and-test"];
    if rng.random_bool(0.3) {
        names.push("deploy");
    }
    for (wi, name) in names.into_iter().enumerate() {
        let rerun = !running && rng.random_bool(0.03);
        let first_status = if rerun {
            "failed"
        } else if running {
            "running"
        } else {
            match rng.random_range(0..100) {
                0..=84 => "success",
                85..=94 => "failed",
                95..=97 => "canceled",
                _ => "not_run",
            }
        };
        let t0 = wf_created + Duration::seconds(wi as i64);
        p.workflows.push(workflow(
            rng,
            o,
            &format!("{key}/{wi}"),
            name,
            first_status,
            t0,
            running,
            user_id,
            job_number,
        ));
        if rerun {
            // A re-run adds a second workflow with the same name.
            let t1 = t0 + Duration::minutes(10);
            p.workflows.push(workflow(
                rng,
                o,
                &format!("{key}/{wi}/rerun"),
                name,
                "success",
                t1,
                false,
                user_id,
                job_number,
            ));
        }
    }
    p
}

#[allow(clippy::too_many_arguments)]
fn workflow(
    rng: &mut ChaCha8Rng,
    o: &LargeOptions,
    key: &str,
    name: &str,
    status: &str,
    created: DateTime<Utc>,
    running: bool,
    user_id: &str,
    job_number: &mut i64,
) -> Workflow {
    let secs = |t: DateTime<Utc>| Timestamp::from_instant(t, Precision::Seconds);
    let duration = Duration::seconds(rng.random_range(30..600));
    let n_jobs = rng.random_range(1..=4);
    let with_approval = name == "deploy";
    let finish_at = o.start + Duration::seconds(rng.random_range(60..900));
    let mut jobs = Vec::new();
    for ji in 0..n_jobs {
        let job_status = if running {
            "running"
        } else if status == "success" {
            "success"
        } else if ji + 1 == n_jobs {
            status
        } else {
            "success"
        };
        let number = *job_number;
        *job_number += 1;
        jobs.push(Job {
            id: stable_uuid(&format!("{}:job:{key}/{ji}", o.seed)),
            job_number: Some(number),
            name: format!("step-{ji}"),
            kind: "build".into(),
            status: job_status.into(),
            started_at: Some(secs(created + Duration::seconds(2))),
            stopped_at: (!running).then(|| secs(created + duration)),
            created_at: Some(secs(created)),
            dependencies: Vec::new(),
            timeline: if running {
                vec![Transition {
                    at: secs(finish_at - Duration::seconds(5)),
                    status: "success".into(),
                }]
            } else {
                Vec::new()
            },
            extra: Default::default(),
        });
    }
    if with_approval {
        // Approval jobs carry no job number.
        jobs.push(Job {
            id: stable_uuid(&format!("{}:job:{key}/approval", o.seed)),
            job_number: None,
            name: "hold".into(),
            kind: "approval".into(),
            status: if running {
                "on_hold".into()
            } else {
                "success".into()
            },
            started_at: Some(secs(created + Duration::seconds(1))),
            stopped_at: (!running).then(|| secs(created + Duration::seconds(30))),
            created_at: Some(secs(created)),
            dependencies: Vec::new(),
            timeline: if running {
                vec![Transition {
                    at: secs(finish_at - Duration::seconds(10)),
                    status: "success".into(),
                }]
            } else {
                Vec::new()
            },
            extra: Default::default(),
        });
    }
    Workflow {
        id: stable_uuid(&format!("{}:workflow:{key}", o.seed)),
        name: name.into(),
        status: status.into(),
        created_at: secs(created),
        stopped_at: (!running).then(|| secs(created + duration)),
        started_by: user_id.into(),
        timeline: if running {
            vec![Transition {
                at: secs(finish_at),
                status: "success".into(),
            }]
        } else {
            Vec::new()
        },
        jobs,
        extra: Default::default(),
    }
}
