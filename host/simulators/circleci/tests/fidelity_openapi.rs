//! Every body served for the v2 endpoints validates against CircleCI's official
//! OpenAPI document, except for the documented real-world deviations below.

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use circleci_sim::faults::glob_match;
use circleci_sim::{Scenario, SimHandle, generate};
use common::*;
use serde_json::{Map, Value, json};

/// The vendored copy of CircleCI's document (`tests/fixtures/circleci/SOURCES.md`).
const OPENAPI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../tests/fixtures/circleci/openapi.json"
);

/// A place where real CircleCI differs from its own spec, so the simulator does too.
struct Exception {
    /// Route template the exception applies to.
    route: &'static str,
    /// Glob over the JSON pointer of the offending value.
    instance: &'static str,
    /// Schema keyword that fails (`enum`, `type`, `required`, ...).
    keyword: &'static str,
    /// Substring the validator's message must contain (narrows `required`).
    detail: &'static str,
    /// Why reality differs (circleci-api.md section).
    reason: &'static str,
}

const EXCEPTIONS: &[Exception] = &[
    Exception {
        route: "/api/v2/project/{slug}/pipeline",
        instance: "/items/*/trigger/type",
        keyword: "enum",
        detail: "",
        reason: "trigger.type is an open set in reality: `schedule`, `Decoupled Ingestion System` (§4.1, §11.2)",
    },
    Exception {
        route: "/api/v2/pipeline/{id}",
        instance: "/trigger/type",
        keyword: "enum",
        detail: "",
        reason: "same open trigger.type set on the single-pipeline endpoint (§4.1, §11.2)",
    },
    Exception {
        route: "/api/v2/me/collaborations",
        instance: "/*",
        keyword: "required",
        detail: "vcs-type",
        reason: "real responses spell the key `vcs_type`, the spec says `vcs-type` (§4.8, §11.4)",
    },
    Exception {
        route: "/api/v2/workflow/{id}/job",
        instance: "/items/*/started_at",
        keyword: "type",
        detail: "",
        reason: "started_at is null for queued/blocked/on_hold/cancelled-before-start jobs (§4.4, §11.1)",
    },
];

/// OpenAPI path for a simulator route template.
fn spec_path(route: &str) -> &'static str {
    match route {
        "/api/v2/me" => "/me",
        "/api/v2/me/collaborations" => "/me/collaborations",
        "/api/v2/project/{slug}" => "/project/{project-slug}",
        "/api/v2/project/{slug}/pipeline" => "/project/{project-slug}/pipeline",
        "/api/v2/pipeline/{id}" => "/pipeline/{pipeline-id}",
        "/api/v2/pipeline/{id}/workflow" => "/pipeline/{pipeline-id}/workflow",
        "/api/v2/workflow/{id}" => "/workflow/{id}",
        "/api/v2/workflow/{id}/job" => "/workflow/{id}/job",
        other => panic!("no spec path for {other}"),
    }
}

/// Converts an OpenAPI 3.0 schema object into JSON Schema: resolves `#/components/...`
/// refs, turns `nullable`/`x-nullable` into `null` being allowed, drops OpenAPI-only keys.
fn to_json_schema(v: &Value, root: &Value) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    if let Some(Value::String(r)) = m.get("$ref") {
        let target = root
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling ref {r}"));
        return to_json_schema(target, root);
    }
    let mut out = Map::new();
    for (k, val) in m {
        match k.as_str() {
            "example" | "x-nullable" | "nullable" | "discriminator" | "xml" | "externalDocs"
            | "deprecated" => {}
            "properties" | "patternProperties" => {
                let props = val
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(p, s)| (p.clone(), to_json_schema(s, root)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(k.clone(), to_json_schema(val, root));
            }
            "anyOf" | "oneOf" | "allOf" => {
                out.insert(
                    k.clone(),
                    Value::Array(
                        val.as_array()
                            .unwrap()
                            .iter()
                            .map(|s| to_json_schema(s, root))
                            .collect(),
                    ),
                );
            }
            _ => {
                out.insert(k.clone(), val.clone());
            }
        }
    }
    let nullable = [m.get("nullable"), m.get("x-nullable")]
        .iter()
        .any(|x| x.and_then(Value::as_bool) == Some(true));
    if nullable {
        if let Some(Value::String(t)) = out.get("type").cloned() {
            out.insert("type".into(), json!([t, "null"]));
        }
        if let Some(Value::Array(e)) = out.get_mut("enum") {
            e.push(Value::Null);
        }
        if !out.contains_key("type") && !out.contains_key("enum") {
            return json!({ "anyOf": [Value::Object(out), { "type": "null" }] });
        }
    }
    Value::Object(out)
}

struct Checker {
    root: Value,
    used: Mutex<BTreeSet<usize>>,
    checked: Mutex<usize>,
}

impl Checker {
    fn new() -> Self {
        let text = std::fs::read_to_string(OPENAPI).expect("openapi.json readable");
        Self {
            root: serde_json::from_str(&text).unwrap(),
            used: Mutex::new(BTreeSet::new()),
            checked: Mutex::new(0),
        }
    }

    fn schema(&self, route: &str) -> Value {
        let op = &self.root["paths"][spec_path(route)]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        assert!(op.is_object(), "spec has a 200 schema for {route}");
        to_json_schema(op, &self.root)
    }

    /// Violations of the spec that no exception covers.
    fn unexpected(&self, route: &str, body: &Value) -> Vec<String> {
        let schema = self.schema(route);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        *self.checked.lock().unwrap() += 1;
        let mut out = Vec::new();
        for err in validator.iter_errors(body) {
            let instance = err.instance_path().to_string();
            let schema_path = err.schema_path().to_string();
            let keyword = schema_path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let message = err.to_string();
            let hit = EXCEPTIONS.iter().position(|x| {
                x.route == route
                    && glob_match(x.instance, &instance)
                    && x.keyword == keyword
                    && message.contains(x.detail)
            });
            match hit {
                Some(i) => {
                    self.used.lock().unwrap().insert(i);
                }
                None => out.push(format!("{route} {instance} [{keyword}]: {message}")),
            }
        }
        out
    }
}

