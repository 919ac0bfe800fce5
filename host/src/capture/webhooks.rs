//! Webhook intake: a delivery for (provider, org) is verified by the plugin
//! with the org's webhook secret (stored encrypted, never logged), then
//! de-duplicated on the provider's event id and stored in the index in one
//! transaction, and the capture worker is woken.
//!
//! A webhook alone never marks a commit as completely known: it tells
//! about one workflow (and maybe a job), not about every pipeline of the
//! commit. It updates builds already known (`current_status`) and adds new
//! ones for later syncs and searches.

use buildsnap_services::{
    WebhookAck, WebhookError as ApiWebhookError, WebhookRequest as ApiWebhookRequest,
};
use buildsnap_store::IndexedBuild;
use url::Url;
use zeroize::Zeroize;

use super::{Capture, db, index, webhook_verify};
use crate::runtime::Integration;
use crate::runtime::wit::{WebhookError, WebhookRequest, epoch_ms};

/// Verifies and applies one delivery.
pub async fn receive(
    cap: &Capture,
    provider: &str,
    org: &str,
    req: ApiWebhookRequest,
) -> Result<WebhookAck, ApiWebhookError> {
    let Some(plugin) = cap.registry.get(provider) else {
        return Err(ApiWebhookError::NotConfigured(format!(
            "unknown provider `{provider}`"
        )));
    };
    let (o, p) = (org.to_string(), provider.to_string());
    let secret = db(&cap.store, move |s| s.webhook_secret(&o, &p))
        .await
        .map_err(|e| ApiWebhookError::Other(format!("store: {e}")))?;
    let Some((base_url, secret)) = secret else {
        return Err(ApiWebhookError::NotConfigured(format!(
            "no webhook secret is configured for the {provider} integration of {org}: enable the integration and set \
             `webhook_secret` with PUT /api/v1/orgs/{org}/integrations/{provider}"
        )));
    };
    let base_url = Url::parse(&base_url)
        .map_err(|e| ApiWebhookError::Other(format!("invalid base_url: {e}")))?;
    let integration = Integration {
        org: Some(org.to_string()),
        base_url,
        settings: Vec::new(),
        credential: None,
    };
    let Some(config) = plugin.info.webhooks.clone() else {
        return Err(ApiWebhookError::NotConfigured(format!(
            "the {provider} plugin takes no webhooks"
        )));
    };
    // The host verifies what it can, so the secret never enters the plugin.
    let verdict =
        webhook_verify::verify(&config.scheme, &req.headers, &req.body, &[secret.expose()]);
    let verdict = match verdict {
        Ok(v) => v,
        Err(why) => {
            tracing::warn!(org, provider, reason = %why, "webhook delivery refused");
            return Err(ApiWebhookError::BadSignature(why.to_string()));
        }
    };
    let delivery_id = config.delivery_id_header.as_deref().and_then(|name| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    });
    let by_plugin = verdict == webhook_verify::Verdict::ByPlugin;
    let mut wreq = WebhookRequest {
        headers: req.headers,
        body: req.body.to_vec(),
        delivery_id,
        received_at: epoch_ms(std::time::SystemTime::now()),
        verified: !by_plugin,
        secrets: if by_plugin {
            vec![secret.expose().to_string()]
        } else {
            Vec::new()
        },
    };
    drop(secret);
    let parsed = plugin.parse_webhook(&integration, &wreq).await;
    wreq.secrets.iter_mut().for_each(Zeroize::zeroize);
    let event = match parsed {
        Err(e) => return Err(ApiWebhookError::Other(e.to_string())),
        Ok(Err(WebhookError::BadSignature(m))) => {
            tracing::warn!(
                org,
                provider,
                "webhook delivery with a bad signature refused"
            );
            return Err(ApiWebhookError::BadSignature(m));
        }
        Ok(Err(WebhookError::Unsupported(m))) => return Err(ApiWebhookError::Unsupported(m)),
        Ok(Err(WebhookError::Malformed(m))) => return Err(ApiWebhookError::Malformed(m)),
        Ok(Ok(event)) => event,
    };
    let project = event.project.unwrap_or_default();
    let n = event.builds.len();
    let builds: Vec<IndexedBuild> = event
        .builds
        .into_iter()
        .map(|b| index::from_wit(b, &project))
        .collect();
    let jobs: Vec<buildsnap_domain::JobUpdate> = event
        .jobs
        .into_iter()
        .map(index::job_update_from_wit)
        .collect();
    let n_jobs = jobs.len();
    let (o, p, id, kind) = (
        org.to_string(),
        provider.to_string(),
        event.id.clone(),
        event.kind.clone(),
    );
    let applied = db(&cap.store, move |s| {
        s.apply_webhook_event(&o, &p, &id, &kind, &builds, &jobs)
    })
    .await
    .map_err(|e| ApiWebhookError::Other(format!("store: {e}")))?;
    match applied {
        None => Err(ApiWebhookError::NotConfigured(format!(
            "the {provider} integration of {org} is not enabled"
        ))),
        Some(fresh) => {
            tracing::info!(org, provider, event = %event.id, kind = %event.kind, duplicate = !fresh, builds = n, jobs = n_jobs, "webhook event");
            if fresh {
                let (o, p) = (org.to_string(), provider.to_string());
                let _ = db(&cap.store, move |s| s.wake_captures(&o, &p)).await;
                cap.notify.notify_one();
            }
            Ok(WebhookAck {
                id: event.id,
                kind: event.kind,
                duplicate: !fresh,
            })
        }
    }
}
