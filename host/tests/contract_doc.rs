//! `docs/http-api.md` is held to the binary and the CircleCI plugin: its
//! settings table lists exactly the options of `buildsnap serve --help`,
//! with their environment variables and defaults, and its CircleCI status
//! tables are what the plugin maps. (The route table is checked against
//! the OpenAPI document in `host/api/tests/contract_doc.rs`.)

#[path = "../api/tests/doc_tables/mod.rs"]
mod doc_tables;

use std::collections::BTreeMap;
use std::process::Command;

use buildsnap_circleci::status::{job_status, workflow_status};
use buildsnap_circleci::wit::Status;
use doc_tables::{code_spans, read_doc, table};

fn doc() -> String {
    read_doc(env!("CARGO_MANIFEST_DIR"), "..")
}

/// One option of `serve --help`: its environment variable and default.
#[derive(Debug, Default, PartialEq)]
struct HelpOption {
    env: Option<String>,
    default: Option<String>,
}

/// The text between `[key: ` and the next `]` of `block`.
fn bracketed<'a>(block: &'a str, key: &str) -> Option<&'a str> {
    let start = block.find(&format!("[{key}: "))? + key.len() + 3;
    let len = block[start..].find(']')?;
    Some(&block[start..start + len])
}

/// Every `--flag` of `buildsnap serve --help` but `--help`, with the
/// `[env: ..]` and `[default: ..]` clap prints in its description.
fn serve_help() -> BTreeMap<String, HelpOption> {
    let out = Command::new(env!("CARGO_BIN_EXE_buildsnap"))
        .args(["serve", "--help"])
        .output()
        .expect("run buildsnap serve --help");
    assert!(out.status.success(), "serve --help failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("help is UTF-8");
    // Each option starts a line with `--flag` (or `-h, --flag`); its
    // description runs until the next option.
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let t = t
            .split_once(", ")
            .filter(|(s, _)| s.len() == 2)
            .map_or(t, |(_, r)| r);
        if let Some(rest) = t.strip_prefix("--") {
            let name = rest.split([' ', '=']).next().unwrap_or_default();
            blocks.push((format!("--{name}"), String::new()));
        } else if let Some((_, block)) = blocks.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    assert!(!blocks.is_empty(), "no options found in:\n{text}");
    blocks
        .into_iter()
        .filter(|(flag, _)| flag != "--help")
        .map(|(flag, block)| {
            let env = bracketed(&block, "env").map(|e| e.trim_end_matches('=').to_string());
            let default = bracketed(&block, "default").map(str::to_string);
            (flag, HelpOption { env, default })
        })
        .collect()
}

/// The settings table: flag → (env, default cell).
fn documented_settings() -> BTreeMap<String, (Option<String>, String)> {
    let mut settings = BTreeMap::new();
    for row in table(&doc(), &["env", "flag", "default", "meaning"]) {
        let flag = code_spans(&row[1]);
        assert_eq!(flag.len(), 1, "one flag per settings row: {row:?}");
        let env = match row[0].as_str() {
            "—" => None,
            cell => {
                let env = code_spans(cell);
                assert_eq!(env.len(), 1, "one env per settings row: {row:?}");
                Some(env[0].clone())
            }
        };
        let new = settings.insert(flag[0].clone(), (env, row[2].clone()));
        assert!(new.is_none(), "setting listed twice: {row:?}");
    }
    settings
}

#[test]
fn settings_table_is_what_serve_help_lists() {
    let help = serve_help();
    let documented = documented_settings();
    let undocumented: Vec<&String> = help
        .keys()
        .filter(|f| !documented.contains_key(*f))
        .collect();
    let unknown: Vec<&String> = documented
        .keys()
        .filter(|f| !help.contains_key(*f))
        .collect();
    assert!(
        undocumented.is_empty(),
        "options of `buildsnap serve --help` missing from the settings table of docs/http-api.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "settings in docs/http-api.md that `buildsnap serve --help` does not list: {unknown:?}"
    );
    for (flag, (env, default_cell)) in &documented {
        let h = &help[flag];
        assert_eq!(env, &h.env, "environment variable of {flag}");
        match h.default.as_deref() {
            Some("\"\"") => assert_eq!(default_cell, "empty", "default of {flag}"),
            Some(d) => assert!(
                code_spans(default_cell).iter().any(|s| s == d),
                "the default of {flag} is `{d}`; docs/http-api.md says {default_cell:?}"
            ),
            None => {}
        }
    }
}

/// buildsnap's word for a plugin status (`Status::OnHold` → `on_hold`).
fn word(s: Status) -> String {
    let debug = format!("{s:?}");
    let name = debug.rsplit("::").next().unwrap_or_default();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Each row of a status table: every provider word in the left cell maps
/// to the status in the right one, and "anything else" means a word the
/// provider never sends does.
fn check_table(header: &str, map: fn(&str) -> Status) {
    for row in table(&doc(), &[header, "status"]) {
        let expected = code_spans(&row[1]);
        assert_eq!(expected.len(), 1, "one status per row: {row:?}");
        let mut words = code_spans(&row[0]);
        if row[0].contains("anything else") {
            words.push("a-word-circleci-never-sends".into());
        }
        assert!(!words.is_empty(), "no CircleCI word in {row:?}");
        for w in words {
            assert_eq!(word(map(&w)), expected[0], "{header} `{w}`");
        }
    }
}

#[test]
fn circleci_status_tables_are_what_the_plugin_maps() {
    assert_eq!(word(Status::OnHold), "on_hold");
    check_table("CircleCI workflow status", workflow_status);
    check_table("CircleCI job status", job_status);
}
