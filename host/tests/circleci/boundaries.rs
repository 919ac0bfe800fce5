// The boundaries suite: included by `circleci_boundaries.rs` (the built-in component;
// what it covers is said there) and by `circleci_0_1_0.rs` (the 0.1.0
// component). `crate::CIRCLECI` says which one runs.

use std::time::Duration;

use buildsnap::capture::webhook_verify;
use buildsnap::runtime::CallError;
use buildsnap::runtime::wit::{ProviderError, Status, WebhookError, WebhookRequest};
use crate::cases::*;
use circleci_sim::auth::{AuthForm, fingerprint};
use circleci_sim::builder::{JobSpec, PipelineSpec, WorkflowSpec, stable_sha};
use circleci_sim::{Scenario, SimOptions, WebhookConfig};
use crate::sim::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reaches_the_simulator_as_circle_token_and_never_comes_back() {
    let sim = start(demo_scenario()).await;
    let circleci = circleci(&sim).await;
    let integ = integration(&sim, Some(ALICE));
    let account = circleci.validate_credentials(&integ).await.unwrap();
    let projects = circleci.all_projects(&integ).await.unwrap();
    let builds = circleci
        .builds_for_commit(&integ, &query(API, SHA_45))
        .await
        .unwrap();
    let unauthorized = circleci
        .builds_for_commit(&integration(&sim, Some("wrong-token")), &query(API, SHA_45))
        .await;

    let reqs = sim.requests();
    let alice = fingerprint(ALICE);
    let alice_reqs: Vec<_> = reqs
        .iter()
        .filter(|r| r.client.as_deref() == Some(alice.as_str()))
        .collect();
    assert_eq!(alice_reqs.len(), reqs.len() - 1, "{reqs:#?}");
    assert!(
        reqs.iter().all(|r| r.auth == Some(AuthForm::CircleToken)),
        "every request carried Circle-Token"
    );
    assert!(
        reqs.iter()
            .all(|r| r.query.as_deref().is_none_or(|q| !q.contains(ALICE)))
    );
    // Nothing the plugin returned holds the token.
    let everything = format!("{account:?} {projects:?} {builds:?} {unauthorized:?}");
    assert!(
        !everything.contains(ALICE),
        "token leaked into plugin output"
    );
    assert!(
        !everything.contains("wrong-token"),
        "token leaked into plugin output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_not_sent_to_an_origin_that_was_not_granted() {
    let sim = start(demo_scenario()).await;
    // No grant for the simulator's origin: the call is refused before any request.
    let registry = buildsnap::runtime::Registry::builder()
        .build()
        .await
        .unwrap();
    let circleci = registry.get("circleci").unwrap();
    match circleci
        .validate_credentials(&integration(&sim, Some(ALICE)))
        .await
    {
        Err(CallError::HostNotAllowed(m)) => assert!(m.contains("BUILDSNAP_ALLOW_HOSTS"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(sim.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_from_the_simulator_is_verified_and_mapped_through_the_host() {
    let sha = stable_sha("e2e:webhook");
    let receiver = Receiver::start().await;
    let secret = "e2e-webhook-secret";
    let scenario = Scenario::builder()
        .user("alice", ALICE)
        .project(API)
        .pipeline(
            PipelineSpec::new(7).revision(&sha).branch("main").workflow(
                WorkflowSpec::new("build")
                    .status("running")
                    .then_at(60, "success")
                    .job(
                        JobSpec::new("test")
                            .status("running")
                            .then_at(55, "success"),
                    ),
            ),
        )
        .build()
        .unwrap();
    let config = WebhookConfig {
        events: vec!["workflow-completed".into()],
        ..WebhookConfig::new(receiver.url(), secret)
    };
    let sim = start_with(
        scenario,
        SimOptions {
            webhooks: vec![config],
            ..SimOptions::default()
        },
    )
    .await;
    let workflow_id = pipeline_of(&sim, API, 7).workflows[0].id.clone();
    sim.clock().advance(Duration::from_secs(120));
    let delivery = receiver
        .wait_for(Duration::from_secs(10), |r| {
            header(r, "circleci-event-type") == Some("workflow-completed")
        })
        .await
        .expect("the simulator delivered workflow-completed");
    assert!(header(&delivery, "circleci-signature").is_some_and(|s| s.starts_with("v1=")));

    let circleci = circleci(&sim).await;
    let integ = integration(&sim, Some(ALICE));
    // Contract 0.2.0: the descriptor hands verification to the host, which
    // checks the simulator's real delivery (and refuses another secret)
    // without the secret entering the plugin. A 0.1.0 plugin verifies in
    // the plugin (`by-plugin`).
    match (&circleci.info.webhooks, crate::CIRCLECI.is_v0_2()) {
        (Some(config), true) => {
            let verify = |secret: &str| {
                webhook_verify::verify(
                    &config.scheme,
                    &delivery.headers,
                    &delivery.body,
                    &[secret],
                )
            };
            assert_eq!(verify(secret), Ok(webhook_verify::Verdict::Verified));
            assert!(verify("not-the-secret").is_err());
        }
        (Some(config), false) => assert!(matches!(
            config.scheme,
            buildsnap::runtime::wit::latest::provider::WebhookScheme::ByPlugin
        )),
        (config, _) => panic!("webhook config {config:?} for {:?}", crate::CIRCLECI),
    }
    let req = WebhookRequest {
        headers: delivery.headers.clone(),
        body: delivery.body.clone(),
        delivery_id: None,
        received_at: 0,
        verified: false,
        secrets: vec![secret.into()],
    };
    let event = circleci
        .parse_webhook(&integ, &req)
        .await
        .unwrap()
        .expect("verified");
    assert_eq!(event.kind, "workflow-completed");
    assert_eq!(
        event.project.as_deref(),
        Some(API),
        "long slug github/… normalised"
    );
    let payload: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(event.id, payload["id"].as_str().unwrap());
    assert_eq!(event.builds.len(), 1);
    let b = &event.builds[0];
    assert_eq!(b.id, workflow_id);
    assert_eq!(
        (b.status, b.sha.as_str(), b.branch.as_deref()),
        (Status::Success, sha.as_str(), Some("main"))
    );
    assert_eq!(b.pipeline_number, Some(7));
    assert!(!b.jobs_complete, "a workflow event carries no jobs");
    // Webhook parsing makes no HTTP requests.
    assert!(sim.requests().is_empty());

    // The same body with another secret, or one changed byte, is refused.
    let wrong = WebhookRequest {
        delivery_id: None,
        received_at: 0,
        verified: false,
        secrets: vec!["not-the-secret".into()],
        ..req.clone()
    };
    assert!(matches!(
        circleci.parse_webhook(&integ, &wrong).await.unwrap(),
        Err(WebhookError::BadSignature(_))
    ));
    let mut body = req.body.clone();
    let at = body.iter().position(|&c| c == b'7').unwrap();
    body[at] = b'8';
    let tampered = WebhookRequest {
        body,
        ..req.clone()
    };
    assert!(matches!(
        circleci.parse_webhook(&integ, &tampered).await.unwrap(),
        Err(WebhookError::BadSignature(_))
    ));
    // A body signed by the test itself with the secret (HMAC-SHA256) verifies.
    let body = serde_json::to_vec(&payload).unwrap();
    let signature = format!(
        "v1={}",
        circleci_sim::webhooks::sign(secret.as_bytes(), &body)
    );
    let resigned = WebhookRequest {
        headers: vec![("circleci-signature".into(), signature)],
        body,
        delivery_id: None,
        received_at: 0,
        verified: false,
        secrets: vec![secret.into()],
    };
    let event = circleci
        .parse_webhook(&integ, &resigned)
        .await
        .unwrap()
        .expect("verified");
    assert_eq!(event.builds[0].id, workflow_id);
}

/// Issue 18, F6: the built-in plugin refuses a project slug with dot
/// segments before any request, so the integration's token never reaches
/// another path of the provider (`/internal/admin%3Fx%3D1%23/pipeline`).
#[tokio::test]
async fn a_project_slug_with_dot_segments_sends_nothing() {
    let sim = start(demo_scenario()).await;
    let plugin = circleci(&sim).await;
    let result = plugin
        .builds_for_commit(
            &integration(&sim, Some(ALICE)),
            &query("gh/../../../../internal/admin?x=1#", SHA_45),
        )
        .await;
    match provider_error(result) {
        ProviderError::NotFound(m) => assert!(m.contains("not a CircleCI project slug"), "{m}"),
        other => panic!("expected not-found, got {other:?}"),
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
}
