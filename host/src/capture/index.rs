//! The one place where the plugin contract's records become domain
//! records (statuses, job kinds, timestamps, search reports), and the
//! index-first decision.

use buildsnap_domain::{IndexedBuild, IndexedJob, JobKind, SearchReport, Status, StopReason};
use buildsnap_store::IndexLookup;
use buildsnap_store::ts::{self, OffsetDateTime};

use crate::runtime::wit::{self, Build, Job};

/// The domain status of the contract's status (the two vocabularies are
/// the same words; a new contract word must be placed here).
pub fn status(s: wit::Status) -> Status {
    match s {
        wit::Status::Queued => Status::Queued,
        wit::Status::Running => Status::Running,
        wit::Status::Failing => Status::Failing,
        wit::Status::OnHold => Status::OnHold,
        wit::Status::Success => Status::Success,
        wit::Status::Failed => Status::Failed,
        wit::Status::Error => Status::Error,
        wit::Status::Canceled => Status::Canceled,
        wit::Status::NotRun => Status::NotRun,
        wit::Status::Unknown => Status::Unknown,
    }
}

/// Timestamps in the index are normalised RFC 3339 UTC; an unreadable one
/// is kept as given (freezing then ignores it).
fn norm(t: String) -> String {
    ts::parse(&t).map(ts::format).unwrap_or(t)
}

/// A webhook's job update as the index's.
pub fn job_update_from_wit(u: wit::JobUpdate) -> buildsnap_domain::JobUpdate {
    let mut sha = u.sha;
    sha.make_ascii_lowercase();
    buildsnap_domain::JobUpdate {
        build_id: u.build_id,
        sha,
        job: job(u.job),
    }
}

fn job(j: Job) -> IndexedJob {
    IndexedJob {
        id: j.id,
        name: j.name,
        number: j.number.map(|n| n as i64),
        kind: match j.kind {
            wit::JobKind::Build => JobKind::Build,
            wit::JobKind::Approval => JobKind::Approval,
            wit::JobKind::Other(word) => JobKind::Other(word),
        },
        status: status(j.status),
        provider_status: j.provider_status,
        started_at: j.started_at.map(norm),
        stopped_at: j.stopped_at.map(norm),
        url: j.url,
    }
}

/// A plugin build as an index record of `project`. Takes the build by
/// value: its strings were just lifted out of the plugin and move into the
/// record instead of being copied a second time (a search can return
/// 10,000 jobs, about 95,000 strings).
pub fn from_wit(b: Build, project: &str) -> IndexedBuild {
    let mut sha = b.sha;
    sha.make_ascii_lowercase();
    IndexedBuild {
        id: b.id,
        project: project.to_string(),
        name: b.name,
        status: status(b.status),
        provider_status: b.provider_status,
        url: b.url,
        pipeline_id: b.pipeline_id,
        pipeline_number: b.pipeline_number.map(|n| n as i64),
        attempt: b.attempt.max(1),
        parent_id: b.parent_id,
        sha,
        branch: b.branch,
        tag: b.tag,
        created_at: norm(b.created_at),
        stopped_at: b.stopped_at.map(norm),
        jobs_complete: b.jobs_complete,
        jobs: b.jobs.into_iter().map(job).collect(),
        first_seen: None,
        last_seen: None,
    }
}

/// The plugin's search report as the domain's.
pub fn report_from_wit(r: wit::SearchReport) -> SearchReport {
    SearchReport {
        oldest_searched: r.oldest_searched,
        pages_fetched: r.pages_fetched,
        pipelines_searched: r.pipelines_searched,
        stopped_because: match r.stopped_because {
            wit::StopReason::Horizon => StopReason::Horizon,
            wit::StopReason::NotBefore => StopReason::NotBefore,
            wit::StopReason::EndOfHistory => StopReason::EndOfHistory,
            wit::StopReason::PastMatches => StopReason::PastMatches,
            wit::StopReason::PageLoop => StopReason::PageLoop,
            wit::StopReason::FilterExhausted => StopReason::FilterExhausted,
            wit::StopReason::FilterCap => StopReason::FilterCap,
        },
        without_commit: r.without_commit,
    }
}

