//! The realistic deploy shape shared by the bench examples (`seed_deploys`,
//! `snapshot_encodings`): 5 CircleCI workflows of 3 to 6 jobs, frozen as a
//! real capture leaves them (about 10.5 KB of `builds` JSON).

use buildsnap_domain::{JobKind, Status, Summary, freeze};
use buildsnap_store::{
    FinalSnapshot, IndexedBuild, IndexedJob, NewDeploy, SnapshotState, Store, ts,
};
use time::Duration;

/// A SHA-like hex string for deploy `i` (SplitMix64, so SHAs look random).
pub fn sha(i: u64) -> String {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    };
    let a = mix(i.wrapping_add(0x9e3779b97f4a7c15));
    let b = mix(a);
    let c = mix(b);
    format!("{a:016x}{b:016x}{:08x}", c as u32)
}

/// The 5 builds (CircleCI workflows) of deploy `i`'s commit: pipeline N runs
/// `build-test` (6 jobs), `lint` (3) and `deploy` (4); a second pipeline
/// re-runs `build-test` and `lint`. Every build stopped before `deployed_at`.
pub fn builds_of(
    i: u64,
    project: &str,
    sha: &str,
    deployed_at: time::OffsetDateTime,
) -> Vec<IndexedBuild> {
    let pipelines = [(2 * i + 1, 45i64), (2 * i + 2, 25)];
    let mut out = vec![];
    let layout: [(usize, &str, &[&str]); 5] = [
        (
            1,
            "build-test",
            &[
                "checkout",
                "build",
                "unit-tests",
                "integration-tests",
                "e2e",
                "package",
            ],
        ),
        (1, "lint", &["checkout", "clippy", "fmt"]),
        (
            0,
            "deploy",
            &["checkout", "hold", "deploy-staging", "deploy-production"],
        ),
        (
            0,
            "build-test",
            &[
                "checkout",
                "build",
                "unit-tests",
                "integration-tests",
                "e2e",
                "package",
            ],
        ),
        (0, "lint", &["checkout", "clippy", "fmt"]),
    ];
    for (n, (p, name, jobs)) in layout.iter().enumerate() {
        let (pipeline, minutes_before) = pipelines[*p];
        let created = deployed_at - Duration::minutes(minutes_before - 2 * n as i64);
        let stopped = created + Duration::minutes(8);
        let failed = *p == 0 && *name == "build-test" && i.is_multiple_of(10);
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            i,
            n,
            i % 4096,
            n,
            i * 7 + n as u64
        );
        let jobs = jobs
            .iter()
            .enumerate()
            .map(|(k, job)| {
                let number = (i * 40 + n as u64 * 8 + k as u64) as i64;
                let status = if failed && *job == "e2e" { Status::Failed } else { Status::Success };
                IndexedJob {
                    id: format!("{id}-{k:02}"),
                    name: job.to_string(),
                    number: (*job != "hold").then_some(number),
                    kind: if *job == "hold" { JobKind::Approval } else { JobKind::Build },
                    status,
                    provider_status: status.as_str().into(),
                    started_at: Some(ts::format(created + Duration::seconds(10 + 60 * k as i64))),
                    stopped_at: Some(ts::format(created + Duration::seconds(60 + 60 * k as i64))),
                    url: Some(format!("https://app.circleci.com/pipelines/gh/acme/web/{pipeline}/workflows/{id}/jobs/{number}")),
                }
            })
            .collect();
        let status = if failed {
            Status::Failed
        } else {
            Status::Success
        };
        out.push(IndexedBuild {
            attempt: 1,
            parent_id: None,
            id: id.clone(),
            project: project.to_string(),
            name: name.to_string(),
            status,
            provider_status: status.as_str().into(),
            url: Some(format!(
                "https://app.circleci.com/pipelines/gh/acme/web/{pipeline}/workflows/{id}"
            )),
            pipeline_id: format!("{pipeline:08x}-0000-4000-8000-{:012x}", pipeline),
            pipeline_number: Some(pipeline as i64),
            sha: sha.to_string(),
            branch: Some("main".into()),
            tag: None,
            created_at: ts::format(created),
            stopped_at: Some(ts::format(stopped)),
            jobs_complete: true,
            jobs,
            first_seen: None,
            last_seen: None,
        });
    }
    out
}

/// Stores `total` deploys of `project` (whose build server is `circleci`),
/// each `complete` with its 5 builds, in the order of a real capture: the
/// builds are in the index (one transaction per 1,000 deploys) before the
/// snapshot that freezes them is written, so the final ones are thinned as
/// it is written. Returns the smallest and largest deploy id.
// Not every example that includes this module stores deploys.
#[allow(dead_code)]
pub fn store_complete(store: &Store, org: &str, project: &str, total: usize) -> (i64, i64) {
    let build_project = format!("gh/{org}/{project}");
    let first = ts::now() - Duration::minutes(total as i64);
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    const PER_BATCH: usize = 1000;
    for start in (0..total).step_by(PER_BATCH) {
        let batch: Vec<(usize, String, time::OffsetDateTime, Vec<_>)> = (start
            ..(start + PER_BATCH).min(total))
            .map(|i| {
                let sha = sha(i as u64);
                let deployed_at = first + Duration::minutes(i as i64);
                let builds = builds_of(i as u64, &build_project, &sha, deployed_at);
                (i, sha, deployed_at, builds)
            })
            .collect();
        let indexed: Vec<_> = batch.iter().flat_map(|b| b.3.iter().cloned()).collect();
        assert!(
            store
                .index_builds(org, "circleci", &indexed, None)
                .expect("index")
        );
        for (i, sha, deployed_at, builds) in batch {
            let new = NewDeploy {
                sha,
                environment: None,
                deployed_at: Some(deployed_at),
                code_deployment: None,
            };
            let d = store.register_deploy(org, project, &new).expect("register");
            assert_eq!(d.builds.state, SnapshotState::Pending);
            let snap = FinalSnapshot {
                state: SnapshotState::Complete,
                summary: Summary::Status(if i % 10 == 0 {
                    Status::Failed
                } else {
                    Status::Success
                }),
                // Every build stopped before `deployed_at`: frozen as they are.
                builds: builds
                    .iter()
                    .rev()
                    .map(|b| freeze::freeze_build(b, deployed_at))
                    .collect(),
                explain: None,
                build_project: Some(build_project.clone()),
                captured_at: deployed_at + Duration::seconds(30),
            };
            assert!(store.finish_capture(d.id, &snap).expect("finish"));
            (min, max) = (min.min(d.id), max.max(d.id));
        }
    }
    (min, max)
}
