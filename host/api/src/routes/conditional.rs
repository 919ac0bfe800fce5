//! Conditional reads: a strong `ETag` on deploy answers and `304 Not
//! Modified` for an `If-None-Match` that names it (RFC 9110, 8.8.3 and
//! 13.1.2), so the web page's refresh, which asks every few seconds,
//! transfers a deploy list only when something in it changed.
//!
//! The tag is a hash of the bytes sent, so each content coding of an
//! answer has its own tag, as a strong validator must (a client repeats the
//! request with the same `Accept-Encoding` and gets the same coding, so its
//! tag still matches). Hashing costs a little per read; the bytes and the
//! client's parsing and repainting saved on an unchanged answer are worth
//! far more. The answer is still rendered in full on the server: the store
//! has no cheaper proof that nothing changed (`current_status` patches come
//! from the build index, which sync and webhooks move on their own).

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{CACHE_CONTROL, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH, VARY};
use hyper::{Response, StatusCode};
use sha2::{Digest, Sha256};

use super::Resp;

/// Tags `resp` (a complete 200 answer) and answers 304 instead when the
/// request's `If-None-Match` already names that tag. Other statuses pass
/// through untouched.
pub(crate) async fn etagged(request: &HeaderMap, resp: Resp) -> Resp {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // A `Full` body is one buffer already: collecting it cannot wait or fail.
    let bytes: Bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(never) => match never {},
    };
    let tag = tag_of(&bytes);
    let value = HeaderValue::from_str(&tag).expect("hex in quotes is a header value");
    // Private: answers carry an org's data under its token. `no-cache`: a
    // cache may keep it but must ask again (with the tag) before using it.
    parts
        .headers
        .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if matches(request, &tag) {
        let mut r = Response::new(http_body_util::Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        let h = r.headers_mut();
        h.insert(ETAG, value);
        h.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
        if let Some(v) = parts.headers.get(VARY) {
            h.insert(VARY, v.clone());
        }
        return r;
    }
    parts.headers.insert(ETAG, value);
    Response::from_parts(parts, http_body_util::Full::new(bytes))
}

/// The strong entity tag of a body: 128 bits of its SHA-256, in quotes.
fn tag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether `If-None-Match` names `tag` (or is `*`). The comparison is weak
/// as RFC 9110 13.1.2 asks: `W/"x"` matches `"x"`. Unreadable values match
/// nothing, so the full answer is sent.
fn matches(request: &HeaderMap, tag: &str) -> bool {
    request.get_all(IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_none_match_is_compared_weakly_over_every_listed_tag() {
        let tag = tag_of(b"{}");
        assert!(matches(&headers(&[&tag]), &tag));
        assert!(matches(&headers(&[&format!("W/{tag}")]), &tag));
        assert!(matches(&headers(&[&format!("\"other\", {tag}")]), &tag));
        assert!(matches(&headers(&["\"other\"", &tag]), &tag));
        assert!(matches(&headers(&["*"]), &tag));
        assert!(!matches(&headers(&[]), &tag));
        assert!(!matches(&headers(&["\"other\""]), &tag));
        assert!(
            !matches(&headers(&[&tag[1..tag.len() - 1]]), &tag),
            "unquoted"
        );
    }

    #[test]
    fn tags_differ_with_the_bytes() {
        assert_ne!(tag_of(b"a"), tag_of(b"b"));
        assert_eq!(tag_of(b"a"), tag_of(b"a"));
        assert_eq!(tag_of(b"a").len(), 34);
    }
}
