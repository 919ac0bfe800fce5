//! Webhook signatures (CircleCI's published test vectors) and event mapping.

mod common;

use buildsnap_circleci::webhook::{parse, sign, verify_signature};
use buildsnap_circleci::wit::*;
use common::*;
use serde_json::json;

const HELLO: &str = "734cc62f32841568f45715aeb9f4d7891324e6d948e4c6c60c0621cdac48623a";
const FOO: &str = "773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4";

fn req(body: &[u8], signature: Option<&str>) -> WebhookRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(s) = signature {
        headers.push(("circleci-signature".to_string(), s.to_string()));
    }
    WebhookRequest {
        headers,
        body: body.to_vec(),
        delivery_id: None,
        received_at: NOW,
        // As under `by-plugin`: the plugin checks the signature itself.
        verified: false,
        secrets: vec!["secret".into()],
    }
}

#[test]
fn published_test_vectors() {
    assert_eq!(sign(b"secret", b"hello world"), HELLO);
    assert_eq!(sign(b"secret", b"foo"), FOO);
    assert_eq!(
        verify_signature(&req(b"hello world", Some(&format!("v1={HELLO}")))),
        Ok(())
    );
    assert_eq!(
        verify_signature(&req(b"foo", Some(&format!("v1={FOO}")))),
        Ok(())
    );
}

#[test]
fn several_pairs_in_one_header() {
    // A future version and an old secret's v1 beside the right one.
    let header = format!("v2=abcdef, v1={FOO},v1={HELLO}");
    assert_eq!(
        verify_signature(&req(b"hello world", Some(&header))),
        Ok(())
    );
    let header = format!("v1={HELLO},v2=deadbeef");
    assert_eq!(
        verify_signature(&req(b"hello world", Some(&header))),
        Ok(())
    );
}

#[test]
fn wrong_or_missing_signatures() {
    let bad =
        |r: &WebhookRequest| matches!(verify_signature(r), Err(WebhookError::BadSignature(_)));
    assert!(
        bad(&req(b"hello world", Some(&format!("v1={FOO}")))),
        "signature of another body"
    );
    assert!(
        bad(&req(b"hello world!", Some(&format!("v1={HELLO}")))),
        "body changed"
    );
    assert!(
        bad(&req(b"hello world", Some(&format!("v2={HELLO}")))),
        "only an unknown version"
    );
    assert!(bad(&req(b"hello world", Some("v1=zz"))), "not hex");
    // HELLO's byte 24 is 0c; `+c` parses as 12 with from_str_radix but is
    // not hex (found by the webhook fuzz target).
    let signed = format!("v1={}+{}", &HELLO[..48], &HELLO[49..]);
    assert!(
        bad(&req(b"hello world", Some(&signed))),
        "a sign in the hex"
    );
    assert!(
        bad(&req(b"hello world", Some(&format!("v1={}", &HELLO[..62])))),
        "truncated"
    );
    assert!(
        bad(&req(b"hello world", Some(&HELLO.to_uppercase()))),
        "no version"
    );
    assert!(bad(&req(b"hello world", None)), "missing header");
    let mut no_secret = req(b"hello world", Some(&format!("v1={HELLO}")));
    no_secret.secrets.clear();
    assert!(bad(&no_secret));
    no_secret.secrets = vec![String::new()];
    assert!(bad(&no_secret), "an empty secret verifies nothing");
    // Upper-case hex of the right MAC is the same signature.
    assert_eq!(
        verify_signature(&req(
            b"hello world",
            Some(&format!("v1={}", HELLO.to_uppercase()))
        )),
        Ok(())
    );
}

#[test]
fn any_secret_of_a_rotation_verifies_and_a_host_verdict_is_taken() {
    let mut rotating = req(b"hello world", Some(&format!("v1={HELLO}")));
    rotating.secrets = vec!["new-secret".into(), "secret".into()];
    assert_eq!(verify_signature(&rotating), Ok(()));
    rotating.secrets = vec!["new-secret".into()];
    assert!(verify_signature(&rotating).is_err());

    // The host verified (the descriptor's hmac-sha256 scheme): no secrets
    // reach the plugin, and it does not check again.
    let mut verified = req(b"hello world", None);
    verified.verified = true;
    verified.secrets.clear();
    assert_eq!(verify_signature(&verified), Ok(()));
    let body = serde_json::to_vec(&workflow_event()).unwrap();
    let mut host_checked = req(&body, None);
    host_checked.verified = true;
    host_checked.secrets.clear();
    let event = parse(&ctx(BASE), &host_checked).unwrap();
    assert_eq!(event.builds.len(), 1);
}

fn signed(body: &serde_json::Value) -> WebhookRequest {
    let bytes = serde_json::to_vec(body).unwrap();
    let sig = sign(b"secret", &bytes);
    req(&bytes, Some(&format!("v1={sig}")))
}

