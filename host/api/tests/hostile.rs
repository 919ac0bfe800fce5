//! Regression tests of the security review's findings (issue 18) that the
//! HTTP layer fixes: slow bodies and the connection cap (F1), 413 that the
//! client can read (F9), one answer to unauthenticated webhooks (F5) and
//! deploy times outside the store's range (F7). docs/reliability.md.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use buildsnap_metrics::Metrics;
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(srv: &Server) -> String {
    srv.base.trim_start_matches("http://").to_string()
}

/// Opens a connection and sends `head` (request line and headers, without
/// the blank line) with `content-length: 100`, then one byte of the body.
async fn slow_body(srv: &Server, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr(srv)).await.unwrap();
    let req = format!(
        "{head}\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

/// Reads one answer (to EOF or the end of its declared body); its status and body.
async fn read_answer(s: &mut TcpStream, within: Duration) -> (u16, String) {
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 8192];
        loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = complete(&buf) {
                buf.truncate(end);
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(within, read)
        .await
        .unwrap_or_else(|_| panic!("no answer within {within:?}"))
        .unwrap_or_else(|e| panic!("reading the answer failed: {e}"));
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

/// The length of a complete answer with `content-length` at the start of `buf`.
fn complete(buf: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(buf).ok()?;
    let (head, _) = text.split_once("\r\n\r\n")?;
    let len: usize = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })?;
    let end = head.len() + 4 + len;
    (buf.len() >= end).then_some(end)
}

