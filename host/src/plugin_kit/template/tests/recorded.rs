//! The plugin's exports on a recording of the example API
//! (`tests/fixtures/example-ci.json`, in the format `buildsnap plugin call
//! --record` writes), natively: no wasm, no network.

use {{lib}}::provider::{self, Transport};
use {{lib}}::wit::*;

const SHA: &str = "5f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b";

/// Answers from the recording; a request it has none for is an error
/// naming it, as `plugin call --replay` does.
struct Replay(Vec<serde_json::Value>);

impl Replay {
    fn load() -> Replay {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/example-ci.json");
        let rec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        Replay(rec["exchanges"].as_array().unwrap().clone())
    }
}

impl Transport for Replay {
    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        let e = self
            .0
            .iter()
            .find(|e| e["method"] == "GET" && e["url"] == req.url.as_str())
            .ok_or_else(|| HttpError::Other(format!("no recorded answer for GET {}", req.url)))?;
        Ok(Response {
            status: e["status"].as_u64().unwrap() as u16,
            headers: serde_json::from_value(e["headers"].clone()).unwrap(),
            body: e["body"].as_str().unwrap().as_bytes().to_vec(),
            cache_state: CacheState::Miss,
            received_at: 0,
        })
    }
}

fn ctx(base: &str) -> CallContext {
    CallContext {
        now: 1_764_500_000_000,
        base_url: base.into(),
        settings: vec![],
    }
}

#[test]
fn the_descriptor_names_the_plugin_and_its_rate_limit() {
    let d = provider::descriptor();
    assert_eq!(d.id, "{{id}}");
    assert_eq!(d.rate_limits[0].statuses, [429]);
    assert_eq!(provider::token_help_url(&ctx("https://ci.example.com/")), "https://ci.example.com/settings/tokens");
}

#[test]
fn a_token_names_its_account_or_is_refused_with_the_providers_reason() {
    let account = provider::validate_credentials(&Replay::load(), &ctx("https://ci.example.com")).unwrap();
    assert_eq!((account.id.as_str(), account.login.as_str(), account.name.as_str()), ("u-42", "octo", "Octo Cat"));
    let refused = provider::validate_credentials(&Replay::load(), &ctx("https://expired.example.com"));
    assert_eq!(refused, Err(ProviderError::Unauthorized("token expired".into())));
}

#[test]
fn projects_come_page_by_page() {
    let t = Replay::load();
    let mut query = ProjectQuery { search: None, cursor: None, limit: 20 };
    let first = provider::list_projects(&t, &ctx("https://ci.example.com"), &query).unwrap();
    assert_eq!(first.projects[0].slug, "acme/web");
    query.cursor = first.next.clone();
    let second = provider::list_projects(&t, &ctx("https://ci.example.com"), &query).unwrap();
    assert_eq!(second.projects[0].slug, "acme/api");
    assert_eq!(second.next, None);
    assert_eq!(provider::project_for_repo("https://git.example.com/acme/web.git"), Some("acme/web".into()));
    assert_eq!(provider::project_for_repo("not a url"), None);
}

#[test]
fn a_commits_builds_are_mapped_with_their_jobs() {
    let query = CommitQuery {
        project: "acme/web".into(),
        sha: SHA.into(),
        branch: None,
        horizon: Horizon { max_pipelines: 100, not_before: None },
    };
    let found = provider::builds_for_commit(&Replay::load(), &ctx("https://ci.example.com"), &query).unwrap();
    let summary: Vec<(&str, Status, u32)> = found.builds.iter().map(|b| (b.id.as_str(), b.status, b.attempt)).collect();
    assert_eq!(summary, [("b-102", Status::Failing, 2), ("b-101", Status::Success, 1)]);
    let gate = &found.builds[1].jobs[1];
    assert_eq!((gate.kind.clone(), gate.status), (JobKind::Approval, Status::OnHold));
    assert_eq!(found.report.stopped_because, StopReason::FilterExhausted);
    assert_eq!(found.report.pages_fetched, 1);
}

#[test]
fn sync_stops_at_the_horizon_and_a_429_is_a_rate_limit() {
    let req = SyncRequest {
        project: "acme/web".into(),
        cursor: None,
        horizon: Horizon { max_pipelines: 100, not_before: Some("2026-11-15T00:00:00Z".into()) },
        refresh: vec![],
    };
    let page = provider::sync(&Replay::load(), &ctx("https://ci.example.com"), &req).unwrap();
    let ids: Vec<&str> = page.builds.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["b-103", "b-102", "b-101"]);
    assert_eq!(page.next_cursor, None, "an older build was reached");
    let slow = SyncRequest { project: "acme/slow".into(), ..req };
    match provider::sync(&Replay::load(), &ctx("https://ci.example.com"), &slow) {
        Err(ProviderError::RateLimited(r)) => assert_eq!(r.message, "slow down"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_request_the_recording_lacks_is_named() {
    let err = provider::validate_credentials(&Replay::load(), &ctx("https://other.example.com")).unwrap_err();
    assert!(format!("{err:?}").contains("no recorded answer for GET https://other.example.com/api/me"), "{err:?}");
}
