//! Content coding of deploy answers (`Accept-Encoding` →
//! `Content-Encoding`), docs/http-api.md "Content coding".
//!
//! A snapshot stored compressed is one zstd frame of its `builds` JSON. A
//! zstd answer is a sequence of frames, which every zstd decoder reads as
//! the concatenation of their contents (RFC 8878, 3.1), so a deploy is
//! answered as: an uncompressed frame of the JSON before `builds`, the
//! stored frame as it is, an uncompressed frame of the JSON after it. No
//! byte of the snapshot is decoded or encoded on that path. Every other
//! combination (a patched `current_status`, a text row, gzip) builds the
//! JSON and compresses it at the fastest level: per read, speed counts
//! for more than the last bytes.

use std::io::Write;

use buildsnap_store::ServedBuilds;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue, VARY,
};
use hyper::{Response, StatusCode};
use serde_json::value::RawValue;

use super::Resp;
use crate::errors::ApiError;

/// The content codings buildsnap answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// `zstd` (RFC 8878).
    Zstd,
    /// `gzip` (RFC 1952).
    Gzip,
    /// No coding: plain JSON.
    Identity,
}

/// Picks the coding for a request's `Accept-Encoding` (RFC 9110, 12.5.3):
/// the one of `zstd`, `gzip` with the highest quality above 0 (`*` counts
/// for codings not named, `x-gzip` as `gzip`), zstd first on a tie, and
/// plain JSON when neither is acceptable or the header is absent. A
/// compressed coding loses only to an `identity` named with a higher
/// quality, and wins a tie with it. Plain JSON is also
/// the answer when the client refuses `identity` and accepts neither
/// coding: JSON is always something it can be sent.
pub(crate) fn negotiate(headers: &HeaderMap) -> Coding {
    let (mut zstd, mut gzip, mut star) = (None::<f32>, None::<f32>, None::<f32>);
    let mut identity = None::<f32>;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if name.is_empty() {
                continue;
            }
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, v)| quality(v.trim()));
            // An unreadable quality makes the item count for nothing.
            let q = q.unwrap_or(0.0);
            let slot = match name.as_str() {
                "zstd" => &mut zstd,
                "gzip" | "x-gzip" => &mut gzip,
                "identity" => &mut identity,
                "*" => &mut star,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
        }
    }
    let zstd = zstd.or(star).unwrap_or(0.0);
    let gzip = gzip.or(star).unwrap_or(0.0);
    // `identity` competes only when named (or by `*`): an unnamed identity
    // is the fallback, not a preference over an accepted coding.
    let identity = identity.or(star).unwrap_or(0.0);
    let best = zstd.max(gzip);
    if best <= 0.0 || best < identity {
        Coding::Identity
    } else if zstd >= gzip {
        Coding::Zstd
    } else {
        Coding::Gzip
    }
}

/// A `qvalue`: 0 to 1 with at most three decimals.
fn quality(v: &str) -> Option<f32> {
    let ok = v.len() <= 5
        && (v.starts_with('0') || v.starts_with('1'))
        && v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    ok.then(|| v.parse::<f32>().ok())
        .flatten()
        .filter(|q| (0.0..=1.0).contains(q))
}

/// The 200 answer of a deploy or its snapshot in `coding`. `render` writes
/// the whole JSON answer with the given `builds` array in its place.
pub(crate) fn answer(
    coding: Coding,
    served: ServedBuilds,
    render: impl Fn(&RawValue) -> Vec<u8>,
) -> Result<Resp, ApiError> {
    let mut body = Pieces::new(coding);
    body.served(served, render)?;
    body.finish()
}

/// An answer put together from JSON text and stored snapshot frames: one
/// deploy, or a page of the deploy list (its items joined by the caller's
/// JSON). In zstd, a snapshot's stored frame goes in as it is, between
/// uncompressed frames of the JSON around it; in every other case, and
/// when no snapshot passes through, the JSON is built in full and
/// compressed ([`encoded`]). Decoded, both give the same bytes.
pub(crate) struct Pieces {
    coding: Coding,
    parts: Vec<Piece>,
}

enum Piece {
    Json(Vec<u8>),
    Frame(Vec<u8>),
}

impl Pieces {
    /// An empty answer in `coding`.
    pub(crate) fn new(coding: Coding) -> Pieces {
        Pieces {
            coding,
            parts: Vec::new(),
        }
    }

    /// Appends JSON text.
    pub(crate) fn json(&mut self, text: &[u8]) {
        match self.parts.last_mut() {
            Some(Piece::Json(j)) => j.extend_from_slice(text),
            _ => self.parts.push(Piece::Json(text.to_vec())),
        }
    }

    /// Appends one item whose snapshot `builds` are `served`; `render`
    /// writes the item's whole JSON with the given `builds` in place.
    pub(crate) fn served(
        &mut self,
        served: ServedBuilds,
        render: impl Fn(&RawValue) -> Vec<u8>,
    ) -> Result<(), ApiError> {
        let served = match (self.coding, served) {
            (Coding::Zstd, ServedBuilds::Zstd(frame)) => match split(&render) {
                Some((prefix, suffix)) => {
                    self.json(&prefix);
                    self.parts.push(Piece::Frame(frame));
                    self.json(&suffix);
                    return Ok(());
                }
                None => ServedBuilds::Zstd(frame),
            },
            (_, served) => served,
        };
        self.json(&render(&served.into_json()?));
        Ok(())
    }

