//! The worker's pure decisions: the snapshot from the builds found, what a
//! failed search ends with, when a deploy is not due yet.

use std::time::Duration;

use buildsnap_domain::{
    IndexedBuild, IndexedJob, JobKind, SearchReport, SnapshotState, Status, StopReason, Summary,
};
use buildsnap_store::ts;

use super::*;

const AS_OF: &str = "2025-06-01T12:00:00Z";
const SHA_A: &str = "abcdef1000000000000000000000000000000000";
const SHA_B: &str = "abcdef2000000000000000000000000000000000";

fn ids(sha: &str) -> CaptureIds {
    CaptureIds {
        deploy_id: 7,
        org: "acme".into(),
        provider: "circleci".into(),
        project: "gh/acme/api".into(),
        sha: sha.into(),
        as_of: ts::parse(AS_OF).unwrap(),
        attempts: 2,
        branch_only: None,
    }
}

fn build(
    id: &str,
    sha: &str,
    status: Status,
    created: &str,
    stopped: Option<&str>,
) -> IndexedBuild {
    IndexedBuild {
        attempt: 1,
        parent_id: None,
        id: id.into(),
        project: "gh/acme/api".into(),
        name: "build-test".into(),
        status,
        provider_status: status.as_str().into(),
        url: None,
        pipeline_id: format!("p-{id}"),
        pipeline_number: Some(1),
        sha: sha.into(),
        branch: Some("main".into()),
        tag: None,
        created_at: created.into(),
        stopped_at: stopped.map(str::to_string),
        jobs_complete: true,
        jobs: vec![IndexedJob {
            id: format!("{id}-job"),
            name: "test".into(),
            number: Some(1),
            kind: JobKind::Build,
            status,
            provider_status: status.as_str().into(),
            started_at: Some(created.into()),
            stopped_at: stopped.map(str::to_string),
            url: None,
        }],
        first_seen: None,
        last_seen: None,
    }
}

fn report() -> SearchReport {
    SearchReport {
        oldest_searched: None,
        pages_fetched: 1,
        pipelines_searched: 6,
        stopped_because: StopReason::EndOfHistory,
        without_commit: 0,
    }
}

#[test]
fn the_builds_of_the_commit_are_frozen_and_summed_up() {
    let builds = [
        build(
            "ok",
            SHA_A,
            Status::Success,
            "2025-06-01T11:00:00Z",
            Some("2025-06-01T11:10:00Z"),
        ),
        // Another commit of the project: not part of this snapshot.
        build(
            "other",
            "ffff",
            Status::Failed,
            "2025-06-01T11:00:00Z",
            Some("2025-06-01T11:10:00Z"),
        ),
        build(
            "late",
            SHA_A,
            Status::Failed,
            "2025-06-01T12:30:00Z",
            Some("2025-06-01T12:40:00Z"),
        ),
    ];
    // A short, upper-case SHA matches the full lower-case one.
    let snap = decide(&ids("ABCDEF1"), &builds, Some(&report()));
    assert_eq!(snap.state, SnapshotState::Complete);
    assert_eq!(snap.summary, Summary::Status(Status::Success));
    let kept: Vec<&str> = snap.builds.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(kept, ["ok"], "created after as_of: left out");
    assert_eq!(snap.explain, None);
    assert_eq!(snap.build_project.as_deref(), Some("gh/acme/api"));
}

#[test]
fn a_prefix_of_two_commits_is_an_error_naming_both() {
    let builds = [
        build("a", SHA_A, Status::Success, "2025-06-01T11:00:00Z", None),
        build("b", SHA_B, Status::Success, "2025-06-01T11:00:00Z", None),
    ];
    let snap = decide(&ids("abcdef"), &builds, None);
    assert_eq!(snap.state, SnapshotState::Error);
    assert_eq!(snap.summary, Summary::None);
    assert!(snap.builds.is_empty());
    let why = snap.explain.unwrap();
    assert!(why.starts_with("ambiguous commit: abcdef"), "{why}");
    assert!(why.contains(SHA_A) && why.contains(SHA_B), "{why}");
}

#[test]
fn an_empty_snapshot_says_why() {
    // Nothing found: what the search looked at, when there is a report.
    let snap = decide(&ids(SHA_A), &[], Some(&report()));
    assert_eq!(
        (snap.state, snap.summary),
        (SnapshotState::Complete, Summary::None)
    );
    let why = snap.explain.unwrap();
    assert!(
        why.starts_with("not found: no circleci pipeline of project gh/acme/api"),
        "{why}"
    );
    assert!(why.contains("6 most recent pipelines"), "{why}");
    let snap = decide(&ids(SHA_A), &[], None);
    assert_eq!(
        snap.explain.as_deref(),
        Some(
            format!("not found: no circleci build of commit {SHA_A} in project gh/acme/api")
                .as_str()
        )
    );
    // Found, but every build came after the deploy.
    let late = [build(
        "late",
        SHA_A,
        Status::Running,
        "2025-06-01T12:00:01Z",
        None,
    )];
    let snap = decide(&ids(SHA_A), &late, Some(&report()));
    assert_eq!(
        (snap.state, snap.summary),
        (SnapshotState::Complete, Summary::None)
    );
    let why = snap.explain.unwrap();
    assert!(
        why.starts_with("no build existed at deploy time: the 1 circleci build"),
        "{why}"
    );
    assert!(why.contains("created after 2025-06-01T12:00:00Z"), "{why}");
}

