//! The descriptor says what the issue and GitHub's documentation ask for,
//! and its webhook scheme reads the signature GitHub writes (GitHub's
//! documented test vector, signed by the simulator's signer).

use buildsnap_github_actions::describe::descriptor;
use buildsnap_github_actions::wit::{AuthScheme, ResetSource, WebhookScheme};

#[test]
fn the_descriptor_is_githubs() {
    let d = descriptor();
    assert_eq!(
        (d.id.as_str(), d.name.as_str()),
        ("github-actions", "GitHub Actions")
    );
    assert_eq!(d.default_base_url, "https://api.github.com");
    assert_eq!(d.origins, ["https://api.github.com"]);
    assert_eq!(d.auth, AuthScheme::Bearer);
    assert_eq!(
        d.max_concurrency, 1,
        "GitHub asks for no concurrent requests"
    );
    let [primary, secondary] = &d.rate_limits[..] else {
        panic!("{:?}", d.rate_limits)
    };
    assert_eq!(primary.statuses, [403, 429]);
    assert_eq!(primary.headers[0].name, "x-ratelimit-remaining");
    assert_eq!(primary.headers[0].value.as_deref(), Some("0"));
    assert_eq!(
        primary.reset,
        ResetSource::EpochHeader("x-ratelimit-reset".into())
    );
    assert_eq!(
        secondary.reset,
        ResetSource::DelayHeader("retry-after".into())
    );
    assert!(d.rate_limits.iter().all(|r| r.fallback_ms >= 60_000));
}

#[test]
fn the_webhook_scheme_reads_githubs_signature_header() {
    let hooks = descriptor().webhooks.expect("webhooks");
    assert_eq!(
        hooks.delivery_id_header.as_deref(),
        Some("x-github-delivery")
    );
    let WebhookScheme::HmacSha256(sig) = hooks.scheme else {
        panic!("{:?}", hooks.scheme)
    };
    assert_eq!(sig.header, "x-hub-signature-256");
    // docs.github.com, "Validating webhook deliveries": this secret and
    // payload give this signature.
    let header = github_sim::webhooks::sign::signature_header(
        b"It's a Secret to Everybody",
        b"Hello, World!",
    );
    assert_eq!(
        header.strip_prefix(sig.prefix.as_str()),
        Some("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    );
}
