//! The contract's `status` vocabulary, read the way the host reads it.

use crate::wit::Status;

/// Whether a status never changes again (the host's snapshot rules rely on
/// the same set: success, failed, error, canceled, not-run).
pub fn is_final(s: Status) -> bool {
    matches!(
        s,
        Status::Success | Status::Failed | Status::Error | Status::Canceled | Status::NotRun
    )
}

/// Whether a status means the work went wrong (or is going wrong).
pub fn is_failure(s: Status) -> bool {
    matches!(s, Status::Failed | Status::Error | Status::Failing)
}

/// The status of running work some of whose parts ended: `failing` once a
/// part failed, else `running`. For a build whose jobs are still going.
pub fn while_running(parts: impl IntoIterator<Item = Status>) -> Status {
    if parts
        .into_iter()
        .any(|s| matches!(s, Status::Failed | Status::Error))
    {
        Status::Failing
    } else {
        Status::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_and_failing_statuses() {
        assert!(
            is_final(Status::NotRun) && !is_final(Status::OnHold) && !is_final(Status::Unknown)
        );
        assert!(is_failure(Status::Failing) && !is_failure(Status::Canceled));
        assert_eq!(
            while_running([Status::Success, Status::Failed]),
            Status::Failing
        );
        assert_eq!(
            while_running([Status::Success, Status::Running]),
            Status::Running
        );
    }
}
