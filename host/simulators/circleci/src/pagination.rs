//! Opaque page tokens.
//!
//! A token is `base64url(cursor || tag)`, where the tag is a truncated
//! SHA-256 over a per-simulator secret, the list's scope (route, id, filters)
//! and the cursor. Clients cannot read or forge them, and a token from one
//! list (or one branch filter) is rejected on another, which catches clients
//! that mix up pagination state.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Page size of every v2 list (observed for pipelines; assumed elsewhere).
pub const PAGE_SIZE: usize = 20;

/// Issues and checks page tokens.
#[derive(Debug, Clone)]
pub struct PageTokens {
    secret: [u8; 16],
}

impl PageTokens {
    /// A token codec with a fresh random secret.
    pub fn new() -> Self {
        Self {
            secret: *uuid::Uuid::new_v4().as_bytes(),
        }
    }

    fn tag(&self, scope: &str, cursor: u64) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(scope.as_bytes());
        h.update(cursor.to_be_bytes());
        let digest = h.finalize();
        digest[..16].try_into().expect("16 bytes")
    }

    /// Token for the page starting after `cursor` in list `scope`.
    pub fn encode(&self, scope: &str, cursor: u64) -> String {
        let mut bytes = cursor.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.tag(scope, cursor));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The cursor inside `token`, if it was issued for `scope`.
    pub fn decode(&self, scope: &str, token: &str) -> Option<u64> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != 24 {
            return None;
        }
        let cursor = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        (bytes[8..] == self.tag(scope, cursor)).then_some(cursor)
    }
}

impl Default for PageTokens {
    fn default() -> Self {
        Self::new()
    }
}

/// Slices `items` into one page starting at offset `start`; returns the page and the next offset.
pub fn by_offset<T>(items: Vec<T>, start: usize) -> (Vec<T>, Option<usize>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(PAGE_SIZE).collect();
    let next = start + page.len();
    (page, (next < total).then_some(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_scope_binding() {
        let t = PageTokens::new();
        let tok = t.encode("pipelines:p1:main", 42);
        assert_eq!(t.decode("pipelines:p1:main", &tok), Some(42));
        assert_eq!(t.decode("pipelines:p1:dev", &tok), None);
        assert_eq!(t.decode("pipelines:p1:main", "garbage"), None);
        assert!(
            tok.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(PageTokens::new().decode("pipelines:p1:main", &tok), None);
    }

    #[test]
    fn offsets() {
        let (p, n) = by_offset((0..45).collect(), 0);
        assert_eq!((p.len(), n), (20, Some(20)));
        let (p, n) = by_offset((0..45).collect::<Vec<_>>(), 40);
        assert_eq!((p, n), (vec![40, 41, 42, 43, 44], None));
    }
}
