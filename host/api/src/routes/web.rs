//! The web page: one HTML document, its script, stylesheet and icon, all
//! embedded in the binary (no network at run time, no build step). The page
//! talks to the HTTP API with the org token the user signs in with.
//!
//! Every answer carries a strict Content-Security-Policy (only `'self'`:
//! no inline script or style, no other origins), `nosniff`, no framing and
//! no referrer. Assets are revalidated on every load (`no-cache` + a strong
//! `ETag` computed from their bytes), so an upgraded binary is picked up at
//! once while unchanged assets cost a 304.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Response, StatusCode};

use super::Resp;
use crate::router::RouteId;
use crate::state::Req;

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");
const ICON_SVG: &str = include_str!("../../web/icon.svg");

/// Only this origin, for everything; no plugins, no framing, no `<base>`.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn content(route: RouteId) -> (&'static str, &'static str) {
    match route {
        RouteId::WebScript => (APP_JS, "text/javascript; charset=utf-8"),
        RouteId::WebStyle => (APP_CSS, "text/css; charset=utf-8"),
        RouteId::WebIcon => (ICON_SVG, "image/svg+xml"),
        _ => (INDEX_HTML, "text/html; charset=utf-8"),
    }
}

/// FNV-1a 64: a stable fingerprint of the embedded bytes for the `ETag`.
fn etag(body: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// Answers `GET` of one of the page's routes.
pub(crate) fn asset(route: RouteId, req: &Req) -> Resp {
    let (body, content_type) = content(route);
    let tag = etag(body);
    let fresh = req
        .headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut r = if fresh {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(ETAG, v);
    }
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_references_only_embedded_assets_and_no_inline_code() {
        // The CSP forbids inline script/style, so the page must not rely on them.
        assert!(INDEX_HTML.contains(r#"<script src="/assets/app.js""#));
        assert!(INDEX_HTML.contains(r#"href="/assets/app.css""#));
        assert!(!INDEX_HTML.contains("style="), "inline style attribute");
        assert!(!INDEX_HTML.contains("<style"), "inline stylesheet");
        assert!(!INDEX_HTML.contains("onclick"), "inline handler");
        assert_eq!(
            INDEX_HTML.matches("<script").count(),
            1,
            "one external script only"
        );
        for asset in [INDEX_HTML, APP_JS, APP_CSS] {
            assert!(
                !asset.contains("http://") && !asset.contains("https://"),
                "no absolute URLs: the page must work offline"
            );
        }
        assert!(
            !APP_JS.contains("innerHTML"),
            "build DOM nodes, never HTML strings"
        );
    }

    #[test]
    fn etags_differ_per_asset_and_are_quoted() {
        let tags: std::collections::BTreeSet<_> = [INDEX_HTML, APP_JS, APP_CSS, ICON_SVG]
            .map(etag)
            .into_iter()
            .collect();
        assert_eq!(tags.len(), 4);
        assert!(
            tags.iter()
                .all(|t| t.starts_with('"') && t.ends_with('"') && t.len() == 18)
        );
    }
}
