//! Test support: a fake transport serving canned answers by URL, builders
//! of CircleCI JSON, and a CSV reader for the recorded DevLake tables.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;

use buildsnap_circleci::transport::Transport;
use buildsnap_circleci::wit::*;
use serde_json::{Value, json};

pub const BASE: &str = "https://circleci.com";

/// Serves canned answers by exact URL and records every request.
#[derive(Default)]
pub struct Fake {
    routes: RefCell<HashMap<String, Result<Response, HttpError>>>,
    /// Every URL requested, in order.
    pub requests: RefCell<Vec<String>>,
    /// The URLs requested as conditional (`request.conditional`), in order.
    pub conditional: RefCell<Vec<String>>,
    /// The size of every `send_batch` call.
    pub batches: RefCell<Vec<usize>>,
    /// Requests that broke the plugin's rules (no route, token header, ...).
    pub violations: RefCell<Vec<String>>,
}

impl Fake {
    pub fn new() -> Fake {
        Fake::default()
    }

    /// Answer `url` with `status` and `body`.
    pub fn on(&self, url: &str, status: u16, body: &str) -> &Self {
        self.on_with(url, status, &[], body)
    }

    /// Answer `url` with a JSON value and 200.
    pub fn json(&self, url: &str, body: &Value) -> &Self {
        self.on(url, 200, &body.to_string())
    }

    pub fn on_with(&self, url: &str, status: u16, headers: &[(&str, &str)], body: &str) -> &Self {
        let resp = Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            cache_state: CacheState::Miss,
            received_at: NOW,
        };
        self.routes.borrow_mut().insert(url.to_string(), Ok(resp));
        self
    }

    pub fn fail(&self, url: &str, err: HttpError) -> &Self {
        self.routes.borrow_mut().insert(url.to_string(), Err(err));
        self
    }

    /// How many requests went to URLs containing `part`.
    pub fn count(&self, part: &str) -> usize {
        self.requests
            .borrow()
            .iter()
            .filter(|u| u.contains(part))
            .count()
    }

    /// How many requests went to exactly `url`.
    pub fn count_exact(&self, url: &str) -> usize {
        self.requests.borrow().iter().filter(|u| *u == url).count()
    }

    pub fn assert_clean(&self) {
        let v = self.violations.borrow();
        assert!(v.is_empty(), "transport violations: {v:#?}");
    }

    fn answer(&self, req: &Request) -> Result<Response, HttpError> {
        self.requests.borrow_mut().push(req.url.clone());
        if req.conditional {
            self.conditional.borrow_mut().push(req.url.clone());
        }
        if req.method != Method::Get {
            self.violations
                .borrow_mut()
                .push(format!("non-GET {}", req.url));
        }
        if !req
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("accept") && v == "application/json")
        {
            self.violations
                .borrow_mut()
                .push(format!("no Accept: application/json on {}", req.url));
        }
        if req.headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("circle-token") || k.eq_ignore_ascii_case("authorization")
        }) {
            self.violations
                .borrow_mut()
                .push(format!("plugin sent credentials on {}", req.url));
        }
        match self.routes.borrow().get(&req.url) {
            Some(r) => r.clone(),
            None => {
                self.violations
                    .borrow_mut()
                    .push(format!("no route for {}", req.url));
                Err(HttpError::Other(format!("no route for {}", req.url)))
            }
        }
    }
}

impl Transport for Fake {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        self.answer(req)
    }

    fn send_batch(&self, reqs: &[Request]) -> Vec<Result<Response, HttpError>> {
        self.batches.borrow_mut().push(reqs.len());
        reqs.iter().map(|r| self.answer(r)).collect()
    }
}

/// The host's clock in every test call (2023-03-25T18:13:43Z).
pub const NOW: u64 = 1_679_768_023_000;

pub fn ctx(base: &str) -> CallContext {
    CallContext {
        now: NOW,
        base_url: base.to_string(),
        settings: vec![],
    }
}

pub fn query(project: &str, sha: &str, max: u32) -> CommitQuery {
    CommitQuery {
        project: project.into(),
        sha: sha.into(),
        branch: None,
        horizon: Horizon {
            max_pipelines: max,
            not_before: None,
        },
    }
}

/// A 40-hex SHA made from a number (distinct numbers, distinct SHAs).
pub fn sha(n: u32) -> String {
    format!("{n:08x}").repeat(5)
}

/// A pipeline item with `vcs`.
pub fn pipeline(id: &str, number: u64, sha: &str, created_at: &str) -> Value {
    json!({
        "id": id, "errors": [], "project_slug": "gh/acme/app", "number": number, "state": "created",
        "created_at": created_at, "updated_at": created_at,
        "trigger": {"type": "webhook", "received_at": created_at, "actor": {"login": "dev", "avatar_url": null}},
        "vcs": {
            "origin_repository_url": "https://github.com/acme/app",
            "target_repository_url": "https://github.com/acme/app",
            "revision": sha, "provider_name": "GitHub", "branch": "main",
            "commit": {"subject": "change", "body": ""}
        }
    })
}

pub fn workflow(
    id: &str,
    pipeline_id: &str,
    number: u64,
    name: &str,
    status: &str,
    created_at: &str,
) -> Value {
    json!({
        "pipeline_id": pipeline_id, "id": id, "name": name, "project_slug": "gh/acme/app",
        "status": status, "started_by": "u-1", "pipeline_number": number,
        "created_at": created_at, "stopped_at": null
    })
}

pub fn job(id: &str, number: Option<u64>, name: &str, kind: &str, status: &str) -> Value {
    let mut j = json!({
        "dependencies": [], "id": id, "name": name, "project_slug": "gh/acme/app",
        "status": status, "type": kind, "started_at": "2024-05-01T10:00:05Z"
    });
    if let Some(n) = number {
        j["job_number"] = json!(n);
    }
    j
}

pub fn page(items: Vec<Value>, next: Option<&str>) -> Value {
    json!({"items": items, "next_page_token": next})
}

/// A simple RFC 4180 reader (quoted fields, doubled quotes, newlines in
/// quotes): rows as header → value maps.
pub fn read_csv(path: &std::path::Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
        } else {
            match c {
                '"' => quoted = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {}
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                c => field.push(c),
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    let header = rows.remove(0);
    rows.into_iter()
        .filter(|r| r.len() == header.len())
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

pub fn recorded(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/circleci/devlake")
        .join(rel)
}
