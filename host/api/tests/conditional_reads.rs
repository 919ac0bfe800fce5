//! Deploy reads at scale, against a real server: deploy lists paged by
//! cursor, `ETag` / `If-None-Match` answered 304 when nothing changed,
//! compressed lists, and HEAD on every GET route.

mod common;

use std::io::Read;

use buildsnap_store::{NewCodeDeployment, NewDeploy, Scope, ts};
use common::*;

/// A server with org acme, project web and `n` deploys (no build server,
/// so their snapshots are final at once); the org token.
async fn world(dir: &std::path::Path, n: i64) -> (Server, String) {
    let srv = Server::start(dir).await;
    let s = &srv.store;
    s.create_org("acme", "Acme").unwrap();
    let token = s.create_token("acme", "t", Scope::All).unwrap().token;
    s.create_project("acme", "web", "Web").unwrap();
    let cd = NewCodeDeployment {
        slug: "main".into(),
        repo_url: "https://github.com/acme/web".into(),
        branch: "main".into(),
        build_project: None,
        branch_builds_only: false,
    };
    s.create_code_deployment("acme", "web", &cd).unwrap();
    for i in 0..n {
        deploy(s, i / 2);
    }
    (srv, token)
}

/// Registers a deploy `minutes` after a fixed instant (two share each one).
fn deploy(s: &buildsnap_store::Store, minutes: i64) -> i64 {
    let at = ts::parse("2025-06-01T12:00:00Z").unwrap() + time::Duration::minutes(minutes);
    let new = NewDeploy {
        sha: "abcdef1".into(),
        environment: None,
        deployed_at: Some(at),
        code_deployment: None,
    };
    s.register_deploy("acme", "web", &new).unwrap().id
}

async fn api(srv: &Server, method: &str, path: &str, token: &str) -> Resp {
    call(
        &client(),
        method,
        &format!("{}{path}", srv.base),
        Some(token),
        None,
    )
    .await
}

fn ids(body: &serde_json::Value) -> Vec<i64> {
    body["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn deploy_lists_page_by_cursor_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = world(dir.path(), 12).await;
    let whole = api(&srv, "GET", "/api/v1/orgs/acme/deploys?limit=100", &token).await;
    assert_eq!(whole.status, 200);
    assert!(whole.body["next_cursor"].is_null(), "one page holds all 12");
    let order = ids(&whole.body);
    assert_eq!(order.len(), 12);

    let (mut seen, mut pages, mut path) = (
        vec![],
        0,
        "/api/v1/orgs/acme/deploys?limit=5&project=web".to_string(),
    );
    loop {
        let r = api(&srv, "GET", &path, &token).await;
        assert_eq!(r.status, 200, "{}", r.text);
        pages += 1;
        seen.extend(ids(&r.body));
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/orgs/acme/deploys?limit=5&project=web&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((seen, pages), (order, 3));

    for bad in ["nonsense", "ZDEuMS4", "%20", "ZDIuMS4y"] {
        let r = api(
            &srv,
            "GET",
            &format!("/api/v1/orgs/acme/deploys?cursor={bad}"),
            &token,
        )
        .await;
        assert_error(&r, 422, "invalid_cursor");
    }
    srv.stop().await;
}

async fn get(url: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut rb = client().get(url).bearer_auth(token);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn an_unchanged_answer_is_a_304_and_a_change_a_new_tag() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = world(dir.path(), 4).await;
    let id = ids(&api(&srv, "GET", "/api/v1/orgs/acme/deploys", &token)
        .await
        .body)[0];
    for path in [
        "/api/v1/orgs/acme/deploys?limit=3".to_string(),
        format!("/api/v1/orgs/acme/deploys/{id}"),
        format!("/api/v1/orgs/acme/deploys/{id}/builds"),
    ] {
        let url = format!("{}{path}", srv.base);
        let first = get(&url, &token, &[]).await;
        assert_eq!(first.status(), 200);
        assert_eq!(
            first.headers()["cache-control"],
            "private, no-cache",
            "{path}"
        );
        let tag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(
            tag.starts_with('"') && tag.ends_with('"'),
            "strong tag: {tag}"
        );

        for named in [tag.clone(), format!("W/{tag}"), format!("\"x\", {tag}")] {
            let again = get(&url, &token, &[("if-none-match", &named)]).await;
            assert_eq!(again.status(), 304, "{path} with {named}");
            assert_eq!(again.headers()["etag"], tag.as_str());
            assert_eq!(again.headers()["vary"], "accept-encoding");
            assert!(again.bytes().await.unwrap().is_empty());
        }
        let other = get(&url, &token, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(other.status(), 200);

        // Another coding is another representation: another tag.
        let gz = get(&url, &token, &[("accept-encoding", "gzip")]).await;
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        assert_ne!(gz.headers()["etag"], tag.as_str(), "{path}");
    }

    // A new deploy changes the list: the old tag no longer matches.
    let url = format!("{}/api/v1/orgs/acme/deploys?limit=3", srv.base);
    let tag = get(&url, &token, &[]).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    deploy(&srv.store, 100);
    let changed = get(&url, &token, &[("if-none-match", &tag)]).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"], tag.as_str());
    // An error is never tagged.
    let missing = get(
        &format!("{}/api/v1/orgs/acme/deploys/999999", srv.base),
        &token,
        &[("if-none-match", "*")],
    )
    .await;
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get("etag").is_none());
    srv.stop().await;
}

#[tokio::test]
async fn a_compressed_list_decodes_to_the_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = world(dir.path(), 30).await;
    let url = format!("{}/api/v1/orgs/acme/deploys", srv.base);
    let plain = get(&url, &token, &[]).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let gz = get(&url, &token, &[("accept-encoding", "gzip")])
        .await
        .bytes()
        .await
        .unwrap();
    let mut out = vec![];
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);
    assert!(
        gz.len() * 4 < plain.len(),
        "{} vs {}",
        gz.len(),
        plain.len()
    );
    let zs = get(&url, &token, &[("accept-encoding", "zstd")])
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(zstd::decode_all(&zs[..]).unwrap(), plain);
    srv.stop().await;
}

#[tokio::test]
async fn head_answers_every_get_route_without_a_body() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token) = world(dir.path(), 3).await;
    for path in [
        "/healthz",
        "/api/v1/openapi.json",
        "/api/v1/orgs/acme/deploys",
        "/",
    ] {
        let url = format!("{}{path}", srv.base);
        let got = get(&url, &token, &[]).await;
        let (status, etag) = (got.status(), got.headers().get("etag").cloned());
        let length = got.bytes().await.unwrap().len();
        let head = client()
            .head(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), status, "{path}");
        assert_eq!(
            head.headers()["content-length"],
            length.to_string().as_str(),
            "{path}"
        );
        assert_eq!(head.headers().get("etag").cloned(), etag, "{path}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    // HEAD needs the same token as GET.
    let anon = client()
        .head(format!("{}/api/v1/orgs/acme/deploys", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    // A POST-only path lists HEAD only where GET is.
    let r = api(&srv, "PATCH", "/api/v1/orgs", &token).await;
    assert_eq!(
        (r.status, r.headers["allow"].to_str().unwrap()),
        (405, "POST")
    );
    let r = api(&srv, "PATCH", "/api/v1/orgs/acme/deploys", &token).await;
    assert_eq!(r.headers["allow"], "GET, HEAD");
    srv.stop().await;
}
