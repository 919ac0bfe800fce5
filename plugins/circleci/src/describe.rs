//! `describe` and `token-help-url`: who this plugin is. Makes no HTTP
//! request.

use crate::links::Links;
use crate::webhook::SIGNATURE_HEADER;
use crate::wit::{
    AuthScheme, CallContext, Descriptor, HmacSignature, RateLimitRule, ResetSource, WebhookConfig,
    WebhookScheme,
};

/// The cloud API origin, also the default base URL.
pub const CLOUD_BASE_URL: &str = "https://circleci.com";

/// Requests of one integration in flight at once. CircleCI publishes no
/// concurrency rule, only a request rate it answers with 429s; eight is
/// what `send-batch` ran in 0.1.0, where the fan-out of a search (one
/// workflow list per pipeline, one job list per workflow) was measured.
pub const MAX_CONCURRENCY: u32 = 8;

/// The wait for a 429 that names none: CircleCI's limits are per minute.
const FALLBACK_MS: u64 = 60_000;

/// The plugin's descriptor.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "circleci".into(),
        name: "CircleCI".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        default_base_url: CLOUD_BASE_URL.into(),
        auth: AuthScheme::Header("Circle-Token".into()),
        origins: vec![CLOUD_BASE_URL.into()],
        max_concurrency: MAX_CONCURRENCY,
        // CircleCI signals its limit with 429 and `Retry-After` (seconds).
        // Declared, so the host pauses the whole integration rather than
        // retrying this one request: the next call would meet the limit too.
        rate_limits: vec![RateLimitRule {
            statuses: vec![429],
            headers: vec![],
            reset: ResetSource::DelayHeader("retry-after".into()),
            fallback_ms: FALLBACK_MS,
        }],
        // `circleci-signature: v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 of the
        // body; verified by the host, so the secret never enters the plugin.
        // CircleCI sends no delivery id header: the event `id` is the
        // de-duplication key.
        webhooks: Some(WebhookConfig {
            scheme: WebhookScheme::HmacSha256(HmacSignature {
                header: SIGNATURE_HEADER.into(),
                prefix: "v1=".into(),
                comma_separated: true,
            }),
            delivery_id_header: None,
        }),
    }
}

/// Where a person creates a personal API token: the user settings of the
/// integration's web app (`app.circleci.com` for cloud, the `app.`
/// sub-domain of a server install).
pub fn token_help_url(ctx: &CallContext) -> String {
    format!(
        "{}/settings/user/tokens",
        Links::for_base(&ctx.base_url).app()
    )
}