async fn fetch(sim: &SimHandle, token: &str, path: &str) -> Value {
    let r = get(sim, path, token).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// Visits every endpoint reachable for `token` and checks each body.
async fn crawl(sim: &SimHandle, token: &str, c: &Checker) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |route: &str, body: &Value| bad.extend(c.unexpected(route, body));
    check("/api/v2/me", &fetch(sim, token, "/api/v2/me").await);
    check(
        "/api/v2/me/collaborations",
        &fetch(sim, token, "/api/v2/me/collaborations").await,
    );
    for project in &sim.scenario().projects {
        let path = format!("/api/v2/project/{}", project.slug);
        let r = get(sim, &path, token).await;
        if r.status == 404 {
            continue; // not accessible to this token
        }
        check("/api/v2/project/{slug}", &r.json());
        let mut page = fetch(sim, token, &format!("{path}/pipeline")).await;
        loop {
            check("/api/v2/project/{slug}/pipeline", &page);
            for p in page["items"].as_array().unwrap() {
                let pid = p["id"].as_str().unwrap();
                check(
                    "/api/v2/pipeline/{id}",
                    &fetch(sim, token, &format!("/api/v2/pipeline/{pid}")).await,
                );
                let wfs = fetch(sim, token, &format!("/api/v2/pipeline/{pid}/workflow")).await;
                check("/api/v2/pipeline/{id}/workflow", &wfs);
                for w in wfs["items"].as_array().unwrap() {
                    let wid = w["id"].as_str().unwrap();
                    check(
                        "/api/v2/workflow/{id}",
                        &fetch(sim, token, &format!("/api/v2/workflow/{wid}")).await,
                    );
                    check(
                        "/api/v2/workflow/{id}/job",
                        &fetch(sim, token, &format!("/api/v2/workflow/{wid}/job")).await,
                    );
                }
            }
            match page["next_page_token"].as_str() {
                Some(t) => {
                    page = fetch(sim, token, &format!("{path}/pipeline?page-token={t}")).await
                }
                None => break,
            }
        }
    }
    bad
}

#[tokio::test]
async fn every_served_body_matches_the_spec_outside_listed_exceptions() {
    let c = Checker::new();
    let mut bad = Vec::new();

    let sim = start_demo().await;
    bad.extend(crawl(&sim, ALICE, &c).await);
    bad.extend(crawl(&sim, BOB, &c).await);
    sim.clock().advance(Duration::from_secs(3600)); // every scripted timeline is final now
    bad.extend(crawl(&sim, ALICE, &c).await);
    sim.shutdown().await;

    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../tests/fixtures/circleci/devlake/raw_tables"
    );
    let sim = start(Scenario::from_devlake_raw(dir).unwrap()).await;
    bad.extend(crawl(&sim, circleci_sim::devlake::DEVLAKE_TOKEN, &c).await);
    sim.shutdown().await;

    let sim = start(generate::large(45, 11)).await;
    bad.extend(crawl(&sim, generate::BENCH_TOKEN, &c).await);
    sim.shutdown().await;

    assert!(
        bad.is_empty(),
        "spec violations outside the exception list:\n{}",
        bad.join("\n")
    );
    assert!(
        *c.checked.lock().unwrap() > 100,
        "the crawl covered too little"
    );
    // Every listed exception is still needed (otherwise it hides nothing and should go).
    let used = c.used.lock().unwrap().clone();
    for (i, x) in EXCEPTIONS.iter().enumerate() {
        assert!(
            used.contains(&i),
            "exception never exercised: {} {} ({})",
            x.route,
            x.instance,
            x.reason
        );
    }
}

#[tokio::test]
async fn the_checker_fails_on_violations_outside_the_exceptions() {
    let c = Checker::new();
    let sim = start_demo().await;
    let wid = sim.scenario().projects[0].pipelines[0].workflows[0]
        .id
        .clone();
    let good = fetch(&sim, ALICE, &format!("/api/v2/workflow/{wid}")).await;
    assert!(c.unexpected("/api/v2/workflow/{id}", &good).is_empty());
    let mut bad_status = good.clone();
    bad_status["status"] = json!("exploded");
    assert_eq!(c.unexpected("/api/v2/workflow/{id}", &bad_status).len(), 1);
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("stopped_at");
    assert_eq!(
        c.unexpected("/api/v2/workflow/{id}", &missing).len(),
        1,
        "stopped_at is required (nullable)"
    );
    let mut bad_uuid = good;
    bad_uuid["id"] = json!("not-a-uuid");
    assert_eq!(
        c.unexpected("/api/v2/workflow/{id}", &bad_uuid).len(),
        1,
        "formats are validated"
    );
    // An exception is narrow: a trigger.type enum miss is allowed, a bad state is not.
    let list = fetch(&sim, ALICE, "/api/v2/project/gh/acme/api/pipeline").await;
    let mut bad_state = list.clone();
    bad_state["items"][0]["state"] = json!("bogus");
    assert_eq!(
        c.unexpected("/api/v2/project/{slug}/pipeline", &bad_state)
            .len(),
        1
    );
    let mut collab = fetch(&sim, ALICE, "/api/v2/me/collaborations").await;
    collab[0].as_object_mut().unwrap().remove("name");
    assert_eq!(
        c.unexpected("/api/v2/me/collaborations", &collab).len(),
        1,
        "only the vcs-type miss is excused"
    );
}
