//! `describe` and `token-help-url`: who this plugin is. No HTTP.

use crate::slug::token_help_url;
use crate::wit::{
    AuthScheme, CallContext, Descriptor, HeaderTest, HmacSignature, RateLimitRule, ResetSource,
    WebhookConfig, WebhookScheme,
};

/// github.com's API, also the default base URL.
pub const CLOUD_BASE_URL: &str = "https://api.github.com";

/// GitHub's wait for a limit that names no reset: at least a minute.
const FALLBACK_MS: u64 = 60_000;

/// The plugin's descriptor.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "github-actions".into(),
        name: "GitHub Actions".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        default_base_url: CLOUD_BASE_URL.into(),
        auth: AuthScheme::Bearer,
        origins: vec![CLOUD_BASE_URL.into()],
        // GitHub asks API clients not to send requests concurrently.
        max_concurrency: 1,
        rate_limits: vec![
            // Primary: 403 or 429 with `x-ratelimit-remaining: 0`, until
            // `x-ratelimit-reset` (epoch seconds).
            RateLimitRule {
                statuses: vec![403, 429],
                headers: vec![HeaderTest {
                    name: "x-ratelimit-remaining".into(),
                    value: Some("0".into()),
                }],
                reset: ResetSource::EpochHeader("x-ratelimit-reset".into()),
                fallback_ms: FALLBACK_MS,
            },
            // Secondary: `retry-after` seconds. One without the header is
            // only recognisable by its message: the plugin's to spot.
            RateLimitRule {
                statuses: vec![403, 429],
                headers: vec![HeaderTest {
                    name: "retry-after".into(),
                    value: None,
                }],
                reset: ResetSource::DelayHeader("retry-after".into()),
                fallback_ms: FALLBACK_MS,
            },
        ],
        webhooks: Some(WebhookConfig {
            scheme: WebhookScheme::HmacSha256(HmacSignature {
                header: "x-hub-signature-256".into(),
                prefix: "sha256=".into(),
                comma_separated: false,
            }),
            delivery_id_header: Some("x-github-delivery".into()),
        }),
    }
}

/// The token page on the integration's web host.
pub fn token_help(ctx: &CallContext) -> String {
    token_help_url(&ctx.base_url)
}
