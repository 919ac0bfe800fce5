//! Throwaway: writes the snapshot byte-compatibility fixture with the code of
//! this commit. `cargo run -p buildsnap --example snapshot_fixture_gen -- <inputs.json> <out dir>`

use std::fmt::Write as _;
use std::path::Path;

use buildsnap::capture::{freeze, summary, worker};
use buildsnap::runtime::wit::latest::provider::SearchReport;
use buildsnap_store::*;
use serde_json::{Value, json};

fn s(v: &Value) -> String {
    v.as_str().expect("string").to_string()
}
fn os(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn job(v: &Value) -> IndexedJob {
    IndexedJob {
        id: s(&v["id"]),
        name: s(&v["name"]),
        number: v["number"].as_i64(),
        kind: s(&v["kind"]),
        status: s(&v["status"]),
        provider_status: s(&v["provider_status"]),
        started_at: os(&v["started_at"]),
        stopped_at: os(&v["stopped_at"]),
        url: os(&v["url"]),
    }
}

fn build(v: &Value) -> IndexedBuild {
    IndexedBuild {
        id: s(&v["id"]),
        project: s(&v["project"]),
        name: s(&v["name"]),
        status: s(&v["status"]),
        provider_status: s(&v["provider_status"]),
        url: os(&v["url"]),
        pipeline_id: s(&v["pipeline_id"]),
        pipeline_number: v["pipeline_number"].as_i64(),
        sha: s(&v["sha"]),
        branch: os(&v["branch"]),
        tag: os(&v["tag"]),
        created_at: s(&v["created_at"]),
        stopped_at: os(&v["stopped_at"]),
        jobs_complete: v["jobs_complete"].as_bool().expect("jobs_complete"),
        jobs: v["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .map(job)
            .collect(),
        first_seen: None,
        last_seen: None,
    }
}

fn builds(v: &Value) -> Vec<IndexedBuild> {
    v.as_array()
        .map(|a| a.iter().map(build).collect())
        .unwrap_or_default()
}

fn report(v: &Value) -> SearchReport {
    SearchReport {
        pipelines_searched: v["pipelines_searched"].as_u64().unwrap() as u32,
        pages_fetched: v["pages_fetched"].as_u64().unwrap() as u32,
        oldest_searched: os(&v["oldest_searched"]),
        stopped_because: s(&v["stopped_because"]),
        without_commit: v["without_commit"].as_u64().unwrap() as u32,
    }
}

fn verify(dir: &Path) {
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let store = Store::open(dir, SecretKey::load_or_create(dir, None).unwrap()).unwrap();
    let mut n = 0;
    for line in expected.lines() {
        let (key, text) = line.split_once('\t').unwrap();
        let parts: Vec<&str> = key.split(' ').collect();
        if parts[0] != "deploy" {
            continue;
        }
        let id: i64 = parts[1].parse().unwrap();
        let got = match parts[3] {
            "get_deploy" => serde_json::to_string(&store.get_deploy("acme", id).unwrap()).unwrap(),
            "get_deploy_with_current" => {
                serde_json::to_string(&store.get_deploy_with_current("acme", id).unwrap()).unwrap()
            }
            _ => continue,
        };
        assert_eq!(got, text, "{key}");
        n += 1;
    }
    println!("verified {n} texts");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "verify" {
        return verify(Path::new(&args[2]));
    }
    let inputs: Value = serde_json::from_str(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let out = Path::new(&args[2]);
    let _ = std::fs::remove_dir_all(out.join("data"));
    let data = out.join("data");
    let mut lines = String::new();

    let store = Store::open(&data, SecretKey::load_or_create(&data, None).unwrap()).unwrap();
    store.create_org("acme", "Acme").unwrap();
    for (slug, name) in [("web", "Web"), ("docs", "Docs")] {
        store.create_project("acme", slug, name).unwrap();
        let cd = NewCodeDeployment {
            slug: "main".into(),
            repo_url: format!("https://github.com/acme/{slug}"),
            branch: "main".into(),
            build_project: (slug == "web").then(|| "gh/acme/web".into()),
        };
        store.create_code_deployment("acme", slug, &cd).unwrap();
    }
    store
        .enable_integration(
            "acme",
            "circleci",
            "https://circleci.com",
            &ProviderToken::new("fixture-token-not-a-secret".into()),
            &Account {
                id: "1".into(),
                login: "fixture".into(),
                name: "Fixture".into(),
            },
        )
        .unwrap();
    store
        .set_default_build_server("acme", "circleci", "web")
        .unwrap();

    let deploys = inputs["deploys"].as_array().unwrap();
    let mut ids = Vec::new();
    for d in deploys {
        let new = NewDeploy {
            sha: s(&d["sha"]),
            environment: None,
            deployed_at: Some(ts::parse(d["deployed_at"].as_str().unwrap()).unwrap()),
            code_deployment: None,
        };
        let got = store
            .register_deploy("acme", d["project"].as_str().unwrap(), &new)
            .unwrap();
        ids.push(got.id);
        let Some(c) = d.get("capture") else { continue };
        let indexed = builds(&c["builds"]);
        if !c["report"].is_null() {
            let r = worker::report_json(&report(&c["report"]));
            assert!(
                store
                    .index_builds(
                        "acme",
                        "circleci",
                        &indexed,
                        Some(("gh/acme/web", &new.sha, &r))
                    )
                    .unwrap()
            );
        } else if !indexed.is_empty() {
            assert!(
                store
                    .index_builds("acme", "circleci", &indexed, None)
                    .unwrap()
            );
        }
        let as_of = ts::parse(d["deployed_at"].as_str().unwrap()).unwrap();
        let frozen = freeze::freeze(&indexed, as_of);
        let word = summary::summary(&frozen);
        let state = match c["state"].as_str().unwrap() {
            "complete" => SnapshotState::Complete,
            _ => SnapshotState::Error,
        };
        let (summary, builds_v) = if state == SnapshotState::Complete {
            (word.to_string(), Value::Array(frozen))
        } else {
            ("none".to_string(), Value::Array(vec![]))
        };
        let fin = FinalSnapshot {
            state,
            summary,
            builds: builds_v,
            explain: os(&c["explain"]),
            build_project: Some("gh/acme/web".into()),
            captured_at: ts::parse(c["captured_at"].as_str().unwrap()).unwrap(),
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
    for (d, id) in deploys.iter().zip(&ids) {
        let name = d["name"].as_str().unwrap();
        let plain = serde_json::to_string(&store.get_deploy("acme", *id).unwrap()).unwrap();
        let current =
            serde_json::to_string(&store.get_deploy_with_current("acme", *id).unwrap()).unwrap();
        writeln!(lines, "deploy {id} {name} get_deploy\t{plain}").unwrap();
        writeln!(
            lines,
            "deploy {id} {name} get_deploy_with_current\t{current}"
        )
        .unwrap();
        if let Some(c) = d.get("capture")
            && !c["report"].is_null()
        {
            let l = store
                .index_lookup(
                    "acme",
                    "circleci",
                    "gh/acme/web",
                    d["sha"].as_str().unwrap(),
                )
                .unwrap();
            writeln!(
                lines,
                "deploy {id} {name} search_report\t{}",
                l.search.unwrap().report
            )
            .unwrap();
        }
    }
    let list =
        serde_json::to_string(&json!({ "deploys": store.list_deploys("acme", None, 50).unwrap() }))
            .unwrap();
    writeln!(lines, "list acme\t{list}").unwrap();
    let list = serde_json::to_string(
        &json!({ "deploys": store.list_deploys("acme", Some("web"), 3).unwrap() }),
    )
    .unwrap();
    writeln!(lines, "list acme web 3\t{list}").unwrap();
    drop(store);

    for d in deploys {
        let Some(c) = d.get("capture") else { continue };
        let as_of = ts::parse(d["deployed_at"].as_str().unwrap()).unwrap();
        let frozen = freeze::freeze(&builds(&c["builds"]), as_of);
        writeln!(
            lines,
            "freeze {}\t{}",
            d["name"].as_str().unwrap(),
            Value::Array(frozen.clone())
        )
        .unwrap();
        writeln!(
            lines,
            "summary {}\t{}",
            d["name"].as_str().unwrap(),
            summary::summary(&frozen)
        )
        .unwrap();
    }
    for f in inputs["freeze"].as_array().unwrap() {
        let as_of = ts::parse(f["as_of"].as_str().unwrap()).unwrap();
        let frozen = freeze::freeze(&builds(&f["builds"]), as_of);
        writeln!(
            lines,
            "freeze {}\t{}",
            f["name"].as_str().unwrap(),
            Value::Array(frozen.clone())
        )
        .unwrap();
        writeln!(
            lines,
            "summary {}\t{}",
            f["name"].as_str().unwrap(),
            summary::summary(&frozen)
        )
        .unwrap();
    }
    for (i, r) in inputs["reports"].as_array().unwrap().iter().enumerate() {
        writeln!(lines, "report {i}\t{}", worker::report_json(&report(r))).unwrap();
    }
    std::fs::write(out.join("expected.txt"), lines).unwrap();
}
