//! Setting up over HTTP: orgs, tokens, projects and code deployments, enabling and disabling integrations, default build servers, webhooks handed to the host.
//! A real server on 127.0.0.1:0 with the fake host services, and a real client.

mod common;

use buildsnap_domain::{Status, Summary};
use buildsnap_store::{FinalSnapshot, SnapshotState, ts};
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn orgs_tokens_projects_code_deployments() {
    let w = world().await;
    let r = w
        .call(
            "POST",
            "/api/v1/orgs",
            Some(ADMIN),
            Some(json!({"slug": "Bad_Slug", "name": "x"})),
        )
        .await;
    assert_error(&r, 400, "invalid_slug");
    let r = w
        .call(
            "POST",
            "/api/v1/orgs",
            Some(ADMIN),
            Some(json!({"slug": "acme", "name": "again"})),
        )
        .await;
    assert_error(&r, 409, "slug_taken");
    let r = w
        .call(
            "POST",
            "/api/v1/orgs",
            Some(ADMIN),
            Some(json!({"name": "no slug"})),
        )
        .await;
    assert_error(&r, 400, "invalid_json");
    let r =
        w.c.post(w.url("/api/v1/orgs"))
            .bearer_auth(ADMIN)
            .body("{not json")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 400);
    let r = w
        .post(
            "/api/v1/orgs/acme/tokens",
            json!({"name": "n", "scope": "root"}),
        )
        .await;
    assert_error(&r, 400, "invalid_scope");
    let t = token(&w.c, &w.srv.base, "acme", &w.all, "all").await;
    assert!(t.starts_with("bso_") && t.len() > 60);

    let r = w
        .post(
            "/api/v1/orgs/acme/projects",
            json!({"slug": "-web", "name": "W"}),
        )
        .await;
    assert_error(&r, 400, "invalid_slug");
    let r = w
        .post(
            "/api/v1/orgs/acme/projects",
            json!({"slug": "web", "name": "Web"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.body,
        json!({"slug": "web", "name": "Web", "code_deployments": [], "build_server": null})
    );
    let r = w
        .post(
            "/api/v1/orgs/acme/projects",
            json!({"slug": "web", "name": "Web"}),
        )
        .await;
    assert_error(&r, 409, "slug_taken");
    // Same slug in another org is fine.
    let r = w
        .as_(&w.other)
        .post(
            "/api/v1/orgs/globex/projects",
            json!({"slug": "web", "name": "G"}),
        )
        .await;
    assert_eq!(r.status, 201);

    let cd = json!({"slug": "prod", "repo_url": "https://github.com/acme/web", "branch": "main"});
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/web/code-deployments",
            Some(&w.all),
            Some(cd.clone()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["build_project"], Value::Null);
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/web/code-deployments",
            Some(&w.all),
            Some(cd.clone()),
        )
        .await;
    assert_error(&r, 409, "slug_taken");
    let r = w
        .call(
            "POST",
            "/api/v1/orgs/acme/projects/nope/code-deployments",
            Some(&w.all),
            Some(cd.clone()),
        )
        .await;
    assert_error(&r, 404, "project_not_found");
    let r = w
        .post(
            "/api/v1/orgs/acme/projects/web/code-deployments",
            json!({"slug": "A", "repo_url": "r", "branch": "b"}),
        )
        .await;
    assert_error(&r, 400, "invalid_slug");

    let r = w.get("/api/v1/orgs/acme/projects").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["projects"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["projects"][0]["code_deployments"][0]["slug"], "prod");
    assert_eq!(r.body["projects"][0]["build_server"], Value::Null);
    // Isolation: globex sees only its own project.
    let r = w.as_(&w.other).get("/api/v1/orgs/globex/projects").await;
    assert_eq!(r.body["projects"][0]["name"], "G");
    assert_eq!(r.body["projects"][0]["code_deployments"], json!([]));
}

