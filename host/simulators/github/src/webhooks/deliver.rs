//! Sending webhook bodies: the dispatcher that follows the clock, pings, redelivery.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::payload;
use super::sign::signature_header;
use super::{Delivery, Scheduled, Sent, Subject, WebhookConfig};
use crate::state::Shared;

/// `User-Agent` of deliveries (GitHub's carries a build hash).
pub const USER_AGENT: &str = "GitHub-Hookshot/7e8b3a1";

/// Runs until shutdown: fires due events as the clock moves.
pub async fn dispatcher(sh: Arc<Shared>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let changed = sh.clock.changed();
    loop {
        let notified = changed.notified();
        for event in sh.webhooks.take_due(sh.clock.now()) {
            fire(&sh, &event);
        }
        // Poll as well as wait for clock changes: a running clock moves on its own.
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(25)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Adds a subscription and sends it its `ping`; returns the stored config (with its id).
pub fn subscribe(sh: &Shared, c: WebhookConfig) -> WebhookConfig {
    let c = sh.webhooks.add(c);
    let s = &sh.scenario;
    let repo = s.repos.iter().position(|r| c.wants("ping", &r.full_name()));
    let body = payload::ping(sh.ctx(), &c, repo, sh.clock.now());
    let target_id = repo.map_or(0, |ri| s.repos[ri].id);
    send(sh, &c, "ping", None, target_id, &body);
    c
}

fn fire(sh: &Shared, e: &Scheduled) {
    let (Subject::Run { repo, .. } | Subject::Job { repo, .. }) = e.subject;
    let r = &sh.scenario.repos[repo];
    let event = payload::event_name(&e.subject);
    for c in sh.webhooks.configs() {
        if c.wants(event, &r.full_name()) {
            let body = payload::event(sh.ctx(), &e.subject, e.action, e.at);
            send(sh, &c, event, Some(e.action), r.id, &body);
        }
    }
}

fn send(
    sh: &Shared,
    c: &WebhookConfig,
    event: &str,
    action: Option<&str>,
    target_id: u64,
    body: &serde_json::Value,
) {
    let sent = Sent {
        guid: uuid::Uuid::new_v4().to_string(),
        event: event.to_owned(),
        action: action.map(str::to_owned),
        config: c.clone(),
        target_id,
        body: Bytes::from(serde_json::to_vec(body).expect("json")),
    };
    sh.webhooks.sent.lock().unwrap().push(sent.clone());
    tokio::spawn(deliver(sent, false, sh.webhooks.deliveries.clone()));
}

/// Re-sends an earlier delivery: same body, same `X-GitHub-Delivery`. Returns false when
/// no delivery has that id.
pub fn redeliver(sh: &Shared, guid: &str) -> bool {
    let found = sh.webhooks.sent().into_iter().find(|s| s.guid == guid);
    match found {
        Some(sent) => {
            tokio::spawn(deliver(sent, true, sh.webhooks.deliveries.clone()));
            true
        }
        None => false,
    }
}

async fn deliver(sent: Sent, redelivery: bool, log: Arc<Mutex<Vec<Delivery>>>) {
    let c = &sent.config;
    let result = tokio::time::timeout(Duration::from_millis(c.timeout_ms), post(&sent))
        .await
        .unwrap_or_else(|_| Err("timeout".to_owned()));
    let (status, error) = match result {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    log.lock().unwrap().push(Delivery {
        guid: sent.guid.clone(),
        event: sent.event.clone(),
        action: sent.action.clone(),
        hook_id: c.id.unwrap_or_default(),
        url: c.url.clone(),
        redelivery,
        status,
        error,
    });
}

async fn post(sent: &Sent) -> Result<u16, String> {
    let c = &sent.config;
    let uri: hyper::Uri = c.url.parse().map_err(|e| format!("bad url: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// receivers are supported".into());
    }
    let host = uri.host().ok_or("url without host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json")
        .header("user-agent", USER_AGENT)
        .header("x-github-event", &sent.event)
        .header("x-github-delivery", &sent.guid)
        .header("x-github-hook-id", c.id.unwrap_or_default().to_string())
        .header(
            "x-github-hook-installation-target-id",
            sent.target_id.to_string(),
        )
        .header("x-github-hook-installation-target-type", "repository");
    if let Some(secret) = &c.secret {
        req = req.header(
            "x-hub-signature-256",
            signature_header(secret.as_bytes(), &sent.body),
        );
    }
    let req = req
        .body(Full::new(sent.body.clone()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // Drain the body so the connection closes cleanly.
    let _ = resp.into_body().collect().await;
    Ok(status)
}