#[test]
fn a_failed_search_retries_when_transient_and_explains_otherwise() {
    let asked = Some(Duration::from_secs(7));
    let transient = Failure::Transient {
        reason: "rate limited".into(),
        at_least: asked,
    };
    match after_failure(&ids(SHA_A), transient, |at_least| {
        assert_eq!(at_least, asked, "the provider's wait reaches the backoff");
        Duration::from_secs(9)
    }) {
        Outcome::Retry { reason, after } => {
            assert_eq!(
                (reason.as_str(), after),
                ("rate limited", Duration::from_secs(9))
            );
        }
        other => panic!("{other:?}"),
    }
    let no_delay = |_| -> Duration { panic!("only transient failures wait") };
    for (failure, starts) in [
        (
            Failure::Unauthorized("bad token".into()),
            "the circleci integration's token was rejected (bad token)",
        ),
        (
            Failure::NotFound("404".into()),
            "project not accessible: circleci does not show project gh/acme/api",
        ),
        (
            Failure::Fatal("host not allowed".into()),
            "host not allowed",
        ),
    ] {
        let Outcome::Done(snap) = after_failure(&ids(SHA_A), failure, no_delay) else {
            panic!("a final snapshot");
        };
        assert_eq!(snap.state, SnapshotState::Error);
        assert_eq!(snap.build_project.as_deref(), Some("gh/acme/api"));
        let why = snap.explain.unwrap();
        assert!(why.starts_with(starts), "{why}");
    }
}

#[test]
fn a_deploy_more_than_a_second_ahead_is_deferred_to_its_time() {
    let now = ts::parse(AS_OF).unwrap();
    assert!(not_due(now, now).is_none());
    assert!(not_due(now + Duration::from_secs(1), now).is_none());
    let later = now + Duration::from_secs(2);
    assert!(matches!(not_due(later, now), Some(Outcome::Defer(t)) if t == later));
}

#[test]
fn the_identifiers_come_from_the_job_and_the_resolved_project() {
    let job = buildsnap_store::CaptureJob {
        deploy_id: 3,
        org: "acme".into(),
        project: "web".into(),
        code_deployment: "main".into(),
        repo_url: "https://github.com/acme/web".into(),
        branch: "main".into(),
        build_project: None,
        provider: "circleci".into(),
        sha: SHA_A.into(),
        deployed_at: ts::parse(AS_OF).unwrap(),
        attempts: 4,
        branch_builds_only: false,
    };
    let ids = CaptureIds::new(&job, "gh/acme/web".into());
    assert_eq!(
        (
            ids.deploy_id,
            ids.org.as_str(),
            ids.provider.as_str(),
            ids.project.as_str()
        ),
        (3, "acme", "circleci", "gh/acme/web")
    );
    assert_eq!(
        (ids.sha.as_str(), ids.as_of, ids.attempts),
        (SHA_A, job.deployed_at, 4)
    );
    assert_eq!(ids.branch_only, None);
    let only = buildsnap_store::CaptureJob {
        branch_builds_only: true,
        ..job
    };
    assert_eq!(
        CaptureIds::new(&only, "gh/acme/web".into())
            .branch_only
            .as_deref(),
        Some("main")
    );
}

#[test]
fn the_branch_rule_leaves_out_builds_of_other_branches_and_says_how_many() {
    let on = |branch: Option<&str>, id: &str, status: Status| IndexedBuild {
        branch: branch.map(str::to_string),
        ..build(
            id,
            SHA_A,
            status,
            "2025-06-01T11:00:00Z",
            Some("2025-06-01T11:05:00Z"),
        )
    };
    let builds = [
        on(Some("main"), "w-main", Status::Success),
        on(Some("feature/x"), "w-feature", Status::Failed),
        on(None, "w-none", Status::Failed),
    ];
    // Off: every branch counts, and the failure shows.
    let all = decide(&ids(SHA_A), &builds, Some(&report()));
    assert_eq!((all.builds.len(), all.summary.as_str()), (3, "failed"));
    assert_eq!(all.explain, None);
    // On: the branch's builds only, and the explanation counts the rest.
    let rule = CaptureIds {
        branch_only: Some("main".into()),
        ..ids(SHA_A)
    };
    let snap = decide(&rule, &builds, Some(&report()));
    let kept: Vec<&str> = snap.builds.iter().map(|b| b.id.as_str()).collect();
    assert_eq!((kept, snap.summary.as_str()), (vec!["w-main"], "success"));
    assert_eq!(
        snap.explain.as_deref(),
        Some(
            "2 builds of other branches (feature/x, no branch) left out: this code deployment takes builds of branch main only."
        )
    );
    // Only other branches: empty, and said why.
    let other = decide(&rule, &builds[1..2], Some(&report()));
    assert!(other.builds.is_empty());
    assert_eq!(
        (other.state, other.summary.as_str()),
        (SnapshotState::Complete, "none")
    );
    assert_eq!(
        other.explain.as_deref(),
        Some(
            "1 build of other branches (feature/x) left out: this code deployment takes builds of branch main only."
        )
    );
}

#[test]
fn a_job_list_cut_short_is_asked_again_while_half_the_attempts_are_left() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let whole = build("w1", sha, Status::Success, "2025-01-01T11:00:00Z", None);
    let cut = IndexedBuild {
        jobs_complete: false,
        jobs: vec![],
        ..build("w2", sha, Status::Success, "2025-01-01T11:00:00Z", None)
    };
    assert_eq!(reread_incomplete(1, 8, std::slice::from_ref(&whole)), None);
    let both = [whole, cut];
    let reason = reread_incomplete(1, 8, &both).expect("asked again");
    assert!(reason.contains("1 build(s)"), "{reason}");
    assert!(reread_incomplete(3, 8, &both).is_some());
    // Half the attempts used: taken as incomplete (a retention 404 is one).
    assert_eq!(reread_incomplete(4, 8, &both), None);
    assert_eq!(reread_incomplete(1, 2, &both), None);
}
