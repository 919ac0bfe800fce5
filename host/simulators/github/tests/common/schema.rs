//! OpenAPI schemas as JSON Schema validators, and the exception bookkeeping the fidelity
//! tests share.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// Vendored descriptions (tests/fixtures/github, see SOURCES.md there).
pub const REST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../tests/fixtures/github/openapi-actions.json"
);
pub const WEBHOOKS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../tests/fixtures/github/openapi-webhooks-actions.json"
);

pub fn load(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("description readable"))
        .expect("description is JSON")
}

/// Converts an OpenAPI schema object into JSON Schema: resolves `#/components/...` refs,
/// turns 3.0 `nullable` into `null` being allowed, turns a `oneOf` with a `discriminator`
/// mapping into the branch the discriminator selects (plain `oneOf` would reject a
/// `private-user` that also satisfies `public-user`), drops OpenAPI-only keys.
pub fn to_json_schema(v: &Value, root: &Value) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    if let Some(Value::String(r)) = m.get("$ref") {
        let target = root
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling ref {r}"));
        return to_json_schema(target, root);
    }
    if let (Some(Value::Array(_)), Some(d)) = (m.get("oneOf"), m.get("discriminator")) {
        let prop = d["propertyName"].as_str().expect("discriminator property");
        let mapping = d["mapping"].as_object().expect("discriminator mapping");
        let branches: Vec<Value> = mapping
            .iter()
            .map(|(value, r)| {
                json!({
                    "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                    "then": to_json_schema(&json!({"$ref": r}), root),
                })
            })
            .collect();
        let keys: Vec<&String> = mapping.keys().collect();
        return json!({
            "type": "object",
            "required": [prop],
            "properties": {prop: {"enum": keys}},
            "allOf": branches,
        });
    }
    let mut out = Map::new();
    for (k, val) in m {
        match k.as_str() {
            "example"
            | "examples"
            | "x-nullable"
            | "nullable"
            | "discriminator"
            | "xml"
            | "externalDocs"
            | "deprecated"
            | "x-github-breaking-changes" => {}
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
                let list = val
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| to_json_schema(s, root))
                    .collect();
                out.insert(k.clone(), Value::Array(list));
            }
            _ => {
                out.insert(k.clone(), val.clone());
            }
        }
    }
    if m.get("nullable").and_then(Value::as_bool) == Some(true) {
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

/// `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    github_sim::faults::glob_match(pattern, text)
}

/// A documented place where the simulator knowingly differs from the description.
pub struct Exception {
    /// Glob over the route (or webhook) the exception applies to.
    pub route: &'static str,
    /// Status it applies to (0 = any).
    pub status: u16,
    /// Glob over the JSON pointer of the offending value.
    pub instance: &'static str,
    /// Failing keyword (`enum`, `type`, `required`, ...), or `undocumented-status`.
    pub keyword: &'static str,
    /// Substring the validator's message must contain.
    pub detail: &'static str,
    /// Why GitHub (and so the simulator) differs.
    pub reason: &'static str,
}

/// Compiled validators, violations and which exceptions were needed.
pub struct Checker {
    pub root: Value,
    exceptions: &'static [Exception],
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
    pub used: Mutex<BTreeSet<usize>>,
    pub checked: Mutex<usize>,
}

impl Checker {
    pub fn new(path: &str, exceptions: &'static [Exception]) -> Self {
        Self {
            root: load(path),
            exceptions,
            validators: Mutex::default(),
            used: Mutex::default(),
            checked: Mutex::default(),
        }
    }

    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        cache
            .entry(key.to_owned())
            .or_insert_with(|| {
                let s = to_json_schema(schema, &self.root);
                Arc::new(
                    jsonschema::options()
                        .should_validate_formats(true)
                        .build(&s)
                        .unwrap_or_else(|e| panic!("schema for {key} compiles: {e}")),
                )
            })
            .clone()
    }

    fn excused(
        &self,
        route: &str,
        status: u16,
        instance: &str,
        keyword: &str,
        message: &str,
    ) -> bool {
        let hit = self.exceptions.iter().position(|x| {
            glob(x.route, route)
                && (x.status == 0 || x.status == status)
                && glob(x.instance, instance)
                && x.keyword == keyword
                && message.contains(x.detail)
        });
        if let Some(i) = hit {
            self.used.lock().unwrap().insert(i);
        }
        hit.is_some()
    }

    /// Violations of `schema` by `body` that no exception covers; `key` names the schema.
    pub fn violations(
        &self,
        key: &str,
        route: &str,
        status: u16,
        schema: &Value,
        body: &Value,
    ) -> Vec<String> {
        *self.checked.lock().unwrap() += 1;
        let v = self.validator(key, schema);
        let mut out = Vec::new();
        for err in v.iter_errors(body) {
            let instance = err.instance_path().to_string();
            let schema_path = err.schema_path().to_string();
            let keyword = schema_path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let message = err.to_string();
            if !self.excused(route, status, &instance, &keyword, &message) {
                out.push(format!(
                    "{route} {status} {instance} [{keyword}]: {message}"
                ));
            }
        }
        out
    }

    /// Records an undocumented status unless excused; returns the violation if not.
    pub fn undocumented(&self, route: &str, status: u16) -> Option<String> {
        (!self.excused(route, status, "", "undocumented-status", ""))
            .then(|| format!("{route} answered {status}, which the description does not document"))
    }

    /// Fails if an exception was never needed (it would hide nothing and should go).
    pub fn assert_every_exception_used(&self) {
        let used = self.used.lock().unwrap().clone();
        for (i, x) in self.exceptions.iter().enumerate() {
            assert!(
                used.contains(&i),
                "exception never exercised: {} {} {} [{}] ({})",
                x.route,
                x.status,
                x.instance,
                x.keyword,
                x.reason
            );
        }
    }
}