fn in_flight(m: &Metrics) -> i64 {
    m.render()
        .lines()
        .find_map(|l| l.strip_prefix("buildsnap_http_requests_in_flight "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

#[tokio::test]
async fn slow_bodies_over_the_cap_leave_healthz_answering_and_are_cut_at_the_body_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Arc::new(Metrics::new());
    let m = metrics.clone();
    let srv = Server::start_with(dir.path(), move |b| {
        b.metrics(m)
            .max_connections(4)
            .body_timeout(Duration::from_secs(1))
    })
    .await;
    let head = format!("POST /api/v1/orgs HTTP/1.1\r\nauthorization: Bearer {ADMIN}");
    // Four trickled bodies fill the cap: each is in its handler, reading.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push((slow_body(&srv, &head).await, Instant::now()));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while in_flight(&metrics) < 4 {
        assert!(Instant::now() < deadline, "{}", metrics.render());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Over the cap: answered without waiting for the body (which would end
    // in a 408 after the 1 s timeout), 503 `overloaded`.
    for _ in 0..6 {
        let mut s = slow_body(&srv, &head).await;
        let (status, body) = read_answer(&mut s, Duration::from_secs(3)).await;
        assert_eq!(status, 503, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "overloaded", "{body}");
    }
    // A probe still gets through, quickly.
    let started = Instant::now();
    let r = client()
        .get(format!("{}/healthz", srv.base))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect("/healthz answers while the cap is full");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    assert!(started.elapsed() < Duration::from_secs(1));
    // The trickled bodies end at the body timeout: 408, then closed.
    for (mut s, sent) in held {
        let (status, body) = read_answer(&mut s, Duration::from_secs(5)).await;
        let waited = sent.elapsed();
        assert_eq!(status, 408, "{body}");
        assert!(body.contains("body_timeout"), "{body}");
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
            .await
            .expect("closed after the 408")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
    // Their slots are free again: ordinary requests are served.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = call(
            &client(),
            "GET",
            &format!("{}/api/v1/providers", srv.base),
            Some(ADMIN),
            None,
        )
        .await;
        if r.status == 200 {
            break;
        }
        assert_error(&r, 503, "overloaded");
        assert!(Instant::now() < deadline, "slots never freed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_route_that_takes_no_body_answers_without_waiting_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    for head in [
        "GET /healthz HTTP/1.1".to_string(),
        format!("GET /api/v1/providers HTTP/1.1\r\nauthorization: Bearer {ADMIN}"),
        // Refused for want of a token before any body is read.
        "POST /api/v1/orgs HTTP/1.1".to_string(),
    ] {
        let mut s = slow_body(&srv, &head).await;
        let (status, body) = read_answer(&mut s, Duration::from_secs(2)).await;
        assert!(status == 200 || status == 401, "{head}: {status} {body}");
    }
    srv.stop().await;
}

/// Sends a whole request (headers and body), shutting the write side
/// afterwards when `half_close`, and reads the answer; fails if the
/// connection is reset before the answer is read.
async fn post_whole(srv: &Server, head: &str, body: &[u8], half_close: bool) -> (u16, String) {
    // A small send buffer, as over a real network: the client is still
    // sending when the server answers, instead of having handed the whole
    // body to loopback's large buffers at once.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    let mut s = socket.connect(addr(srv).parse().unwrap()).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body)
        .await
        .unwrap_or_else(|e| panic!("sending the body failed: {e}"));
    if half_close {
        s.shutdown().await.unwrap();
    }
    read_answer(&mut s, Duration::from_secs(10)).await
}

#[tokio::test]
async fn oversize_bodies_get_a_413_the_client_reads() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    let body = vec![b'x'; 2 * 1024 * 1024];
    let path = "/api/v1/orgs/acme/projects/web/deploys";
    for i in 0..30 {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let (status, text) = post_whole(&srv, &head, &body, i % 3 == 0).await;
        assert_eq!(status, 413, "request {i}: {text}");
        assert!(text.contains("payload_too_large"), "{text}");
    }
    // Chunked, so the size is only known while reading.
    let mut chunked = Vec::new();
    for part in body.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    for i in 0..10 {
        // Half of them ask for the connection to close after the answer.
        let close = if i % 2 == 0 {
            "connection: close\r\n"
        } else {
            ""
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN}\r\ntransfer-encoding: chunked\r\n{close}\r\n"
        );
        let (status, text) = post_whole(&srv, &head, &chunked, i % 3 == 0).await;
        assert_eq!(status, 413, "chunked request {i}: {text}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn unauthenticated_webhooks_get_one_answer_whatever_the_org() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    let c = client();
    for org in ["acme", "nosecret-co"] {
        let r = call(
            &c,
            "POST",
            &format!("{}/api/v1/orgs", srv.base),
            Some(ADMIN),
            Some(json!({"slug": org})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // Unknown org, org without a webhook secret, org with one (wrong signature).
    let mut answers = Vec::new();
    let mut medians = Vec::new();
    for org in ["no-such-org", "nosecret-co", "acme"] {
        let mut times = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            let r = c
                .post(format!("{}/api/v1/webhooks/circleci/{org}", srv.base))
                .header("circleci-signature", "v1=forged")
                .body("{\"type\":\"workflow-completed\"}")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            times.push(started.elapsed());
            answers.push((org, status, text));
        }
        times.sort();
        let median = times[times.len() / 2];
        assert!(
            times[0] >= Duration::from_millis(50),
            "{org}: answered in {:?}, before the floor",
            times[0]
        );
        medians.push((org, median));
    }
    // Similar times: the floor dominates whatever each case costs.
    let fastest = medians.iter().map(|(_, m)| *m).min().unwrap();
    let slowest = medians.iter().map(|(_, m)| *m).max().unwrap();
    assert!(
        slowest - fastest < Duration::from_millis(50),
        "median times differ: {medians:?}"
    );
    let (_, status, text) = &answers[0];
    assert_eq!(*status, 401, "{text}");
    let body: Value = serde_json::from_str(text).unwrap();
    assert_eq!(body["error"]["code"], "bad_signature");
    for (org, s, t) in &answers {
        assert_eq!((s, t), (status, text), "{org} is answered differently");
    }
    // A well-signed delivery is still accepted.
    let r = c
        .post(format!("{}/api/v1/webhooks/circleci/acme", srv.base))
        .header("circleci-signature", "v1=valid")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    srv.stop().await;
}

#[tokio::test]
async fn deploy_times_outside_the_store_range_are_refused_not_changed() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path()).await;
    let c = client();
    let base = srv.base.clone();
    let post = |p: &str, b: Value| {
        let c = c.clone();
        let url = format!("{base}{p}");
        async move { call(&c, "POST", &url, Some(ADMIN), Some(b)).await }
    };
    assert_eq!(
        post("/api/v1/orgs", json!({"slug": "acme"})).await.status,
        201
    );
    let r = post(
        "/api/v1/orgs/acme/projects",
        json!({"slug": "web", "name": "Web"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = post(
        "/api/v1/orgs/acme/projects/web/code-deployments",
        json!({"slug": "main", "repo_url": "https://github.com/acme/web", "branch": "main"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let deploys = "/api/v1/orgs/acme/projects/web/deploys";
    for bad in [
        "9999-12-31T23:59:59Z",
        "2262-04-11T23:47:16.854775808Z",
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
    ] {
        let r = post(deploys, json!({"sha": "abcdef1", "deployed_at": bad})).await;
        assert_error(&r, 400, "invalid_deployed_at");
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("1970-01-01T00:00:00Z") && m.contains("2262-04-11T23:47:16.854775807Z"),
            "{bad}: {m}"
        );
    }
    let r = call(
        &c,
        "GET",
        &format!("{}/api/v1/orgs/acme/deploys", srv.base),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(r.body["deploys"], json!([]), "nothing was stored");
    // The edges are kept exactly.
    for edge in ["1970-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z"] {
        let r = post(deploys, json!({"sha": "abcdef1", "deployed_at": edge})).await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(r.body["deployed_at"], edge);
        let id = r.body["id"].as_i64().unwrap();
        let back = call(
            &c,
            "GET",
            &format!("{}/api/v1/orgs/acme/deploys/{id}", srv.base),
            Some(ADMIN),
            None,
        )
        .await;
        assert_eq!(back.body["deployed_at"], edge, "{}", back.text);
    }
    srv.stop().await;
}
