//! `buildsnap gate`: wait for a commit's builds and say whether a deploy of
//! it may go ahead, as an exit code a pipeline step can act on.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use super::client::{ApiClient, percent};

/// What the gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every build passed: exit 0.
    Passed,
    /// A build failed, errored or was canceled, or there are none: exit 1.
    Failed,
    /// Still running, queued or on hold at the timeout: exit 2.
    Running,
}

impl Verdict {
    /// The exit code of this verdict.
    pub const fn exit_code(self) -> u8 {
        match self {
            Verdict::Passed => 0,
            Verdict::Failed => 1,
            Verdict::Running => 2,
        }
    }
}

/// The verdict of a commit's summary word. A word this version does not
/// know fails the gate: letting an unknown state through is the unsafe
/// side.
pub fn verdict(summary: &str) -> Verdict {
    match summary {
        "success" => Verdict::Passed,
        "running" | "queued" | "on_hold" => Verdict::Running,
        _ => Verdict::Failed,
    }
}

/// Asks for the commit's builds, waiting up to `timeout` for them to be
/// final, prints one line per build and the verdict on `out`, and returns
/// the exit code.
pub async fn gate(
    client: &ApiClient,
    project: &str,
    sha: &str,
    timeout: Duration,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let path = format!(
        "/projects/{}/commits/{}/builds?wait=final&timeout={}",
        percent(project),
        percent(sha),
        timeout.as_secs()
    );
    // The server answers by the timeout; the margin covers the transfer.
    let answer = client.get(&path, timeout + Duration::from_secs(30)).await?;
    let builds = answer["builds"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for b in builds {
        writeln!(out, "{}", build_line(b))?;
    }
    let summary = answer["summary"].as_str().unwrap_or("unknown");
    let v = verdict(summary);
    let why = match v {
        Verdict::Passed => "passed".to_string(),
        Verdict::Failed if builds.is_empty() => {
            let explain = answer["explain"]
                .as_str()
                .unwrap_or("no builds of this commit");
            format!("failed: no builds ({explain})")
        }
        Verdict::Failed => format!("failed: {summary}"),
        Verdict::Running => format!("still {summary} after {} s", timeout.as_secs()),
    };
    writeln!(out, "gate {}: {why}", short(sha))?;
    Ok(v.exit_code())
}

/// `status  name  (pipeline #n)  url` for one build.
fn build_line(b: &Value) -> String {
    let s = |k: &str| b[k].as_str().unwrap_or("");
    let mut line = format!("{:<9} {}", s("status"), s("name"));
    if let Some(n) = b["pipeline_number"].as_i64() {
        line.push_str(&format!(" (pipeline #{n})"));
    }
    if !s("url").is_empty() {
        line.push_str("  ");
        line.push_str(s("url"));
    }
    line
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_summary_word_has_the_contract_s_verdict() {
        assert_eq!(verdict("success"), Verdict::Passed);
        for w in [
            "failed", "failing", "error", "canceled", "none", "not_run", "unknown", "?",
        ] {
            assert_eq!(verdict(w), Verdict::Failed, "{w}");
        }
        for w in ["running", "queued", "on_hold"] {
            assert_eq!(verdict(w), Verdict::Running, "{w}");
        }
        assert_eq!(
            [Verdict::Passed, Verdict::Failed, Verdict::Running].map(Verdict::exit_code),
            [0, 1, 2]
        );
    }

    #[test]
    fn a_build_line_names_status_name_pipeline_and_link() {
        let b = serde_json::json!({"status": "success", "name": "build", "pipeline_number": 7,
                                   "url": "https://app.circleci.com/x"});
        assert_eq!(
            build_line(&b),
            "success   build (pipeline #7)  https://app.circleci.com/x"
        );
        assert_eq!(
            build_line(&serde_json::json!({"status": "failed", "name": "lint"})),
            "failed    lint"
        );
    }
}