fn workflow_event() -> serde_json::Value {
    json!({
        "id": "3888f21b-eaa7-38e3-8f3d-75a63bba8895",
        "type": "workflow-completed",
        "happened_at": "2021-09-01T22:49:34.317Z",
        "webhook": {"id": "cf8c4fdd", "name": "buildsnap"},
        "project": {"id": "84996744", "name": "webhook-service", "slug": "github/circleci/webhook-service"},
        "organization": {"id": "f22b6566", "name": "circleci"},
        "workflow": {
            "id": "fda08377-fe7e-46b1-8992-3a7aaecac9c3", "name": "build-test-deploy",
            "created_at": "2021-09-01T22:49:03.616Z", "stopped_at": "2021-09-01T22:49:34.170Z",
            "url": "", "status": "success"
        },
        "pipeline": {
            "id": "1285fe1d-d3a6-44fc-8886-8979558254c4", "number": 130,
            "created_at": "2021-09-01T22:49:03.544Z",
            "trigger": {"type": "webhook"},
            "vcs": {
                "provider_name": "github", "origin_repository_url": "https://github.com/circleci/webhook-service",
                "target_repository_url": "https://github.com/circleci/webhook-service",
                "revision": "1dc6aa69429bff4806ad6afe58d3d8f57e25973e", "branch": "main",
                "commit": {"subject": "Description of change", "body": "More details"}
            }
        }
    })
}

#[test]
fn workflow_completed_event() {
    let event = parse(&ctx(BASE), &signed(&workflow_event())).unwrap();
    assert_eq!(event.id, "3888f21b-eaa7-38e3-8f3d-75a63bba8895");
    assert_eq!(event.kind, "workflow-completed");
    assert_eq!(
        event.project.as_deref(),
        Some("gh/circleci/webhook-service")
    );
    let b = &event.builds[0];
    assert_eq!(b.id, "fda08377-fe7e-46b1-8992-3a7aaecac9c3");
    assert!(event.jobs.is_empty());
    // The event names no re-runs: the first attempt, which the host does
    // not let lower an attempt a search counted.
    assert_eq!((b.attempt, b.parent_id.as_deref()), (1, None));
    assert_eq!(
        (b.status, b.provider_status.as_str()),
        (Status::Success, "success")
    );
    assert_eq!(b.sha, "1dc6aa69429bff4806ad6afe58d3d8f57e25973e");
    assert_eq!(b.pipeline_number, Some(130));
    assert_eq!(b.branch.as_deref(), Some("main"));
    assert_eq!(b.stopped_at.as_deref(), Some("2021-09-01T22:49:34.170Z"));
    assert!(!b.jobs_complete);
    // The event's url was empty, so the link is derived.
    assert_eq!(
        b.url.as_deref(),
        Some(
            "https://app.circleci.com/pipelines/github/circleci/webhook-service/130/workflows/fda08377-fe7e-46b1-8992-3a7aaecac9c3"
        )
    );
}

#[test]
fn job_completed_event_from_a_github_app_project() {
    let mut body = workflow_event();
    body["type"] = json!("job-completed");
    body["project"]["slug"] = json!("circleci/9z8PamRuKaKWrW91o7Kqvn/AHWysFUuUfBgs6VeUqm6tg");
    body["workflow"].as_object_mut().unwrap().remove("status");
    body["workflow"]["url"] =
        json!("https://app.circleci.com/pipelines/circleci/9z8P/AHWy/130/workflows/fda08377");
    body["pipeline"].as_object_mut().unwrap().remove("vcs");
    body["pipeline"]["trigger_parameters"] = json!({
        "circleci": {"event_time": "2024-12-18 17:23:29.361740256 +0000 UTC", "event_type": "push"},
        "git": {"checkout_sha": "ABCDEF1234567890ABCDEF1234567890ABCDEF12", "branch": "main"},
        "github_app": {"commit_sha": "abcdef1234567890abcdef1234567890abcdef12"}
    });
    body["job"] = json!({"id": "j-1", "number": 4, "name": "test", "status": "failed",
        "started_at": "2024-12-18T18:51:00.1Z", "stopped_at": "2024-12-18T18:51:31.379158Z"});
    let event = parse(&ctx(BASE), &signed(&body)).unwrap();
    assert_eq!(event.kind, "job-completed");
    assert_eq!(
        event.project.as_deref(),
        Some("circleci/9z8PamRuKaKWrW91o7Kqvn/AHWysFUuUfBgs6VeUqm6tg")
    );
    assert!(
        event.builds.is_empty(),
        "a job event says nothing of the workflow's status: it updates one job"
    );
    let update = &event.jobs[0];
    assert_eq!(update.build_id, "fda08377-fe7e-46b1-8992-3a7aaecac9c3");
    assert_eq!(update.sha, "abcdef1234567890abcdef1234567890abcdef12");
    let j = &update.job;
    assert_eq!(
        (j.id.as_str(), j.number, j.status),
        ("j-1", Some(4), Status::Failed)
    );
    assert_eq!(j.stopped_at.as_deref(), Some("2024-12-18T18:51:31.379158Z"));
}

#[test]
fn unsupported_and_malformed_events() {
    let mut ping = workflow_event();
    ping["type"] = json!("ping");
    assert!(matches!(
        parse(&ctx(BASE), &signed(&ping)),
        Err(WebhookError::Unsupported(_))
    ));
    assert!(matches!(
        parse(&ctx(BASE), &signed(&json!({"hello": 1}))),
        Err(WebhookError::Malformed(_))
    ));
    let mut no_job = workflow_event();
    no_job["type"] = json!("job-completed");
    assert!(matches!(
        parse(&ctx(BASE), &signed(&no_job)),
        Err(WebhookError::Malformed(_))
    ));
    // Signature first: a bad signature on a malformed body is a bad signature.
    assert!(matches!(
        parse(&ctx(BASE), &req(b"not json", Some("v1=00"))),
        Err(WebhookError::BadSignature(_))
    ));
}
