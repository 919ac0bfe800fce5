//! Snapshots stay byte-compatible across the typed snapshot domain.
//!
//! `tests/fixtures/snapshot-compat/` holds a database written by the code
//! before the domain types existed (commit c7cb847, when snapshots were
//! built as `serde_json::json!` maps) and the exact texts that code served
//! from it (see its README). These tests hold today's code to that text:
//! reading the old database, freezing the same inputs, and writing the same
//! deploys afresh must all give the same bytes.
//!
//! `BUILDSNAP_WRITE_FIXTURES=1` regenerates the fixture with today's code
//! instead (only for a change of the stored text that is meant).

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use buildsnap_domain::{
    FinalSnapshot, IndexedBuild, SearchReport, SnapshotState, Summary, freeze, summary, ts,
};
use buildsnap_store::{Account, NewCodeDeployment, NewDeploy, ProviderToken, SecretKey, Store};
use serde_json::{Value, json};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshot-compat")
}

fn inputs() -> Value {
    let text = std::fs::read_to_string(fixture_dir().join("inputs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn expected() -> String {
    std::fs::read_to_string(fixture_dir().join("expected.txt")).unwrap()
}

/// The lines of `expected.txt` whose key starts with one of `kinds`.
fn expected_lines(kinds: &[&str]) -> Vec<String> {
    expected()
        .lines()
        .filter(|l| kinds.iter().any(|k| l.starts_with(&format!("{k} "))))
        .map(str::to_string)
        .collect()
}

fn builds(v: &Value) -> Vec<IndexedBuild> {
    if v.is_null() {
        return vec![];
    }
    serde_json::from_value(v.clone()).unwrap()
}

fn time(v: &Value) -> ts::OffsetDateTime {
    ts::parse(v.as_str().unwrap()).unwrap()
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn name(v: &Value) -> &str {
    v["name"].as_str().unwrap()
}

fn open(dir: &Path) -> Store {
    Store::open(dir, SecretKey::load_or_create(dir, None).unwrap()).unwrap()
}

/// Writes the inputs' org, projects, deploys, snapshots and index into
/// `store`, as the generator at c7cb847 did.
fn write(store: &Store, inputs: &Value) {
    store.create_org("acme", "Acme").unwrap();
    for (slug, name) in [("web", "Web"), ("docs", "Docs")] {
        store.create_project("acme", slug, name).unwrap();
        let cd = NewCodeDeployment {
            slug: "main".into(),
            repo_url: format!("https://github.com/acme/{slug}"),
            branch: "main".into(),
            build_project: (slug == "web").then(|| "gh/acme/web".into()),
            branch_builds_only: false,
        };
        store.create_code_deployment("acme", slug, &cd).unwrap();
    }
    let account = Account {
        id: "1".into(),
        login: "fixture".into(),
        name: "Fixture".into(),
    };
    let token = ProviderToken::new("fixture-token-not-a-secret".into());
    store
        .enable_integration("acme", "circleci", "https://circleci.com", &token, &account)
        .unwrap();
    store
        .set_default_build_server("acme", "circleci", "web")
        .unwrap();
    let deploys = inputs["deploys"].as_array().unwrap();
    for (n, d) in deploys.iter().enumerate() {
        let new = NewDeploy {
            sha: d["sha"].as_str().unwrap().into(),
            environment: None,
            deployed_at: Some(time(&d["deployed_at"])),
            code_deployment: None,
        };
        let got = store
            .register_deploy("acme", d["project"].as_str().unwrap(), &new)
            .unwrap();
        assert_eq!(got.id, n as i64 + 1, "deploy ids follow the inputs");
        let Some(c) = d.get("capture") else { continue };
        let indexed = builds(&c["builds"]);
        if !c["report"].is_null() {
            let r: SearchReport = serde_json::from_value(c["report"].clone()).unwrap();
            let search = ("gh/acme/web", new.sha.as_str(), &r);
            assert!(
                store
                    .index_builds("acme", "circleci", &indexed, Some(search))
                    .unwrap()
            );
        } else if !indexed.is_empty() {
            assert!(
                store
                    .index_builds("acme", "circleci", &indexed, None)
                    .unwrap()
            );
        }
        let frozen = freeze::freeze(&indexed, time(&d["deployed_at"]));
        let complete = c["state"] == "complete";
        let fin = FinalSnapshot {
            state: if complete {
                SnapshotState::Complete
            } else {
                SnapshotState::Error
            },
            summary: if complete {
                summary::summary(&frozen)
            } else {
                Summary::None
            },
            builds: if complete { frozen } else { vec![] },
            explain: opt(&c["explain"]),
            build_project: Some("gh/acme/web".into()),
            captured_at: time(&c["captured_at"]),
        };
        assert!(store.finish_capture(got.id, &fin).unwrap());
    }
    for d in deploys {
        let after = builds(&d["index_after"]);
        if !after.is_empty() {
            assert!(
                store
                    .index_builds("acme", "circleci", &after, None)
                    .unwrap()
            );
        }
    }
}

/// What `store` serves for the inputs' deploys: each deploy read plainly
/// and with current statuses, its stored search report, two listings.
fn served(store: &Store, inputs: &Value) -> Vec<String> {
    let mut out = vec![];
    for (n, d) in inputs["deploys"].as_array().unwrap().iter().enumerate() {
        let (id, name) = (n as i64 + 1, name(d));
        let plain = serde_json::to_string(&store.get_deploy("acme", id).unwrap()).unwrap();
        let current = store.get_deploy_with_current("acme", id).unwrap();
        let current = serde_json::to_string(&current).unwrap();
        out.push(format!("deploy {id} {name} get_deploy\t{plain}"));
        out.push(format!(
            "deploy {id} {name} get_deploy_with_current\t{current}"
        ));
        if d.get("capture").is_some_and(|c| !c["report"].is_null()) {
            let sha = d["sha"].as_str().unwrap();
            let lookup = store
                .index_lookup("acme", "circleci", "gh/acme/web", sha)
                .unwrap();
            let report = lookup.search.unwrap().report.expect("a readable report");
            out.push(format!(
                "deploy {id} {name} search_report\t{}",
                report.to_json()
            ));
        }
    }
    let list = json!({ "deploys": store.list_deploys("acme", None, 50).unwrap() });
    out.push(format!("list acme\t{list}"));
    let list = json!({ "deploys": store.list_deploys("acme", Some("web"), 3).unwrap() });
    out.push(format!("list acme web 3\t{list}"));
    out
}

/// The pure part: every freeze case's frozen builds and summary word, and
/// every report's stored text.
fn pure(inputs: &Value) -> Vec<String> {
    let mut out = vec![];
    let cases = inputs["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| {
            let c = d.get("capture")?;
            Some((name(d), &d["deployed_at"], &c["builds"]))
        })
        .chain(
            inputs["freeze"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (name(f), &f["as_of"], &f["builds"])),
        );
    for (name, as_of, input) in cases {
        let frozen = freeze::freeze(&builds(input), time(as_of));
        let text = serde_json::to_string(&frozen).unwrap();
        out.push(format!("freeze {name}\t{text}"));
        out.push(format!("summary {name}\t{}", summary::summary(&frozen)));
    }
    for (i, r) in inputs["reports"].as_array().unwrap().iter().enumerate() {
        let r: SearchReport = serde_json::from_value(r.clone()).unwrap();
        out.push(format!("report {i}\t{}", r.to_json()));
    }
    out
}

/// Line by line, so that a failure names the text that changed.
fn assert_same(got: &[String], want: &[String]) {
    for (g, w) in got.iter().zip(want) {
        let key = w.split('\t').next().unwrap();
        assert_eq!(g, w, "{key}");
    }
    assert_eq!(got.len(), want.len(), "number of texts");
}

/// A copy of the fixture database to open (opening writes: migrations,
/// re-queued jobs).
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in [Store::DB_FILE, SecretKey::FILE_NAME] {
        std::fs::copy(fixture_dir().join(f), dir.path().join(f)).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join(SecretKey::FILE_NAME);
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

#[test]
fn the_old_database_reads_byte_identical() {
    let inputs = inputs();
    let want = expected_lines(&["deploy", "list"]);
    assert_eq!(want.len(), 2 * 11 + 7 + 2, "the fixture's texts");
    let dir = fixture_copy();
    let got = served(&open(dir.path()), &inputs);
    if std::env::var_os("BUILDSNAP_WRITE_SERVED").is_some() {
        return rewrite_served(&got);
    }
    assert_same(&got, &want);
}

/// For a meant change of what is served (a field added to the answers):
/// replaces the `deploy` and `list` lines of `expected.txt` with `got`, read
/// from the old database, and keeps that database and every other line.
fn rewrite_served(got: &[String]) {
    let path = fixture_dir().join("expected.txt");
    let old = std::fs::read_to_string(&path).unwrap();
    let mut text = String::new();
    let mut served = got.iter();
    for l in old.lines() {
        if l.starts_with("deploy ") || l.starts_with("list ") {
            writeln!(text, "{}", served.next().expect("as many served lines")).unwrap();
        } else {
            writeln!(text, "{l}").unwrap();
        }
    }
    assert!(served.next().is_none(), "as many served lines");
    std::fs::write(path, text).unwrap();
}

/// The batched re-encoding of text rows into zstd frames changes no byte
/// of any answer, and leaves no text row behind.
#[test]
fn the_old_database_re_encoded_in_batches_reads_byte_identical() {
    let inputs = inputs();
    let want = expected_lines(&["deploy", "list"]);
    let dir = fixture_copy();
    let store = open(dir.path());
    let before = store.snapshots_stored_as_text().unwrap();
    assert!(before >= 10, "the fixture's snapshots are text: {before}");
    let (mut batches, mut total) = (0, 0);
    loop {
        let b = store.reencode_snapshots(3).unwrap();
        if b.reencoded == 0 {
            break;
        }
        assert!(b.reencoded <= 3);
        assert!(b.text_bytes > 0 && b.zstd_bytes > 0);
        total += b.reencoded as u64;
        batches += 1;
        // Between batches the database serves both forms alike.
        assert_same(&served(&store, &inputs), &want);
    }
    assert_eq!((total, batches), (before, before.div_ceil(3)));
    assert_eq!(store.snapshots_stored_as_text().unwrap(), 0);
    drop(store);
    assert_same(&served(&open(dir.path()), &inputs), &want);
}

#[test]
fn freezing_the_same_inputs_gives_the_same_text() {
    let want = expected_lines(&["freeze", "summary", "report"]);
    assert!(!want.is_empty());
    assert_same(&pure(&inputs()), &want);
}

#[test]
fn writing_the_same_deploys_afresh_serves_the_same_text() {
    let inputs = inputs();
    common::on_both("writing_the_same_deploys_afresh", |db| {
        write(&db.open(), &inputs);
        let mut lines = served(&db.open(), &inputs);
        lines.extend(pure(&inputs));
        if std::env::var_os("BUILDSNAP_WRITE_FIXTURES").is_some() {
            // The fixture is a SQLite database: written from SQLite's run.
            if !db.is_postgres() {
                regenerate(db.dir.path(), &lines);
            }
            return;
        }
        let want: Vec<String> = expected().lines().map(str::to_string).collect();
        assert_same(&lines, &want);
    });
}

/// Replaces the fixture with the database in `dir` (compacted to one small
/// file) and `lines`.
fn regenerate(dir: &Path, lines: &[String]) {
    let db = dir.join(Store::DB_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA page_size=1024; VACUUM;")
        .unwrap();
    drop(conn);
    let out = fixture_dir();
    std::fs::copy(&db, out.join(Store::DB_FILE)).unwrap();
    std::fs::copy(
        dir.join(SecretKey::FILE_NAME),
        out.join(SecretKey::FILE_NAME),
    )
    .unwrap();
    let mut text = String::new();
    for l in lines {
        writeln!(text, "{l}").unwrap();
    }
    std::fs::write(out.join("expected.txt"), text).unwrap();
}
