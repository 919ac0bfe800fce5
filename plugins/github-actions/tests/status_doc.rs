//! The GitHub status table of `docs/http-api.md` ("Status vocabulary",
//! "GitHub Actions") is what the plugin maps, row by row, both ways: every
//! word the table names maps as it says, and every word GitHub documents is
//! in the table.

use buildsnap_github_actions::status::status;
use buildsnap_github_actions::wit::Status;

/// GitHub's `status` words for runs and jobs.
const STATUSES: &[&str] = &["queued", "requested", "pending", "waiting", "in_progress"];

/// GitHub's `conclusion` words.
const CONCLUSIONS: &[&str] = &[
    "success",
    "failure",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
    "neutral",
    "stale",
    "startup_failure",
];

fn word(s: Status) -> &'static str {
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

fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// The table's rows: (left cell, right cell).
fn rows() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/http-api.md"
    ))
    .expect("docs/http-api.md");
    let start = doc
        .find("| GitHub status (and conclusion) of a run or job | status |")
        .expect("the GitHub status table");
    doc[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 2, "{l}");
            (cells[0].to_owned(), cells[1].to_owned())
        })
        .collect()
}

#[test]
fn the_documented_github_table_is_what_the_plugin_maps() {
    let mut named = Vec::new();
    let rows = rows();
    assert!(rows.len() >= 8, "{rows:?}");
    for (left, right) in &rows {
        let want = code_spans(right)[0];
        let mut cases: Vec<(String, Option<String>)> = Vec::new();
        for w in code_spans(left).into_iter().filter(|w| *w != "completed") {
            if STATUSES.contains(&w) {
                cases.push((w.to_owned(), None));
            } else {
                cases.push(("completed".into(), Some(w.to_owned())));
            }
            named.push(w.to_owned());
        }
        if left.contains("anything else") {
            cases.push(("completed".into(), Some("a-word-github-never-sends".into())));
            cases.push(("a-word-github-never-sends".into(), None));
        }
        assert!(!cases.is_empty(), "{left}");
        for (s, c) in cases {
            assert_eq!(
                word(status(&s, c.as_deref())),
                want,
                "row {left:?}: {s} / {c:?}"
            );
        }
    }
    for w in STATUSES.iter().chain(CONCLUSIONS) {
        assert!(
            named.iter().any(|n| n == w),
            "GitHub's {w:?} is not in the table"
        );
    }
}
