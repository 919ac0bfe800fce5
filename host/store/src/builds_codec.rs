//! How a snapshot's `builds` JSON is stored: as text (every row written
//! before migration 4) or as one zstd frame (everything written since).
//!
//! Why zstd level 9 without a dictionary: measured in docs/performance.md
//! ("Snapshot storage"), level 9 keeps the realistic 9.6 KB array in about
//! 800 bytes; a trained dictionary saves another 300 bytes at level 19, but
//! a dictionary frame is unreadable to HTTP clients, whereas a plain frame
//! is passed through as it is stored to every client that accepts
//! `Content-Encoding: zstd` (no decoding or encoding per read).

use serde_json::value::RawValue;

use crate::{RawBuilds, Result, StoreError};

/// The zstd level snapshots are written with (about 0.35 ms per realistic
/// snapshot, once, in the capture worker; level 19 took 60 times longer for
/// 2 % fewer bytes).
pub const STORE_LEVEL: i32 = 9;

/// Largest decoded `builds` text accepted from a stored frame: far above any
/// real snapshot (10,000 jobs are about 3 MB), it only bounds what a
/// damaged row could make a read allocate.
const MAX_DECODED: usize = 256 << 20;

/// A deploy's `builds` as [`crate::Store::get_deploy_served`] hands them to
/// an HTTP answer.
#[derive(Debug, Clone)]
pub enum ServedBuilds {
    /// The JSON text (decoded from storage, or patched with `current_status`).
    Json(RawBuilds),
    /// The stored zstd frame (no dictionary) of the JSON text, unpatched: a
    /// complete zstd frame that may be sent as it is.
    Zstd(Vec<u8>),
}

impl ServedBuilds {
    /// The JSON text, decoding a stored frame.
    pub fn into_json(self) -> Result<RawBuilds> {
        match self {
            ServedBuilds::Json(raw) => Ok(raw),
            ServedBuilds::Zstd(z) => stored_builds(decode(&z)?),
        }
    }
}

/// A row's stored `builds`, as read, not decoded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredBuilds {
    /// The JSON text itself.
    Json(String),
    /// One zstd frame of the JSON text.
    Zstd(Vec<u8>),
}

impl StoredBuilds {
    /// Reads the three columns `builds_encoding`, `builds`, `builds_zstd`.
    pub(crate) fn from_columns(
        encoding: &str,
        text: String,
        zstd: Option<Vec<u8>>,
    ) -> Result<StoredBuilds> {
        match (encoding, zstd) {
            ("json", _) => Ok(StoredBuilds::Json(text)),
            ("zstd", Some(z)) => Ok(StoredBuilds::Zstd(z)),
            (e, _) => Err(StoreError::Encoding(format!(
                "snapshot builds stored as {e:?} without their bytes"
            ))),
        }
    }

    /// The JSON text, decoded when stored compressed.
    pub(crate) fn into_json(self) -> Result<String> {
        match self {
            StoredBuilds::Json(t) => Ok(t),
            StoredBuilds::Zstd(z) => decode(&z),
        }
    }
}

/// One zstd frame of `json` at [`STORE_LEVEL`], its content size recorded
/// in the frame header (which [`decode`] relies on).
pub(crate) fn encode(json: &str) -> Result<Vec<u8>> {
    zstd::bulk::compress(json.as_bytes(), STORE_LEVEL)
        .map_err(|e| StoreError::Encoding(format!("compressing snapshot builds: {e}")))
}

/// The JSON text of a stored frame. Fails on a frame without a content
/// size, one larger than `MAX_DECODED`, corrupt bytes or non-UTF-8 text.
pub fn decode(frame: &[u8]) -> Result<String> {
    let bad = |why: String| StoreError::Encoding(format!("stored snapshot builds: {why}"));
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_DECODED as u64 => n as usize,
        Ok(Some(n)) => return Err(bad(format!("{n} bytes decoded is too large"))),
        _ => return Err(bad("not a zstd frame with a content size".into())),
    };
    let bytes = zstd::bulk::decompress(frame, size).map_err(|e| bad(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| bad(e.to_string()))
}

/// The stored `builds` text as a [`RawBuilds`], without parsing it again.
///
/// The text is written only by `write_final` (serde_json's serializer, as
/// text before migration 4 and zstd-compressed since) and as the literal
/// `[]` at registration, so the text is serde_json's own
/// compact output. Re-validating 10 KB of it on every read was about 8 % of
/// the server's CPU on `GET .../builds`; a text that does not even look
/// like a JSON array (a database edited by hand) is still validated and
/// fails with an error rather than being passed on.
pub(crate) fn stored_builds(json: String) -> Result<RawBuilds> {
    if json.starts_with('[') && json.ends_with(']') {
        // SAFETY: see above: the text comes from serde_json's serializer, a
        // single JSON value without surrounding whitespace. (`RawValue`'s
        // contract is about JSON well-formedness, not memory safety.)
        Ok(unsafe { RawValue::from_string_unchecked(json) })
    } else {
        Ok(RawValue::from_string(json)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_frames() {
        let json = r#"[{"id":"w1","status":"success","jobs":[]}]"#.repeat(50);
        let z = encode(&json).unwrap();
        assert!(z.len() < json.len() / 5, "{} bytes", z.len());
        assert_eq!(decode(&z).unwrap(), json);
        assert!(decode(b"not zstd").is_err());
        assert!(decode(&z[..z.len() - 3]).is_err(), "truncated frame");
        let not_utf8 = zstd::bulk::compress(&[0xff, 0xfe], 3).unwrap();
        assert!(decode(&not_utf8).is_err());
        assert!(StoredBuilds::from_columns("zstd", String::new(), None).is_err());
        assert!(StoredBuilds::from_columns("brotli", String::new(), Some(vec![])).is_err());
    }
}
