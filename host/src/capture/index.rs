//! Conversions between the plugin contract's records and the store's index
//! records, and the index-first decision.

use buildsnap_store::ts::OffsetDateTime;
use buildsnap_store::{IndexLookup, IndexedBuild, IndexedJob};

use crate::runtime::wit::{Build, Job, Status};

/// buildsnap's status word (the HTTP API's spelling).
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Queued => "queued",
        Status::Running => "running",
        Status::Failing => "failing",
        Status::OnHold => "on_hold",
        Status::Success => "success",
        Status::Failed => "failed",
        Status::Error => "error",
        Status::Canceled => "canceled",
        Status::NotRun => "not_run",
        Status::Unknown => "unknown",
    }
}

/// Timestamps in the index are normalised RFC 3339 UTC; an unreadable one
/// is kept as given (freezing then ignores it).
fn norm(t: String) -> String {
    buildsnap_store::ts::parse(&t)
        .map(buildsnap_store::ts::format)
        .unwrap_or(t)
}

fn job(j: Job) -> IndexedJob {
    IndexedJob {
        id: j.id,
        name: j.name,
        number: j.number.map(|n| n as i64),
        kind: j.kind,
        status: status_word(j.status).into(),
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
        status: status_word(b.status).into(),
        provider_status: b.provider_status,
        url: b.url,
        pipeline_id: b.pipeline_id,
        pipeline_number: b.pipeline_number.map(|n| n as i64),
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