    /// The 200 answer.
    pub(crate) fn finish(self) -> Result<Resp, ApiError> {
        if !self.parts.iter().any(|p| matches!(p, Piece::Frame(_))) {
            let json = self
                .parts
                .into_iter()
                .flat_map(|p| match p {
                    Piece::Json(j) | Piece::Frame(j) => j,
                })
                .collect();
            return encoded(self.coding, json);
        }
        let size = self.parts.iter().map(|p| match p {
            Piece::Json(j) | Piece::Frame(j) => j.len() + 16,
        });
        let mut out = Vec::with_capacity(size.sum());
        for p in self.parts {
            match p {
                Piece::Json(j) => raw_frame(&mut out, &j),
                Piece::Frame(f) => out.extend_from_slice(&f),
            }
        }
        Ok(respond(out, Some("zstd")))
    }
}

/// The 200 answer of a JSON body built in full, compressed in `coding` at
/// the fastest level.
pub(crate) fn encoded(coding: Coding, json: Vec<u8>) -> Result<Resp, ApiError> {
    let (body, encoding) = match coding {
        Coding::Identity => (json, None),
        Coding::Zstd => (
            zstd::bulk::compress(&json, 1).map_err(|e| internal("zstd", e))?,
            Some("zstd"),
        ),
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(json.len() / 4),
                flate2::Compression::fast(),
            );
            e.write_all(&json).map_err(|e| internal("gzip", e))?;
            (e.finish().map_err(|e| internal("gzip", e))?, Some("gzip"))
        }
    };
    Ok(respond(body, encoding))
}

fn respond(body: Vec<u8>, encoding: Option<&'static str>) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(e) = encoding {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    r
}

fn internal(what: &str, e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "{what} compression failed");
    ApiError::internal()
}

/// The JSON before and after `builds` in an item's rendering, found by
/// rendering twice, with `[]` and `[0]` in place of `builds`: the texts
/// agree up to the `[` and after the array, whatever the other fields hold.
/// `None` only if the renderings do not differ that way (they always do for
/// a serialisable answer; the caller then decodes instead).
fn split(render: impl Fn(&RawValue) -> Vec<u8>) -> Option<(Vec<u8>, Vec<u8>)> {
    let empty = render(&RawValue::from_string("[]".into()).expect("JSON"));
    let one = render(&RawValue::from_string("[0]".into()).expect("JSON"));
    let at = empty
        .iter()
        .zip(&one)
        .position(|(a, b)| a != b)?
        .checked_sub(1)?;
    let (prefix, suffix) = (&empty[..at], empty.get(at + 2..)?);
    if empty.get(at..at + 2) != Some(b"[]") || one.get(at + 3..) != Some(suffix) {
        return None;
    }
    Some((prefix.to_vec(), suffix.to_vec()))
}

/// Largest block of a zstd frame (RFC 8878, 3.1.1.2.4).
const MAX_BLOCK: usize = 128 * 1024;

/// Appends `data` as a zstd frame of raw (uncompressed) blocks: the frame
/// header names its content size (4 bytes, single segment, no checksum).
fn raw_frame(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0b1010_0000]);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let mut chunks: Vec<&[u8]> = data.chunks(MAX_BLOCK).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        // Block header: bit 0 last block, bits 1-2 type (0 = raw), size.
        let header = ((chunk.len() as u32) << 3) | u32::from(i == last);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coding(accept: &[&str]) -> Coding {
        let mut h = HeaderMap::new();
        for a in accept {
            h.append(ACCEPT_ENCODING, HeaderValue::from_str(a).unwrap());
        }
        negotiate(&h)
    }

    #[test]
    fn negotiation_honours_qualities_identity_and_wildcards() {
        use Coding::*;
        let cases: &[(&[&str], Coding)] = &[
            (&[], Identity),
            (&[""], Identity),
            (&["gzip, deflate, br, zstd"], Zstd),
            (&["gzip, deflate, br"], Gzip),
            (&["x-gzip"], Gzip),
            (&["br"], Identity),
            (&["zstd;q=0, gzip"], Gzip),
            (&["zstd;q=0.5, gzip;q=0.8"], Gzip),
            (&["gzip;q=0.5"], Gzip),
            (&["ZSTD;Q=0.9, gzip;q=0.8"], Zstd),
            (&["zstd;q=0, gzip;q=0"], Identity),
            (&["identity"], Identity),
            (&["identity, zstd;q=0.5"], Identity),
            (&["identity;q=0, gzip;q=0.1"], Gzip),
            (&["identity;q=0"], Identity),
            (&["*"], Zstd),
            (&["*;q=0"], Identity),
            (&["*;q=0.5, zstd;q=0"], Gzip),
            (&["gzip;q=2"], Identity),
            (&["gzip;q=abc"], Identity),
            (&["gzip;q=0.001"], Gzip),
            (&["gzip", "zstd"], Zstd),
        ];
        for (accept, want) in cases {
            assert_eq!(coding(accept), *want, "Accept-Encoding: {accept:?}");
        }
    }

    #[test]
    fn raw_frames_decode_to_their_data() {
        for len in [0, 1, 300, MAX_BLOCK, MAX_BLOCK + 1, 3 * MAX_BLOCK + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut f = vec![];
            raw_frame(&mut f, &data);
            assert_eq!(zstd::decode_all(&f[..]).unwrap(), data, "{len} bytes");
        }
    }
}