#[tokio::test]
async fn integrations_enable_errors_and_reads() {
    let w = world().await;
    let r = w.get("/api/v1/orgs/acme/integrations").await;
    assert_eq!(r.status, 200);
    let list = r.body["integrations"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0],
        json!({"provider": "circleci", "name": "CircleCI", "enabled": false, "account": null,
               "base_url": "https://circleci.com", "default_build_server_for": [],
               "token_help_url": "https://app.circleci.com/settings/user/tokens", "status": "ok", "last_error": null,
               "webhook_configured": false})
    );
    let r = w.get("/api/v1/orgs/acme/integrations/nope").await;
    assert_error(&r, 404, "unknown_provider");
    let r = w.enable("nope", json!({"token": "good-x"})).await;
    assert_error(&r, 404, "unknown_provider");

    // Each refusal: the body, the answer, and what its message must say.
    let refusals = [
        (
            json!({"token": "wrong"}),
            422,
            "invalid_credentials",
            "Invalid token provided.",
        ),
        (
            json!({"token": "good-x", "base_url": "https://evil.example"}),
            422,
            "host_not_allowed",
            "BUILDSNAP_ALLOW_HOSTS",
        ),
        (
            json!({"token": "good-x", "base_url": "http://unreachable.granted.example"}),
            502,
            "provider_unreachable",
            "",
        ),
        (
            json!({"token": "good-x", "base_url": "https://broken.granted.example"}),
            502,
            "provider_error",
            "plugin trapped",
        ),
        // The plugin itself may refuse an origin (e.g. a redirect elsewhere).
        (
            json!({"token": "good-x", "base_url": "https://redirect.granted.example"}),
            422,
            "host_not_allowed",
            "BUILDSNAP_ALLOW_HOSTS",
        ),
        (
            json!({"token": "good-x", "base_url": "not a url"}),
            400,
            "invalid_base_url",
            "",
        ),
        (json!({"token": ""}), 400, "invalid_request", ""),
    ];
    for (body, status, code, says) in refusals {
        let r = w.enable("circleci", body.clone()).await;
        assert_error(&r, status, code);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {}", r.text);
    }
    // Nothing was stored by the failures.
    let r = w.get("/api/v1/orgs/acme/integrations/circleci").await;
    assert_eq!(r.body["enabled"], false);

    let r = w
        .enable(
            "circleci",
            json!({"token": "good-x", "base_url": "https://ci.granted.example/"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["enabled"], true);
    assert_eq!(
        r.body["account"],
        json!({"id": "u-1", "login": "octo", "name": "Octo Cat"})
    );
    assert_eq!(r.body["base_url"], "https://ci.granted.example");
    assert!(r.body.get("token").is_none());
    // Stored encrypted; only the worker's accessor sees it.
    let (base, tok) = w
        .srv
        .store
        .integration_token("acme", "circleci")
        .unwrap()
        .unwrap();
    assert_eq!(
        (base.as_str(), tok.expose()),
        ("https://ci.granted.example", "good-x")
    );
    // Isolation: globex's circleci is still disabled.
    let r = w
        .as_(&w.other)
        .get("/api/v1/orgs/globex/integrations/circleci")
        .await;
    assert_eq!(r.body["enabled"], false);
    assert!(
        w.srv
            .store
            .integration_token("globex", "circleci")
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn default_build_server_rules() {
    let w = world().await;
    let p = "/api/v1/orgs/acme/integrations/circleci/default-build-server";
    w.post(
        "/api/v1/orgs/acme/projects",
        json!({"slug": "web", "name": "Web"}),
    )
    .await;
    w.post(
        "/api/v1/orgs/acme/projects",
        json!({"slug": "api", "name": "Api"}),
    )
    .await;
    let r = w.put(p, json!({"project": "web"})).await;
    assert_error(&r, 409, "integration_disabled");
    w.enable("circleci", json!({"token": "good-x"})).await;
    let r = w.put(p, json!({"project": "web"})).await;
    assert_error(&r, 409, "no_code_deployment");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("add a code deployment to project web first")
    );
    let r = w.put(p, json!({"project": "ghost"})).await;
    assert_error(&r, 404, "project_not_found");
    let r = w.set_build_server("nope", "web").await;
    assert_error(&r, 404, "unknown_provider");
    for proj in ["web", "api"] {
        let r = w.post(&format!("/api/v1/orgs/acme/projects/{proj}/code-deployments"), json!({"slug": "main", "repo_url": format!("https://github.com/acme/{proj}"), "branch": "main"})).await;
        assert_eq!(r.status, 201);
    }
    let r = w.put(p, json!({"project": "web"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["default_build_server_for"], json!(["web"]));
    // Repeat: no-op, same answer.
    let again = w.put(p, json!({"project": "web"})).await;
    assert_eq!((again.status, &again.body), (200, &r.body));
    // Several projects may share it.
    let r = w.put(p, json!({"project": "api"})).await;
    assert_eq!(r.body["default_build_server_for"], json!(["api", "web"]));
    let r = w.get("/api/v1/orgs/acme/projects").await;
    assert!(
        r.body["projects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["build_server"] == "circleci")
    );
    // A project has at most one build server: otherci takes over web.
    w.enable("otherci", json!({"token": "good-o"})).await;
    let r = w.set_build_server("otherci", "web").await;
    assert_eq!(r.body["default_build_server_for"], json!(["web"]));
    let r = w.get("/api/v1/orgs/acme/integrations/circleci").await;
    assert_eq!(r.body["default_build_server_for"], json!(["api"]));
    // DELETE: the project stops using it; repeat is fine; unknown project 404.
    let r = w.delete(&format!("{p}/api")).await;
    assert_eq!(r.status, 204);
    let r = w.delete(&format!("{p}/api")).await;
    assert_eq!(r.status, 204);
    let r = w.delete(&format!("{p}/ghost")).await;
    assert_error(&r, 404, "project_not_found");
    let r = w.get("/api/v1/orgs/acme/integrations/circleci").await;
    assert_eq!(r.body["default_build_server_for"], json!([]));
    // Other org: 404.
    let r = w.as_(&w.other).put(p, json!({"project": "web"})).await;
    assert_error(&r, 404, "org_not_found");
}

#[tokio::test]
async fn disable_semantics() {
    let w = world().await;
    with_build_server(&w).await;
    let reg = "/api/v1/orgs/acme/projects/web/deploys";
    let done = w.post(reg, json!({"sha": "aaaaaaa"})).await.body;
    let pending = w.post(reg, json!({"sha": "bbbbbbb"})).await.body;
    let fin = FinalSnapshot {
        state: SnapshotState::Complete,
        summary: Summary::Status(Status::Failed),
        builds: vec![frozen("wf-9", Status::Failed)],
        explain: None,
        build_project: None,
        captured_at: ts::now(),
    };
    w.srv
        .store
        .finish_capture(done["id"].as_i64().unwrap(), &fin)
        .unwrap();
    let before = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{}/builds", done["id"]),
            Some(&w.all),
            None,
        )
        .await
        .body;

    let r = w
        .as_(&w.deployer)
        .delete("/api/v1/orgs/acme/integrations/circleci")
        .await;
    assert_error(&r, 403, "forbidden");
    let r = w.delete("/api/v1/orgs/acme/integrations/nope").await;
    assert_error(&r, 404, "unknown_provider");
    let r = w.delete("/api/v1/orgs/acme/integrations/circleci").await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    // The host hears of it (to end in-flight calls), once, after the
    // refused attempts above told it nothing.
    assert_eq!(
        *w.srv.services.disabled.lock().unwrap(),
        vec![("acme".to_string(), "circleci".to_string())]
    );

    let r = w.get("/api/v1/orgs/acme/integrations/circleci").await;
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["account"], Value::Null);
    assert_eq!(r.body["default_build_server_for"], json!([]));
    assert!(
        w.srv
            .store
            .integration_token("acme", "circleci")
            .unwrap()
            .is_none(),
        "token erased"
    );
    let r = w.get("/api/v1/orgs/acme/projects").await;
    assert_eq!(r.body["projects"][0]["build_server"], Value::Null);
    // Captured snapshot stays readable and unchanged.
    let after = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{}/builds", done["id"]),
            Some(&w.all),
            None,
        )
        .await
        .body;
    assert_eq!(before, after);
    assert_eq!(after["state"], "complete");
    // The pending capture will make no provider call: its job is done, snapshot says why.
    let r = w
        .call(
            "GET",
            &format!("/api/v1/orgs/acme/deploys/{}/builds", pending["id"]),
            Some(&w.all),
            None,
        )
        .await;
    assert_eq!(r.body["state"], "error");
    assert!(r.body["explain"].as_str().unwrap().contains("disabled"));
    assert!(w.srv.store.next_capture_job().unwrap().is_none());
    assert_eq!(w.srv.store.capture_queue_depth().unwrap(), 0);
    // New deploys: no build server.
    let r = w.post(reg, json!({"sha": "ccccccc"})).await;
    assert_eq!(r.body["builds"]["state"], "no_build_server");
    // Setting it as build server again needs it enabled.
    let r = w.set_build_server("circleci", "web").await;
    assert_error(&r, 409, "integration_disabled");
    // Disabling again is a no-op.
    let r = w.delete("/api/v1/orgs/acme/integrations/circleci").await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn webhooks_delegate_to_providers() {
    let w = world().await;
    let post = |p: &str, sig: &str| {
        w.c.post(w.url(p))
            .header("circleci-signature", sig.to_string())
            .body("{\"type\":\"workflow-completed\"}")
            .send()
    };
    let r = post("/api/v1/webhooks/nope/acme", "v1=valid")
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unknown_provider"
    );
    // An unknown org is answered like a bad signature (tests/hostile.rs).
    let r = post("/api/v1/webhooks/circleci/nope", "v1=valid")
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "bad_signature"
    );
    let r = post("/api/v1/webhooks/circleci/acme", "v1=forged")
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "bad_signature"
    );
    let r = post("/api/v1/webhooks/circleci/acme", "v1=unsupported")
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], false);
    let r = post("/api/v1/webhooks/circleci/acme", "v1=valid")
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"accepted": true, "id": "acme-29", "kind": "workflow-completed", "duplicate": false})
    );
}
