//! Generated repositories for benchmarks: thousands of runs, deterministic per seed.
//!
//! The mix is what busy repositories show: each commit runs `CI` and `Lint`, pushes to
//! `main` also `Deploy`; mostly green, some failures and cancellations, the odd re-run
//! (a second attempt) and skipped deploy; the newest few runs still going, with timelines
//! that finish them within ten minutes of the clock start.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::builder::{AttemptSpec, JobSpec, RunSpec, stable_sha};
use crate::scenario::Scenario;

/// Token of the generated user.
pub const BENCH_TOKEN: &str = "bench-token";
/// The generated repository.
pub const BENCH_REPO: &str = "bench/app";

/// Knobs for [`large_with`].
#[derive(Clone, Debug)]
pub struct LargeOptions {
    /// Number of runs.
    pub runs: usize,
    /// Generator seed.
    pub seed: u64,
    /// Seconds between consecutive commits.
    pub spacing_secs: i64,
    /// How many of the newest runs are still in progress.
    pub running: usize,
}

impl Default for LargeOptions {
    fn default() -> Self {
        Self {
            runs: 1000,
            seed: 1,
            spacing_secs: 420,
            running: 3,
        }
    }
}

/// [`BENCH_REPO`] with `runs` runs; token [`BENCH_TOKEN`].
pub fn large(runs: usize, seed: u64) -> Scenario {
    large_with(&LargeOptions {
        runs,
        seed,
        ..LargeOptions::default()
    })
}

fn pick<'a>(rng: &mut ChaCha8Rng, weighted: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (v, w) in weighted {
        if x < *w {
            return v;
        }
        x -= w;
    }
    weighted[0].0
}

fn jobs_for(rng: &mut ChaCha8Rng, workflow: &str, conclusion: &str) -> Vec<JobSpec> {
    let names: &[&str] = match workflow {
        "CI" => &["build", "test (ubuntu)", "test (macos)"],
        "Lint" => &["lint"],
        _ => &["build", "deploy-production"],
    };
    let failing = rng.random_range(0..names.len());
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let c = match conclusion {
                "failure" if i == failing => "failure",
                "failure" | "success" => "success",
                other => other,
            };
            JobSpec::completed(n, c).steps(&["Set up job", "Run step", "Complete job"])
        })
        .collect()
}

/// Like [`large`] with every knob exposed.
pub fn large_with(o: &LargeOptions) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let mut specs = Vec::with_capacity(o.runs);
    let mut commit = 0usize;
    while specs.len() < o.runs {
        commit += 1;
        let branch = pick(
            &mut rng,
            &[
                ("main", 6),
                ("develop", 2),
                ("feature/login", 1),
                ("release/1.x", 1),
            ],
        );
        let sha = stable_sha(&format!("{BENCH_REPO}:{}:{commit}", o.seed));
        let mut workflows = vec!["CI", "Lint"];
        if branch == "main" {
            workflows.push("Deploy");
        }
        for wf in workflows {
            if specs.len() == o.runs {
                break;
            }
            let conclusion = pick(
                &mut rng,
                &[
                    ("success", 80),
                    ("failure", 12),
                    ("cancelled", 4),
                    ("skipped", 2),
                    ("timed_out", 2),
                ],
            );
            let mut run = RunSpec::new(wf)
                .branch(branch)
                .sha(&sha)
                .message(&format!("Commit {commit}"));
            run = run.attempt(
                AttemptSpec::completed(conclusion).jobs(jobs_for(&mut rng, wf, conclusion)),
            );
            if conclusion == "failure" && rng.random_bool(0.3) {
                run = run.attempt(
                    AttemptSpec::completed("success").jobs(jobs_for(&mut rng, wf, "success")),
                );
            }
            specs.push(run);
        }
    }
    // Oldest first: the last spec is the newest run.
    let n = specs.len() as i64;
    let commits_per_step = 3;
    let specs: Vec<RunSpec> = specs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let age = (n - i as i64) / commits_per_step * o.spacing_secs
                + (n - i as i64) % commits_per_step;
            let s = s.created(-age - 60);
            if (i as i64) < n - o.running as i64 {
                return s;
            }
            let finish = 60 + 120 * (n - i as i64);
            s.replace_attempts(vec![
                AttemptSpec::status("in_progress")
                    .then_completed_at(finish, "success")
                    .job(
                        JobSpec::status("build", "in_progress")
                            .then_completed_at(finish - 5, "success"),
                    ),
            ])
        })
        .collect();
    Scenario::builder()
        .user("bench", BENCH_TOKEN)
        .repo(BENCH_REPO)
        .runs(specs)
        .build()
        .expect("generated scenarios are valid")
}
