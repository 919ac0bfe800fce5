//! Reading the tables of `docs/http-api.md`, for the tests that hold the
//! document to the code (`host/api/tests/contract_doc.rs` and
//! `host/tests/contract_doc.rs`, which includes this file by path).
//!
//! A table is found by its header row, not by its position, so prose and
//! sections can move without breaking the tests; a table that is missing
//! or has a row of the wrong width fails loudly instead of checking nothing.

#![allow(dead_code)] // each including test uses a part

use std::path::Path;

/// The text of `docs/http-api.md`, given the including crate's manifest dir
/// and the relative path from it to the repository root.
pub fn read_doc(manifest_dir: &str, to_root: &str) -> String {
    let path = Path::new(manifest_dir)
        .join(to_root)
        .join("docs/http-api.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The cells of one table line (`| a | b |`), trimmed; `None` for a line
/// that is not a table line.
fn cells(line: &str) -> Option<Vec<String>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(|c| c.trim().to_string()).collect())
}

/// The body rows of the one table whose header row is exactly `header`.
/// Panics when there is no such table, more than one, a row whose width
/// differs from the header's, or no rows at all.
pub fn table(doc: &str, header: &[&str]) -> Vec<Vec<String>> {
    let lines: Vec<&str> = doc.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| cells(lines[i]).is_some_and(|c| c == header))
        .collect();
    assert_eq!(
        starts.len(),
        1,
        "docs/http-api.md must have exactly one table headed {header:?}"
    );
    let mut rows = Vec::new();
    // Skip the header and the `| --- |` separator.
    for line in &lines[starts[0] + 2..] {
        let Some(row) = cells(line) else { break };
        assert_eq!(
            row.len(),
            header.len(),
            "row of the {header:?} table has the wrong number of cells: {line}"
        );
        rows.push(row);
    }
    assert!(!rows.is_empty(), "the {header:?} table has no rows");
    rows
}

/// The `code` spans of a cell, in order (`` `a`, `b` `` → `["a", "b"]`).
pub fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}