/// Whether the index alone determines the snapshot as of `as_of`: a commit
/// search for exactly this SHA (or prefix) was stored at or after `as_of`.
/// Every build that existed at `as_of` existed at that search, so it is in
/// the index; and every indexed build was observed at or after `as_of`, so
/// its state then follows from its timestamps (stopped by then or not,
/// jobs started by then or not). Webhooks and sync add and refresh builds
/// but never prove that no other pipeline built the commit, so they do not
/// count as a search.
pub fn index_suffices(lookup: &IndexLookup, as_of: OffsetDateTime) -> bool {
    lookup
        .search
        .as_ref()
        .is_some_and(|s| i128::from(s.searched_at_nanos) >= as_of.unix_timestamp_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit_job(kind: wit::JobKind, status: wit::Status) -> Job {
        Job {
            id: "j1".into(),
            name: "test".into(),
            number: Some(7),
            kind,
            attempt: 1,
            status,
            provider_status: "theirs".into(),
            started_at: Some("2025-06-01T14:00:00+02:00".into()),
            stopped_at: Some("whenever".into()),
            url: None,
        }
    }

    fn wit_build(jobs: Vec<Job>) -> Build {
        Build {
            id: "wf".into(),
            name: "build-test".into(),
            status: wit::Status::OnHold,
            provider_status: "on_hold".into(),
            url: None,
            pipeline_id: "p1".into(),
            pipeline_number: Some(3),
            attempt: 1,
            parent_id: None,
            sha: "ABCDEF1".into(),
            branch: Some("main".into()),
            tag: None,
            created_at: "2025-06-01T12:00:00.500+00:00".into(),
            stopped_at: None,
            jobs_complete: false,
            jobs,
        }
    }

    #[test]
    fn every_contract_status_maps_to_the_domain_word_of_the_same_name() {
        let all = [
            (wit::Status::Queued, "queued"),
            (wit::Status::Running, "running"),
            (wit::Status::Failing, "failing"),
            (wit::Status::OnHold, "on_hold"),
            (wit::Status::Success, "success"),
            (wit::Status::Failed, "failed"),
            (wit::Status::Error, "error"),
            (wit::Status::Canceled, "canceled"),
            (wit::Status::NotRun, "not_run"),
            (wit::Status::Unknown, "unknown"),
        ];
        assert_eq!(all.len(), Status::ALL.len());
        for (s, word) in all {
            assert_eq!(status(s).as_str(), word);
        }
    }

    #[test]
    fn a_plugin_build_becomes_a_normalised_index_record() {
        let b = from_wit(
            wit_build(vec![
                wit_job(wit::JobKind::Approval, wit::Status::OnHold),
                wit_job(wit::JobKind::Build, wit::Status::Success),
                wit_job(
                    wit::JobKind::Other("manual-gate".into()),
                    wit::Status::Queued,
                ),
            ]),
            "gh/acme/api",
        );
        assert_eq!(b.project, "gh/acme/api");
        assert_eq!(b.sha, "abcdef1");
        assert_eq!(b.status, Status::OnHold);
        assert_eq!(b.created_at, "2025-06-01T12:00:00.5Z");
        assert!(!b.jobs_complete);
        let kinds: Vec<&JobKind> = b.jobs.iter().map(|j| &j.kind).collect();
        assert_eq!(
            kinds,
            [
                &JobKind::Approval,
                &JobKind::Build,
                &JobKind::Other("manual-gate".into())
            ]
        );
        let j = &b.jobs[1];
        assert_eq!((j.status, j.number), (Status::Success, Some(7)));
        assert_eq!(j.provider_status, "theirs");
        assert_eq!(j.started_at.as_deref(), Some("2025-06-01T12:00:00Z"));
        assert_eq!(j.stopped_at.as_deref(), Some("whenever"), "kept as given");
    }

    #[test]
    fn a_plugin_report_keeps_every_count_and_names_its_stop() {
        let r = report_from_wit(wit::SearchReport {
            pipelines_searched: 12,
            pages_fetched: 2,
            oldest_searched: Some("2025-06-01T10:00:00Z".into()),
            stopped_because: wit::StopReason::EndOfHistory,
            without_commit: 1,
        });
        assert_eq!(
            (r.pipelines_searched, r.pages_fetched, r.without_commit),
            (12, 2, 1)
        );
        assert_eq!(r.stopped_because, StopReason::EndOfHistory);
        assert_eq!(r.oldest_searched.as_deref(), Some("2025-06-01T10:00:00Z"));
    }
}
