//! GitHub's words onto buildsnap's status vocabulary: exactly the GitHub
//! table of `docs/http-api.md` ("Status vocabulary"), which a test holds
//! this module to.

use crate::wit::Status;

/// The status of a run or a job from GitHub's `status` and `conclusion`.
///
/// A run `in_progress` is `running` here; [`run_status`] makes it `failing`
/// when one of its attempt's jobs has already failed.
pub fn status(status: &str, conclusion: Option<&str>) -> Status {
    match status {
        "queued" | "requested" | "pending" => Status::Queued,
        "waiting" => Status::OnHold,
        "in_progress" => Status::Running,
        "completed" => match conclusion {
            Some("success") => Status::Success,
            Some("failure" | "timed_out") => Status::Failed,
            Some("cancelled") => Status::Canceled,
            Some("skipped") => Status::NotRun,
            Some("startup_failure") => Status::Error,
            Some("action_required") => Status::OnHold,
            // `neutral`, `stale`, none, anything new.
            _ => Status::Unknown,
        },
        _ => Status::Unknown,
    }
}

/// True when a job's conclusion makes a run in progress `failing`.
pub fn job_has_failed(conclusion: Option<&str>) -> bool {
    matches!(conclusion, Some("failure" | "timed_out"))
}

/// A run's (one attempt's) status, given the conclusions of that attempt's
/// jobs as far as they are known.
pub fn run_status<'a>(
    run_status: &str,
    conclusion: Option<&str>,
    mut job_conclusions: impl Iterator<Item = Option<&'a str>>,
) -> Status {
    match status(run_status, conclusion) {
        Status::Running if job_conclusions.any(job_has_failed) => Status::Failing,
        s => s,
    }
}

/// `provider-status`: GitHub's `status` while not completed, its
/// `conclusion` once completed (`completed` itself when GitHub sent none).
pub fn provider_word(status: &str, conclusion: Option<&str>) -> String {
    match (status, conclusion) {
        ("completed", Some(c)) => c.to_owned(),
        (s, _) => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_map_as_the_table_says() {
        let cases = [
            ("queued", None, Status::Queued),
            ("requested", None, Status::Queued),
            ("pending", None, Status::Queued),
            ("waiting", None, Status::OnHold),
            ("in_progress", None, Status::Running),
            ("completed", Some("success"), Status::Success),
            ("completed", Some("failure"), Status::Failed),
            ("completed", Some("timed_out"), Status::Failed),
            ("completed", Some("cancelled"), Status::Canceled),
            ("completed", Some("skipped"), Status::NotRun),
            ("completed", Some("startup_failure"), Status::Error),
            ("completed", Some("action_required"), Status::OnHold),
            ("completed", Some("neutral"), Status::Unknown),
            ("completed", Some("stale"), Status::Unknown),
            ("completed", None, Status::Unknown),
            ("a-new-word", None, Status::Unknown),
        ];
        for (s, c, want) in cases {
            assert_eq!(status(s, c), want, "{s} / {c:?}");
        }
    }

    #[test]
    fn a_failed_job_makes_a_run_in_progress_failing_and_nothing_else() {
        let failed = [Some("success"), Some("failure")];
        let timed_out = [None, Some("timed_out")];
        let fine = [None, Some("success"), Some("skipped")];
        assert_eq!(
            run_status("in_progress", None, failed.into_iter()),
            Status::Failing
        );
        assert_eq!(
            run_status("in_progress", None, timed_out.into_iter()),
            Status::Failing
        );
        assert_eq!(
            run_status("in_progress", None, fine.into_iter()),
            Status::Running
        );
        // Only a run in progress: a waiting or finished one keeps its word.
        assert_eq!(
            run_status("waiting", None, failed.into_iter()),
            Status::OnHold
        );
        assert_eq!(
            run_status("completed", Some("success"), failed.into_iter()),
            Status::Success
        );
    }

    #[test]
    fn provider_word_is_the_status_until_completed() {
        assert_eq!(provider_word("in_progress", None), "in_progress");
        assert_eq!(provider_word("completed", Some("cancelled")), "cancelled");
        assert_eq!(provider_word("completed", None), "completed");
    }
}
