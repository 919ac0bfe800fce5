//! Provider tokens are write-only: absent from every response body, every log
//! line (captured here at TRACE level), and every file under the data dir.
//! Own test binary, so the global tracing subscriber sees only this test.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;

const GOOD: &str = "good-PLAINTEXT-7f3c9a1e5b2d4c6e8a0b1d3f5e7c9a2b";
const BAD: &str = "bad-PLAINTEXT-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p))
        } else {
            out.push(p)
        }
    }
    out
}

fn assert_absent(haystack: &[u8], what: &str) {
    for needle in [GOOD, BAD] {
        assert!(
            !haystack
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "provider token found in {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_tokens_never_leave_in_plain_text() {
    let logs = Capture::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .init();

    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    let c = client();
    let b = srv.base.clone();
    let mut bodies: Vec<String> = vec![];
    let mut go = async |m: &str, p: &str, t: Option<&str>, body: Option<serde_json::Value>| {
        let r = call(&c, m, &format!("{b}{p}"), t, body).await;
        bodies.push(r.text.clone());
        r
    };
    go(
        "POST",
        "/api/v1/orgs",
        Some(ADMIN),
        Some(json!({"slug": "acme", "name": "Acme"})),
    )
    .await;
    let t = go(
        "POST",
        "/api/v1/orgs/acme/tokens",
        Some(ADMIN),
        Some(json!({"name": "ci", "scope": "all"})),
    )
    .await
    .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    go(
        "POST",
        "/api/v1/orgs/acme/projects",
        Some(&t),
        Some(json!({"slug": "web", "name": "Web"})),
    )
    .await;
    go(
        "POST",
        "/api/v1/orgs/acme/projects/web/code-deployments",
        Some(&t),
        Some(json!({"slug": "main", "repo_url": "https://github.com/acme/web", "branch": "main"})),
    )
    .await;
    // Rejected, host-denied, unreachable, then accepted.
    let r = go(
        "PUT",
        "/api/v1/orgs/acme/integrations/circleci",
        Some(&t),
        Some(json!({"token": BAD})),
    )
    .await;
    assert_eq!(r.status, 422);
    let r = go(
        "PUT",
        "/api/v1/orgs/acme/integrations/circleci",
        Some(&t),
        Some(json!({"token": GOOD, "base_url": "https://evil.example"})),
    )
    .await;
    assert_eq!(r.status, 422);
    let r = go(
        "PUT",
        "/api/v1/orgs/acme/integrations/circleci",
        Some(&t),
        Some(json!({"token": GOOD, "base_url": "http://unreachable.granted.example"})),
    )
    .await;
    assert_eq!(r.status, 502);
    let r = go(
        "PUT",
        "/api/v1/orgs/acme/integrations/circleci",
        Some(&t),
        Some(json!({"token": GOOD})),
    )
    .await;
    assert_eq!(r.status, 200);
    // A malformed body carrying the token (wrong type for base_url).
    let r = go(
        "PUT",
        "/api/v1/orgs/acme/integrations/circleci",
        Some(&t),
        Some(json!({"token": GOOD, "base_url": 5})),
    )
    .await;
    assert_eq!(r.status, 400);
    go(
        "PUT",
        "/api/v1/orgs/acme/integrations/circleci/default-build-server",
        Some(&t),
        Some(json!({"project": "web"})),
    )
    .await;
    let d = go(
        "POST",
        "/api/v1/orgs/acme/projects/web/deploys",
        Some(&t),
        Some(json!({"sha": "abcdef1"})),
    )
    .await
    .body;
    for p in [
        "/api/v1/orgs/acme/integrations".to_string(),
        "/api/v1/orgs/acme/integrations/circleci".to_string(),
        "/api/v1/orgs/acme/projects".to_string(),
        "/api/v1/orgs/acme/deploys".to_string(),
        format!("/api/v1/orgs/acme/deploys/{}", d["id"]),
        format!("/api/v1/orgs/acme/deploys/{}/builds", d["id"]),
        "/api/v1/providers".to_string(),
    ] {
        let r = go("GET", &p, Some(&t), None).await;
        assert_eq!(r.status, 200, "{p}");
    }
    let r = go("GET", "/metrics", None, None).await;
    assert_eq!(r.status, 200);

    // The store does hold it (encrypted), so the checks below are meaningful.
    let (_, tok) = srv
        .store
        .integration_token("acme", "circleci")
        .unwrap()
        .unwrap();
    assert_eq!(tok.expose(), GOOD);
    assert_eq!(format!("{tok:?}"), "ProviderToken(<redacted>)");
    drop(tok);

    for (i, body) in bodies.iter().enumerate() {
        assert_absent(body.as_bytes(), &format!("response body #{i}: {body}"));
    }
    // Files while running (db, -wal, -shm, key file) ...
    let files = files_under(dir.path());
    assert!(
        files.iter().any(|f| f.ends_with("buildsnap.db-wal")),
        "{files:?}"
    );
    assert!(files.iter().any(|f| f.ends_with("secret.key")), "{files:?}");
    for f in &files {
        assert_absent(&std::fs::read(f).unwrap(), &f.display().to_string());
    }
    // ... and after shutdown (WAL checkpointed into the db).
    let store = srv.store.clone();
    srv.stop().await;
    drop(store);
    for f in files_under(dir.path()) {
        assert_absent(&std::fs::read(&f).unwrap(), &f.display().to_string());
    }

    let captured = logs.0.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&captured);
    // The capture works: requests, their ids and the enable event are logged.
    assert!(text.contains("integration enabled"), "{text}");
    assert!(text.contains("provider rejected the credentials"), "{text}");
    assert!(text.contains("request_id="), "{text}");
    assert!(text.lines().count() > 20, "{text}");
    assert_absent(&captured, "the logs");
}
