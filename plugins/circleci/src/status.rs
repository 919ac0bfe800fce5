//! CircleCI status words onto buildsnap's vocabulary, exactly as the
//! project's status table lists them. Anything not in the table is
//! `unknown`: guessing would make a snapshot lie.

use crate::wit::Status;

/// A workflow's `status`.
pub fn workflow_status(word: &str) -> Status {
    match word {
        "success" => Status::Success,
        "running" => Status::Running,
        "failing" => Status::Failing,
        "on_hold" => Status::OnHold,
        "failed" => Status::Failed,
        "error" => Status::Error,
        "canceled" => Status::Canceled,
        "not_run" | "unauthorized" => Status::NotRun,
        _ => Status::Unknown,
    }
}

/// A job's `status`. `retried` is deliberately `unknown`: CircleCI does not
/// say what a retried job's outcome was.
pub fn job_status(word: &str) -> Status {
    match word {
        "success" => Status::Success,
        "running" => Status::Running,
        "queued" | "not_running" | "blocked" => Status::Queued,
        "on_hold" => Status::OnHold,
        "failed" | "timedout" => Status::Failed,
        "infrastructure_fail" | "terminated-unknown" => Status::Error,
        "canceled" => Status::Canceled,
        "not_run" | "unauthorized" => Status::NotRun,
        _ => Status::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_table() {
        let table = [
            ("success", Status::Success),
            ("running", Status::Running),
            ("failing", Status::Failing),
            ("on_hold", Status::OnHold),
            ("failed", Status::Failed),
            ("error", Status::Error),
            ("canceled", Status::Canceled),
            ("not_run", Status::NotRun),
            ("unauthorized", Status::NotRun),
            ("queued", Status::Unknown),
            ("SUCCESS", Status::Unknown),
            ("", Status::Unknown),
        ];
        for (word, want) in table {
            assert_eq!(workflow_status(word), want, "{word}");
        }
    }

    #[test]
    fn job_table() {
        let table = [
            ("success", Status::Success),
            ("running", Status::Running),
            ("queued", Status::Queued),
            ("not_running", Status::Queued),
            ("blocked", Status::Queued),
            ("on_hold", Status::OnHold),
            ("failed", Status::Failed),
            ("timedout", Status::Failed),
            ("infrastructure_fail", Status::Error),
            ("terminated-unknown", Status::Error),
            ("canceled", Status::Canceled),
            ("not_run", Status::NotRun),
            ("unauthorized", Status::NotRun),
            ("retried", Status::Unknown),
            ("failing", Status::Unknown),
            ("error", Status::Unknown),
        ];
        for (word, want) in table {
            assert_eq!(job_status(word), want, "{word}");
        }
    }
}
