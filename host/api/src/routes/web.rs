//! The web page: every file of `host/api/web/` embedded in the binary by
//! `build.rs` (no network at run time, no bundler) and served under
//! `/assets/{*path}`, `index.html` also at `/`. The page talks to the HTTP
//! API with the org token the user signs in with.
//!
//! One asset is not a file: `/assets/status.js` is generated at start from
//! [`Status::ALL`], [`SnapshotState::ALL`] and [`Summary::None`], so the
//! page's status words and labels come from the domain types and a new
//! status needs no edit to the page.
//!
//! Every answer carries a strict Content-Security-Policy (only `'self'`:
//! no inline script or style, no other origins), `nosniff`, no framing and
//! no referrer. Assets are revalidated on every load (`no-cache` + a strong
//! `ETag` computed from their bytes), so an upgraded binary is picked up at
//! once while unchanged assets cost a 304.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use buildsnap_domain::{SnapshotState, Status, Summary};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Response, StatusCode};

use super::Resp;
use crate::errors::ApiError;
use crate::state::Req;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// Only this origin, for everything; no plugins, no framing, no `<base>`.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The document served at `/`.
const INDEX: &str = "index.html";

/// The generated module with the status vocabulary.
const STATUS_MODULE: &str = "status.js";

/// One servable asset.
struct Asset {
    body: Bytes,
    content_type: &'static str,
    etag: String,
}

/// Every asset by its path under `/assets/`: the embedded files and the
/// generated status module, built once on first use.
static ASSETS: LazyLock<BTreeMap<&'static str, Asset>> = LazyLock::new(|| {
    let mut assets = BTreeMap::new();
    for &(path, bytes) in embedded::FILES {
        assets.insert(path, asset(path, Bytes::from_static(bytes)));
    }
    let generated = asset(STATUS_MODULE, Bytes::from(status_module()));
    let clash = assets.insert(STATUS_MODULE, generated);
    assert!(
        clash.is_none(),
        "web/{STATUS_MODULE} would hide the generated module"
    );
    assets
});

fn asset(path: &str, body: Bytes) -> Asset {
    Asset {
        content_type: content_type(path),
        etag: etag(&body),
        body,
    }
}

/// The content type for an asset's extension. Anything the page does not
/// use is served as opaque bytes (and `nosniff` keeps the browser from
/// guessing); a unit test holds every embedded file to a known type.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// FNV-1a 64: a stable fingerprint of the bytes for the `ETag`.
fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// What the page shows for a status word: the word with spaces.
fn status_label(s: Status) -> String {
    s.as_str().replace('_', " ")
}

/// What the page shows for a snapshot that has no summary word yet. An
/// exhaustive match, so a new state does not compile until it has a label.
fn state_label(s: SnapshotState) -> &'static str {
    match s {
        SnapshotState::Pending => "capturing…",
        SnapshotState::Complete => "complete",
        SnapshotState::NoBuildServer => "no build server",
        SnapshotState::Error => "error",
    }
}

/// `status.js`: the vocabulary as an ES module (JSON literals, so every
/// word is escaped exactly as JavaScript reads it).
fn status_module() -> String {
    let words = |it: &mut dyn Iterator<Item = &'static str>| {
        serde_json::to_string(&it.collect::<Vec<_>>()).expect("strings serialize")
    };
    let mut labels = serde_json::Map::new();
    for &s in Status::ALL {
        labels.insert(s.as_str().into(), status_label(s).into());
    }
    labels.insert(Summary::None.as_str().into(), "no builds".into());
    for s in SnapshotState::ALL {
        // `error` is both a status and a state: the status's label stays.
        labels
            .entry(s.as_str())
            .or_insert_with(|| state_label(s).into());
    }
    let labels = serde_json::Value::Object(labels);
    format!(
        "// Generated by the buildsnap server at start from buildsnap_domain's\n\
         // Status, SnapshotState and Summary: the page's one copy of the vocabulary.\n\n\
         /** Every build and job status word, in the vocabulary's order. */\n\
         export const STATUSES = Object.freeze({all});\n\n\
         /** The statuses that never change again (`Status::is_final`). */\n\
         export const FINAL_STATUSES = Object.freeze({finals});\n\n\
         /** Every `<snapshot>.state` word. */\n\
         export const SNAPSHOT_STATES = Object.freeze({states});\n\n\
         /** The summary word of a snapshot without builds. */\n\
         export const NO_BUILDS = {none};\n\n\
         /** What the page shows for a status, summary or snapshot-state word. */\n\
         export const LABELS = Object.freeze({labels});\n\n\
         /** The label of a word; a word this server does not know is shown as it is. */\n\
         export function label(word) {{\n  \
           return Object.hasOwn(LABELS, word) ? LABELS[word] : String(word);\n\
         }}\n",
        all = words(&mut Status::ALL.iter().map(|s| s.as_str())),
        finals = words(
            &mut Status::ALL
                .iter()
                .filter(|s| s.is_final())
                .map(|s| s.as_str())
        ),
        states = words(&mut SnapshotState::ALL.iter().map(|s| s.as_str())),
        none = serde_json::Value::from(Summary::None.as_str()),
    )
}

/// Answers `GET /`.
pub(crate) fn index(req: &Req) -> Result<Resp, ApiError> {
    serve(INDEX, req)
}

/// Answers `GET /assets/{*path}`; an unknown path is 404.
pub(crate) fn assets(req: &Req) -> Result<Resp, ApiError> {
    let path = req.params.first().map(String::as_str).unwrap_or_default();
    serve(path, req)
}

fn serve(path: &str, req: &Req) -> Result<Resp, ApiError> {
    let Some(asset) = ASSETS.get(path) else {
        return Err(ApiError::not_found(
            "not_found",
            format!("the web page has no asset {path:?}"),
        ));
    };
    let fresh = req
        .headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let mut r = if fresh {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Full::new(asset.body.clone()));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        r
    };
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&asset.etag) {
        h.insert(ETAG, v);
    }
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(r)
}

#[cfg(test)]
mod tests;
