//! `parse-webhook` on the deliveries the GitHub simulator sends (bodies
//! built from the same views as its REST answers, held to GitHub's webhook
//! description). The host verifies the signature before the plugin sees a
//! delivery; here `verified: true` stands for that.

mod common;

use std::time::Duration;

use buildsnap_github_actions::webhook;
use buildsnap_github_actions::wit::{Status, WebhookError, WebhookRequest};
use common::Sim;
use github_sim::cases::{self, ids};
use github_sim::{SimOptions, WebhookConfig};

fn request(event: &str, body: &[u8], guid: Option<&str>, verified: bool) -> WebhookRequest {
    WebhookRequest {
        headers: vec![("x-github-event".into(), event.into())],
        body: body.to_vec(),
        delivery_id: guid.map(str::to_owned),
        received_at: common::wall_ms(),
        verified,
        secrets: vec![],
    }
}

#[test]
fn workflow_run_and_workflow_job_deliveries_map_into_builds_and_jobs() {
    // Nothing listens on the receiver's port: the simulator still records
    // each body it signed and tried to send.
    let sim = Sim::start(
        cases::demo().unwrap(),
        SimOptions {
            clock_running: Some(false),
            webhooks: vec![WebhookConfig::new("http://127.0.0.1:9/hook", "s3cret")],
            ..SimOptions::default()
        },
        cases::DEMO_TOKEN,
    );
    sim.sim().clock().advance(Duration::from_secs(400));
    let done = sim
        .rt
        .block_on(sim.sim().wait_for_deliveries(Duration::from_secs(10), |d| {
            d.iter()
                .any(|x| x.event == "workflow_run" && x.action.as_deref() == Some("completed"))
        }));
    assert!(done, "the simulator sent the failing run's completion");
    let ctx = sim.ctx();
    let failing = format!("{}/1", ids::FAILING);
    let (mut runs, mut jobs, mut pings) = (0, 0, 0);
    let (mut saw_run_failed, mut saw_job_passed) = (false, false);
    for sent in sim.sim().webhook_bodies() {
        let req = request(&sent.event, &sent.body, Some(&sent.guid), true);
        match webhook::parse(&ctx, &req) {
            Ok(ev) => {
                assert_eq!(ev.id, sent.guid);
                assert_eq!(ev.kind, sent.event);
                assert_eq!(ev.project.as_deref(), Some("acme/api"));
                for b in &ev.builds {
                    runs += 1;
                    assert!(!b.jobs_complete, "a workflow_run carries no jobs");
                    if b.id == failing && sent.action.as_deref() == Some("completed") {
                        assert_eq!(
                            (b.status, b.provider_status.as_str()),
                            (Status::Failed, "failure")
                        );
                        saw_run_failed = true;
                    }
                }
                for u in &ev.jobs {
                    jobs += 1;
                    assert_eq!(u.sha.len(), 40);
                    if u.build_id == failing
                        && u.job.name == "test"
                        && sent.action.as_deref() == Some("completed")
                    {
                        assert_eq!(u.job.status, Status::Success);
                        assert!(u.job.stopped_at.is_some());
                        saw_job_passed = true;
                    }
                }
            }
            Err(WebhookError::Unsupported(_)) if sent.event == "ping" => pings += 1,
            Err(e) => panic!("{} {:?}: {e:?}", sent.event, sent.action),
        }
    }
    assert_eq!(pings, 1);
    assert!(saw_run_failed && saw_job_passed);
    assert!(runs >= 1 && jobs >= 1, "runs {runs}, jobs {jobs}");
}

#[test]
fn unverified_strange_and_unknown_deliveries_are_refused() {
    let body = br#"{"action":"completed","workflow_run":{},"repository":{"full_name":"a/b"}}"#;
    let ctx = buildsnap_github_actions::wit::CallContext {
        now: 0,
        base_url: "https://api.github.com".into(),
        settings: vec![],
    };
    assert!(matches!(
        webhook::parse(&ctx, &request("workflow_run", body, Some("g"), false)),
        Err(WebhookError::BadSignature(_))
    ));
    assert!(matches!(
        webhook::parse(&ctx, &request("workflow_run", body, Some("g"), true)),
        Err(WebhookError::Malformed(_))
    ));
    assert!(matches!(
        webhook::parse(&ctx, &request("push", b"{}", Some("g"), true)),
        Err(WebhookError::Unsupported(_))
    ));
    let mut no_event = request("x", b"{}", Some("g"), true);
    no_event.headers.clear();
    assert!(matches!(
        webhook::parse(&ctx, &no_event),
        Err(WebhookError::Malformed(_))
    ));
}
