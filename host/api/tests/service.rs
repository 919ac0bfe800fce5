//! The API service-wide over HTTP: health, OpenAPI, metrics and request ids, authentication and the error shape, the provider token page, the body limit.
//! A real server on 127.0.0.1:0 with the fake host services, and a real client.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn healthz_openapi_metrics_and_request_ids() {
    let w = world().await;
    let r = w.call("GET", "/healthz", None, None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "ok"})));
    let rid = r.headers["x-request-id"].to_str().unwrap();
    assert_eq!(rid.len(), 32);
    assert!(rid.bytes().all(|b| b.is_ascii_hexdigit()));

    let r =
        w.c.get(w.url("/healthz"))
            .header("x-request-id", "trace-abc-123")
            .send()
            .await
            .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-abc-123");
    // An unsafe id is replaced, not echoed.
    let r =
        w.c.get(w.url("/healthz"))
            .header("x-request-id", "a b<script>")
            .send()
            .await
            .unwrap();
    assert_ne!(r.headers()["x-request-id"], "a b<script>");

    let r = w.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    assert!(r.body["paths"]["/api/v1/orgs/{org}/projects/{project}/deploys"]["post"].is_object());

    with_build_server(&w).await;
    let r = w
        .post(
            "/api/v1/orgs/acme/projects/web/deploys",
            json!({"sha": "abcdef1"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let r = w.call("GET", "/metrics", None, None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("buildsnap_http_requests_total{route=\"/api/v1/orgs/{org}/projects/{project}/deploys\",method=\"POST\",status=\"202\"} 1"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(
            "buildsnap_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 3"
        ),
        "{}",
        r.text
    );
    // Plugin calls are counted by the host that makes them, not by the API
    // (host/tests/enable_e2e.rs checks them on the real provider path).
    assert!(
        !r.text.contains("call=\"validate_credentials\""),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("buildsnap_capture_queue_depth 1"),
        "{}",
        r.text
    );
}

/// The token page for a server: any token; the provider's default without
/// `base_url`; 404 for an unknown provider, 400 for a base that is no
/// http(s) URL or carries credentials.
#[tokio::test]
async fn token_help_url_is_asked_per_server() {
    let w = world().await;
    let path = "/api/v1/providers/circleci/token-help-url";
    assert_error(&w.call("GET", path, None, None).await, 401, "unauthorized");
    let r = w.as_(&w.deployer).get(path).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["token_help_url"],
        "https://app.circleci.com/settings/user/tokens"
    );
    let r = w
        .get(&format!(
            "{path}?base_url=https%3A%2F%2Fcircleci.example.com"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["base_url"], "https://circleci.example.com");
    for bad in [
        "ftp%3A%2F%2Fx",
        "https%3A%2F%2Fu%3Ap%40example.com",
        "not-a-url",
    ] {
        let r = w.get(&format!("{path}?base_url={bad}")).await;
        assert_error(&r, 422, "invalid_base_url");
    }
    let r = w.get("/api/v1/providers/nope/token-help-url").await;
    assert_error(&r, 404, "unknown_provider");
}

#[tokio::test]
async fn auth_401_403_404_and_error_shape() {
    let w = world().await;
    let r = w.call("GET", "/api/v1/providers", None, None).await;
    assert_error(&r, 401, "unauthorized");
    let r = w.call("GET", "/api/v1/providers", Some("nope"), None).await;
    assert_error(&r, 401, "unauthorized");
    let r =
        w.c.get(w.url("/api/v1/providers"))
            .header("authorization", format!("Basic {}", w.all))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    // Any token lists providers.
    for t in [ADMIN, &w.all, &w.deployer, &w.other] {
        let r = w.call("GET", "/api/v1/providers", Some(t), None).await;
        assert_eq!(r.status, 200);
        let ids: Vec<_> = r.body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["circleci", "otherci"]);
        assert_eq!(r.body["providers"][0]["api_version"], "0.1.0");
        assert_eq!(r.body["providers"][0]["status"], "ok");
        assert_eq!(
            r.body["providers"][0]["token_help_url"],
            "https://app.circleci.com/settings/user/tokens"
        );
    }
    // Only admin creates orgs.
    let r = w
        .post("/api/v1/orgs", json!({"slug": "x", "name": "X"}))
        .await;
    assert_error(&r, 403, "forbidden");
    // register_deploy: only deploy registration.
    for (m, p, b) in [
        ("GET", "/api/v1/orgs/acme/projects", None),
        (
            "POST",
            "/api/v1/orgs/acme/projects",
            Some(json!({"slug": "p", "name": "P"})),
        ),
        ("GET", "/api/v1/orgs/acme/deploys", None),
        ("GET", "/api/v1/orgs/acme/integrations", None),
        (
            "PUT",
            "/api/v1/orgs/acme/integrations/circleci",
            Some(json!({"token": "good-x"})),
        ),
        (
            "POST",
            "/api/v1/orgs/acme/tokens",
            Some(json!({"name": "n", "scope": "all"})),
        ),
    ] {
        let r = w.call(m, p, Some(&w.deployer), b).await;
        assert_error(&r, 403, "forbidden");
    }
    // Another org's resources: 404, also for a register_deploy token.
    for t in [&w.all, &w.deployer] {
        let r = w
            .call("GET", "/api/v1/orgs/globex/projects", Some(t), None)
            .await;
        assert_error(&r, 404, "org_not_found");
        let r = w
            .call(
                "POST",
                "/api/v1/orgs/globex/projects/x/deploys",
                Some(t),
                Some(json!({"sha": "abcdef1"})),
            )
            .await;
        assert_error(&r, 404, "org_not_found");
    }
    let r = w
        .post(
            "/api/v1/orgs/globex/tokens",
            json!({"name": "n", "scope": "all"}),
        )
        .await;
    assert_error(&r, 404, "org_not_found");
    // Admin on an org that does not exist.
    let r = w
        .call("GET", "/api/v1/orgs/nope/projects", Some(ADMIN), None)
        .await;
    assert_error(&r, 404, "org_not_found");
    // Unknown route / method.
    let r = w.call("GET", "/api/v1/nothing", Some(ADMIN), None).await;
    assert_error(&r, 404, "not_found");
    let r = w
        .call("PATCH", "/api/v1/orgs/acme/projects", Some(ADMIN), None)
        .await;
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.headers["allow"], "POST, GET, HEAD");
}

#[tokio::test]
async fn body_limit_413() {
    let w = world().await;
    let big = "x".repeat(buildsnap_api::MAX_BODY_BYTES + 10);
    let r =
        w.c.post(w.url("/api/v1/orgs/acme/projects"))
            .bearer_auth(&w.all)
            .header("content-type", "application/json")
            .body(format!("{{\"slug\":\"a\",\"name\":\"{big}\"}}"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 413);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "payload_too_large");

    // Chunked (no Content-Length): the limit applies while reading.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = w.srv.base.trim_start_matches("http://").to_string();
    let (mut rd, mut wr) = tokio::net::TcpStream::connect(&addr)
        .await
        .unwrap()
        .into_split();
    let head = format!(
        "POST /api/v1/orgs/acme/projects HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        w.all
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 256 * 1024];
        for _ in 0..5 {
            let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
            c.extend_from_slice(&chunk);
            c.extend_from_slice(b"\r\n");
            wr.write_all(&c).await?;
        }
        wr.write_all(b"0\r\n\r\n").await
    });
    // Read while writing, so the answer is taken in before the server closes
    // the connection on the unread rest of the body.
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = rd.read(&mut buf).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(17).any(|x| x == b"payload_too_large") {
            break;
        }
    }
    let _ = writer.await; // may fail with a reset: the server stopped reading
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload_too_large"));

    // Just under the limit is read (unknown fields are ignored).
    let head = "{\"slug\":\"a\",\"name\":\"A\",\"pad\":\"";
    let pad = "x".repeat(buildsnap_api::MAX_BODY_BYTES - head.len() - 2);
    let body = format!("{head}{pad}\"}}");
    assert_eq!(body.len(), buildsnap_api::MAX_BODY_BYTES);
    let r =
        w.c.post(w.url("/api/v1/orgs/acme/projects"))
            .bearer_auth(&w.all)
            .body(body)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
}
