//! `docs/http-api.md` is held to the code: its route table lists exactly
//! the operations of the OpenAPI document (which a unit test in
//! `src/openapi.rs` holds to the router), and its status vocabulary is the
//! document's. The settings table and the CircleCI status table are
//! checked against the binary and the plugin in `host/tests/contract_doc.rs`.

mod doc_tables;

use std::collections::BTreeSet;

use doc_tables::{code_spans, read_doc, table};
use serde_json::Value;

fn doc() -> String {
    read_doc(env!("CARGO_MANIFEST_DIR"), "../..")
}

fn openapi() -> Value {
    serde_json::from_str(buildsnap_api::OPENAPI_JSON).expect("openapi.json is JSON")
}

/// `(METHOD, path)` of every operation in the OpenAPI document.
fn openapi_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// `(METHOD, path)` of every row of the doc's route table.
fn documented_routes(doc: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for row in table(doc, &["method", "path", "token", "does"]) {
        let path = code_spans(&row[1]);
        assert_eq!(path.len(), 1, "one `path` per route row: {row:?}");
        assert!(
            ["none", "any", "admin", "all", "deploy"].contains(&row[2].as_str()),
            "token column {:?} is not a word of the \"Who may call\" table",
            row[2]
        );
        let new = routes.insert((row[0].clone(), path[0].clone()));
        assert!(new, "route listed twice: {row:?}");
    }
    routes
}

#[test]
fn route_table_and_openapi_document_list_the_same_operations() {
    let in_doc = documented_routes(&doc());
    let in_openapi = openapi_operations(&openapi());
    let undocumented: Vec<_> = in_openapi.difference(&in_doc).collect();
    let unknown: Vec<_> = in_doc.difference(&in_openapi).collect();
    assert!(
        undocumented.is_empty(),
        "operations of host/api/openapi.json missing from the route table of docs/http-api.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "routes in docs/http-api.md that host/api/openapi.json (and so the router) lacks: {unknown:?}"
    );
}

#[test]
fn routes_without_a_token_are_the_ones_the_openapi_document_leaves_open() {
    let api = openapi();
    let open_in_openapi: BTreeSet<(String, String)> = openapi_operations(&api)
        .into_iter()
        .filter(|(m, p)| {
            let op = &api["paths"][p][m.to_lowercase()];
            op["security"].as_array().is_none_or(Vec::is_empty)
        })
        .collect();
    let open_in_doc: BTreeSet<(String, String)> =
        table(&doc(), &["method", "path", "token", "does"])
            .into_iter()
            .filter(|row| row[2] == "none")
            .map(|row| (row[0].clone(), code_spans(&row[1])[0].clone()))
            .collect();
    assert_eq!(open_in_doc, open_in_openapi);
}

#[test]
fn status_vocabulary_is_the_openapi_documents() {
    let api = openapi();
    let in_openapi: Vec<String> =
        api["components"]["schemas"]["Build"]["properties"]["status"]["enum"]
            .as_array()
            .expect("Build.status enum")
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
    let in_doc: Vec<String> = table(&doc(), &["status", "meaning"])
        .iter()
        .flat_map(|row| code_spans(&row[0]))
        .collect();
    assert_eq!(in_doc, in_openapi);
}

#[test]
fn the_table_reader_finds_tables_by_header_and_refuses_missing_ones() {
    let text = "x\n\n| a | b |\n| --- | --- |\n| `1` | `p`, `q` |\n| 2 | r |\n\nafter\n| a | c |\n";
    assert_eq!(
        table(text, &["a", "b"]),
        vec![vec!["`1`", "`p`, `q`"], vec!["2", "r"]]
    );
    assert_eq!(code_spans("`p`, `q` and more"), vec!["p", "q"]);
    let missing = std::panic::catch_unwind(|| table(text, &["a", "z"]));
    assert!(missing.is_err(), "a missing table must fail the test");
}
