//! The host-kept copies behind conditional requests (contract 0.2.0
//! `request.conditional`). A plugin keeps nothing between calls, so the
//! host keeps, per integration, the last `200` answer to each URL that
//! carried an `ETag` or `Last-Modified`, sends those validators with the
//! next conditional `GET` of that URL, and answers a `304` with the copy.
//!
//! The copies live in memory only (they are provider data, rebuilt by one
//! full answer after a restart), bounded in bytes; the least recently
//! used copy goes first. An integration's scope includes a digest of its
//! token, so a copy fetched with one token never answers for another.

use std::sync::Mutex;
use std::time::SystemTime;

use indexmap::IndexMap;

/// What identifies one kept answer: the integration, the URL, and the
/// request headers the plugin sent (an `Accept` can change the body).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The integration (org, plugin, origin, token digest).
    pub scope: String,
    /// The request URL as sent.
    pub url: String,
    /// The plugin's request headers, lower-case names, sorted.
    pub headers: Vec<(String, String)>,
}

/// One kept `200` answer.
#[derive(Debug, Clone)]
pub struct Kept {
    /// Its `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// Its `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// Its headers.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
    /// When it was received.
    pub received_at: SystemTime,
}

impl Kept {
    /// The copy of a `200` answer, when it carries a validator.
    pub fn of(headers: &[(String, String)], body: &[u8], received_at: SystemTime) -> Option<Kept> {
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let (etag, last_modified) = (find("etag"), find("last-modified"));
        if etag.is_none() && last_modified.is_none() {
            return None;
        }
        Some(Kept {
            etag,
            last_modified,
            headers: headers.to_vec(),
            body: body.to_vec(),
            received_at,
        })
    }

    /// What keeping it under `key` costs, in bytes.
    fn cost(&self, key: &CacheKey) -> usize {
        self.size() + key.url.len() + key.scope.len()
    }

    fn size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// Every integration's kept answers, at most `max_bytes` in all.
pub struct ConditionalCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// In use order: the front was used least recently.
    entries: IndexMap<CacheKey, Kept>,
    bytes: usize,
}

impl ConditionalCache {
    /// A cache holding at most `max_bytes` of answers (0: keeps nothing).
    pub fn new(max_bytes: usize) -> ConditionalCache {
        ConditionalCache {
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The kept answer for `key`, marked as just used.
    pub fn get(&self, key: &CacheKey) -> Option<Kept> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let index = inner.entries.get_index_of(key)?;
        let last = inner.entries.len() - 1;
        inner.entries.move_index(index, last);
        inner.entries.get_index(last).map(|(_, v)| v.clone())
    }

    /// Keeps `kept` for `key` in place of any older copy. A copy larger
    /// than an eighth of the cache is not kept (it would push out many).
    pub fn put(&self, key: CacheKey, kept: Kept) {
        let size = kept.cost(&key);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.entries.shift_remove(&key) {
            inner.bytes -= old.cost(&key);
        }
        if size > self.max_bytes / 8 {
            return;
        }
        while inner.bytes + size > self.max_bytes {
            let Some((k, v)) = inner.entries.shift_remove_index(0) else {
                break;
            };
            inner.bytes -= v.cost(&k);
        }
        inner.bytes += size;
        inner.entries.insert(key, kept);
    }

    /// Forgets the copy for `key` (its URL answered without validators).
    pub fn remove(&self, key: &CacheKey) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.entries.shift_remove(key) {
            inner.bytes -= old.cost(key);
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> CacheKey {
        CacheKey {
            scope: "acme/github-actions".into(),
            url: url.into(),
            headers: vec![],
        }
    }

    fn kept(body: usize) -> Kept {
        Kept::of(
            &[("etag".into(), "\"v1\"".into())],
            &vec![b'x'; body],
            SystemTime::now(),
        )
        .unwrap()
    }

    #[test]
    fn only_answers_with_a_validator_are_kept() {
        assert!(
            Kept::of(
                &[("content-type".into(), "json".into())],
                b"{}",
                SystemTime::now()
            )
            .is_none()
        );
        let k = Kept::of(
            &[("Last-Modified".into(), "Tue".into())],
            b"{}",
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!((k.etag, k.last_modified.as_deref()), (None, Some("Tue")));
    }

    #[test]
    fn the_least_recently_used_copy_goes_first_and_bytes_stay_bounded() {
        let cache = ConditionalCache::new(8_000);
        cache.put(key("a"), kept(900));
        cache.put(key("b"), kept(900));
        assert!(cache.get(&key("a")).is_some(), "a is now the most recent");
        for n in 0..7 {
            cache.put(key(&format!("c{n}")), kept(900));
        }
        assert!(cache.bytes() <= 8_000, "{}", cache.bytes());
        assert!(cache.get(&key("b")).is_none(), "b was used least recently");
        assert!(cache.get(&key("c6")).is_some());
        // Too large to keep, and the old copy of that URL is gone too.
        cache.put(key("c6"), kept(2_000));
        assert!(cache.get(&key("c6")).is_none());
        cache.remove(&key("c5"));
        assert!(cache.get(&key("c5")).is_none());
    }

    #[test]
    fn scopes_do_not_share_copies() {
        let cache = ConditionalCache::new(1 << 20);
        cache.put(key("a"), kept(10));
        let other = CacheKey {
            scope: "beta/github-actions".into(),
            ..key("a")
        };
        assert!(cache.get(&other).is_none());
    }
}
