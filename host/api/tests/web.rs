//! The web page routes against a real server: content types, security
//! headers, caching, and that the page is what the browser needs.

mod common;

use common::*;

const CSP_MUST: &[&str] = &[
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
];

async fn get(c: &reqwest::Client, url: &str) -> reqwest::Response {
    c.get(url).send().await.expect("request")
}

#[tokio::test]
async fn page_and_assets_have_types_csp_and_no_auth() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    let c = client();
    for (path, ctype, marker) in [
        ("/", "text/html; charset=utf-8", "<!doctype html>"),
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            "import { loadDeploys",
        ),
        (
            "/assets/views/deploys.js",
            "text/javascript; charset=utf-8",
            "export async function loadDeploys",
        ),
        // Generated at start from the domain's vocabulary.
        (
            "/assets/status.js",
            "text/javascript; charset=utf-8",
            r#""on_hold":"on hold""#,
        ),
        (
            "/assets/app.css",
            "text/css; charset=utf-8",
            ":focus-visible",
        ),
        ("/assets/icon.svg", "image/svg+xml", "<svg"),
    ] {
        // No Authorization header: the page itself is public, the data is not.
        let r = get(&c, &format!("{}{path}", srv.base)).await;
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], ctype, "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in CSP_MUST {
            assert!(csp.contains(part), "{path}: CSP {csp:?} lacks {part:?}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains('*')
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-cache");
        let etag = h["etag"].to_str().unwrap().to_string();
        assert!(h.contains_key("x-request-id"));
        let body = r.text().await.unwrap();
        assert!(body.contains(marker), "{path} body lacks {marker:?}");

        // Revalidation with the ETag costs a 304 and no body.
        let r = c
            .get(format!("{}{path}", srv.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{path}");
        assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
        assert!(r.text().await.unwrap().is_empty());
        // A stale ETag gets the full answer.
        let r = c
            .get(format!("{}{path}", srv.base))
            .header("if-none-match", "\"0000000000000000\"")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // The API behind the page still wants a token.
    let r = get(&c, &format!("{}/api/v1/providers", srv.base)).await;
    assert_eq!(r.status(), 401);
    // Unknown assets are 404 (JSON error), other methods 405. Only the
    // embedded table is served: no path reaches the file system.
    for path in [
        "/assets/nope.js",
        "/assets/",
        "/assets/views",
        "/assets/views/",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/..%2fbuild.rs",
        "/assets/app.js/",
        "/index.html",
    ] {
        let r = get(&c, &format!("{}{path}", srv.base)).await;
        assert_eq!(r.status(), 404, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let r = c
        .post(format!("{}/assets/app.js", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = c.post(format!("{}/", srv.base)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");
    srv.stop().await;
}

#[tokio::test]
async fn index_has_the_sign_in_form_and_the_sections() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    let html = get(&client(), &format!("{}/", srv.base))
        .await
        .text()
        .await
        .unwrap();
    for needle in [
        r#"<html lang="en">"#,
        r#"name="viewport""#,
        r#"<form id="signin-form""#,
        r#"<label for="signin-org">Organisation slug</label>"#,
        r#"<input id="signin-org""#,
        r#"<label for="signin-token">Org token</label>"#,
        r#"<input id="signin-token" name="token" type="password""#,
        r#"<button type="submit" class="btn btn-primary">Sign in</button>"#,
        r#"aria-live="polite""#,
        r##"href="#/integrations""##,
        r##"href="#/projects""##,
        r##"href="#/deploys""##,
        r#"role="tab" id="tab-int-builds""#,
        r#"<script type="module" src="/assets/app.js"></script>"#,
        r#"<link rel="stylesheet" href="/assets/app.css">"#,
    ] {
        assert!(html.contains(needle), "index.html lacks {needle:?}");
    }
    srv.stop().await;
}
