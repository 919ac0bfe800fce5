//! Content coding of `GET .../deploys/{id}`, `.../builds` and the deploy
//! list against a real server: zstd passes the stored snapshot frame through, gzip and zstd
//! answers decode byte for byte to the plain JSON answer, `Accept-Encoding`
//! qualities are honoured, and every answer says `Vary: Accept-Encoding`.

mod common;

use std::io::Read;

use buildsnap_domain::{IndexedBuild, Status, Summary, freeze};
use buildsnap_store::{
    Account, FinalSnapshot, NewCodeDeployment, NewDeploy, ProviderToken, Scope, SnapshotState, ts,
};
use common::*;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn build(n: usize, status: &str) -> IndexedBuild {
    let at = |m: usize| format!("2025-06-01T11:{m:02}:00Z");
    serde_json::from_value(serde_json::json!({
        "id": format!("wf-{n}"), "project": "gh/acme/web", "name": format!("build-{n}"),
        "status": status, "provider_status": status,
        "url": format!("https://app.circleci.com/pipelines/gh/acme/web/1/workflows/wf-{n}"),
        "pipeline_id": "p1", "pipeline_number": 1, "sha": SHA, "branch": "main", "tag": null,
        "created_at": at(n), "stopped_at": at(n + 8), "jobs_complete": true,
        "jobs": (0..4).map(|k| serde_json::json!({
            "id": format!("wf-{n}-job-{k}"), "name": format!("job {k} \"quoted\" é"),
            "number": 100 * n + k, "kind": "build", "status": status, "provider_status": status,
            "started_at": at(n + k), "stopped_at": at(n + k + 1), "url": null,
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// A server with one deploy whose snapshot is complete with 5 builds that
/// are also in the index; returns the org token and the deploy id.
async fn world(dir: &std::path::Path) -> (Server, String, i64) {
    let srv = Server::start(dir).await;
    let s = &srv.store;
    s.create_org("acme", "Acme").unwrap();
    let token = s.create_token("acme", "t", Scope::All).unwrap().token;
    s.create_project("acme", "web", "Web").unwrap();
    let cd = NewCodeDeployment {
        slug: "main".into(),
        repo_url: "https://github.com/acme/web".into(),
        branch: "main".into(),
        build_project: Some("gh/acme/web".into()),
        branch_builds_only: false,
    };
    s.create_code_deployment("acme", "web", &cd).unwrap();
    let account = Account {
        id: "1".into(),
        login: "a".into(),
        name: "A".into(),
    };
    s.enable_integration(
        "acme",
        "circleci",
        "https://circleci.com",
        &ProviderToken::new("tok".into()),
        &account,
    )
    .unwrap();
    s.set_default_build_server("acme", "circleci", "web")
        .unwrap();
    let deployed_at = ts::parse("2025-06-01T12:00:00Z").unwrap();
    let new = NewDeploy {
        sha: SHA.into(),
        environment: None,
        deployed_at: Some(deployed_at),
        code_deployment: None,
    };
    let d = s.register_deploy("acme", "web", &new).unwrap();
    s.next_capture_job().unwrap().unwrap();
    let builds: Vec<IndexedBuild> = (0..5).map(|n| build(n, "success")).collect();
    let fin = FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(Status::Success),
        builds: builds
            .iter()
            .map(|b| freeze::freeze_build(b, deployed_at))
            .collect(),
        explain: None,
        build_project: Some("gh/acme/web".into()),
        captured_at: deployed_at,
    };
    assert!(s.complete_capture(d.id, &fin).unwrap());
    assert!(s.index_builds("acme", "circleci", &builds, None).unwrap());
    (srv, token, d.id)
}

struct Answer {
    encoding: Option<String>,
    vary: Option<String>,
    length: usize,
    bytes: Vec<u8>,
}

async fn get(c: &reqwest::Client, url: &str, token: &str, accept: Option<&str>) -> Answer {
    let mut rb = c.get(url).bearer_auth(token);
    if let Some(a) = accept {
        rb = rb.header("accept-encoding", a);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let (encoding, vary) = (h("content-encoding"), h("vary"));
    let length: usize = h("content-length").unwrap().parse().unwrap();
    let bytes = r.bytes().await.unwrap().to_vec();
    Answer {
        encoding,
        vary,
        length,
        bytes,
    }
}

fn decoded(a: &Answer) -> Vec<u8> {
    match a.encoding.as_deref() {
        None => a.bytes.clone(),
        Some("zstd") => zstd::decode_all(&a.bytes[..]).unwrap(),
        Some("gzip") => {
            let mut out = vec![];
            flate2::read::GzDecoder::new(&a.bytes[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        Some(other) => panic!("unexpected content-encoding {other}"),
    }
}

/// The stored zstd frame of the deploy's `builds`, read from the database.
fn stored_frame(srv: &Server, id: i64) -> Vec<u8> {
    let c = rusqlite::Connection::open(srv.store.path()).unwrap();
    c.query_row(
        "SELECT builds_zstd FROM snapshots WHERE deploy_id = ?1",
        [id],
        |r| r.get(0),
    )
    .unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn deploy_answers_are_compressed_as_the_client_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, token, id) = world(dir.path()).await;
    let c = client();
    let frame = stored_frame(&srv, id);
    for path in [
        format!("/api/v1/orgs/acme/deploys/{id}"),
        format!("/api/v1/orgs/acme/deploys/{id}/builds"),
    ] {
        let url = format!("{}{path}", srv.base);
        let plain = get(&c, &url, &token, None).await;
        assert_eq!(
            (plain.encoding.as_deref(), plain.vary.as_deref()),
            (None, Some("accept-encoding"))
        );
        assert_eq!(plain.length, plain.bytes.len());
        let v: serde_json::Value = serde_json::from_slice(&plain.bytes).unwrap();
        let builds = if path.ends_with("/builds") {
            &v["builds"]
        } else {
            &v["builds"]["builds"]
        };
        assert_eq!(builds.as_array().unwrap().len(), 5, "{path}");
        assert!(plain.bytes.len() > 5000, "{} bytes", plain.bytes.len());

        // zstd: the stored frame itself is in the answer, and the whole
        // answer decodes to exactly the plain one.
        let z = get(&c, &url, &token, Some("gzip, deflate, br, zstd")).await;
        assert_eq!(
            (z.encoding.as_deref(), z.vary.as_deref()),
            (Some("zstd"), Some("accept-encoding"))
        );
        assert_eq!(z.length, z.bytes.len());
        assert!(
            contains(&z.bytes, &frame),
            "{path}: stored frame not passed through"
        );
        assert_eq!(
            decoded(&z),
            plain.bytes,
            "{path}: zstd answer differs from the plain one"
        );
        assert!(
            z.bytes.len() * 4 < plain.bytes.len(),
            "{} of {} bytes",
            z.bytes.len(),
            plain.bytes.len()
        );

        let g = get(&c, &url, &token, Some("gzip, deflate")).await;
        assert_eq!(g.encoding.as_deref(), Some("gzip"));
        assert_eq!(decoded(&g), plain.bytes, "{path}: gzip answer differs");
        assert!(g.bytes.len() * 3 < plain.bytes.len());

        for (accept, want) in [
            ("zstd;q=0, gzip", Some("gzip")),
            ("zstd;q=0.4, gzip;q=0.5", Some("gzip")),
            ("identity;q=0, zstd", Some("zstd")),
            ("identity", None),
            ("br, deflate", None),
            ("*;q=0", None),
            ("zstd;q=0, gzip;q=0", None),
        ] {
            let a = get(&c, &url, &token, Some(accept)).await;
            assert_eq!(
                a.encoding.as_deref(),
                want,
                "{path}, Accept-Encoding: {accept}"
            );
            assert_eq!(a.vary.as_deref(), Some("accept-encoding"));
            assert_eq!(
                decoded(&a),
                plain.bytes,
                "{path}, Accept-Encoding: {accept}"
            );
        }
    }

    // The deploy list: in zstd each snapshot's stored frame passes through
    // too; every coding decodes to the plain answer, which holds the same
    // deploy as its own route.
    // A second, newer deploy still pending: its snapshot is JSON text, so
    // the page mixes both kinds.
    let newer = NewDeploy {
        sha: SHA.into(),
        environment: None,
        deployed_at: Some(ts::parse("2025-06-01T13:00:00Z").unwrap()),
        code_deployment: None,
    };
    let pending = srv.store.register_deploy("acme", "web", &newer).unwrap();
    let url = format!("{}/api/v1/orgs/acme/deploys", srv.base);
    let plain = get(&c, &url, &token, None).await;
    let list: serde_json::Value = serde_json::from_slice(&plain.bytes).unwrap();
    for (k, deploy) in [pending.id, id].into_iter().enumerate() {
        let one = get(&c, &format!("{url}/{deploy}"), &token, None).await;
        let one: serde_json::Value = serde_json::from_slice(&one.bytes).unwrap();
        assert_eq!(list["deploys"][k], one, "deploy {deploy}");
    }
    assert_eq!(list["next_cursor"], serde_json::Value::Null);
    let z = get(&c, &url, &token, Some("zstd")).await;
    assert_eq!(z.encoding.as_deref(), Some("zstd"));
    assert!(
        contains(&z.bytes, &frame),
        "list: stored frame not passed through"
    );
    assert_eq!(decoded(&z), plain.bytes, "list: zstd answer differs");
    let g = get(&c, &url, &token, Some("gzip")).await;
    assert_eq!(g.encoding.as_deref(), Some("gzip"));
    assert_eq!(decoded(&g), plain.bytes, "list: gzip answer differs");

    // A build moved on: the answer carries current_status in every coding.
    srv.store
        .index_builds("acme", "circleci", &[build(2, "failed")], None)
        .unwrap();
    let url = format!("{}/api/v1/orgs/acme/deploys/{id}", srv.base);
    let plain = get(&c, &url, &token, None).await;
    let v: serde_json::Value = serde_json::from_slice(&plain.bytes).unwrap();
    assert_eq!(v["builds"]["builds"][2]["current_status"], "failed");
    assert!(v["builds"]["builds"][1].get("current_status").is_none());
    for accept in ["zstd", "gzip"] {
        let a = get(&c, &url, &token, Some(accept)).await;
        assert_eq!(a.encoding.as_deref(), Some(accept));
        assert_eq!(decoded(&a), plain.bytes, "patched, {accept}");
    }
    srv.stop().await;
}
