//! Deploy lists paged by cursor (keyset paging).
//!
//! A page ends at its last deploy; the next page starts strictly after that
//! deploy in the list's order (`deployed_at` descending, then id
//! descending). The cursor is that position, so reading page *n* costs one
//! index seek whatever *n* is, where `OFFSET` would walk every row before
//! it; and a deploy registered while a client pages through is never shown
//! twice nor shifts the pages after it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::builds_codec::{ServedBuilds, StoredBuilds, stored_builds};
use crate::deploys::{SELECT, finish, from_row, with_later_builds};
use crate::sql::args;
use crate::{Deploy, MAX_LIST_LIMIT, Result, Store, orgs, projects};

/// Where a page of deploys ended: the last deploy's `deployed_at` and id.
///
/// Clients see it only as the opaque text of [`DeployCursor::encode`]; its
/// form may change between versions (an old cursor then reads as invalid
/// and the client starts again from the first page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployCursor {
    /// `deployed_at` of the last deploy shown, in Unix nanoseconds.
    deployed_at: i64,
    /// Its id (breaks ties between deploys of the same instant).
    id: i64,
}

/// Text form version: bumped when the cursor's fields change.
const CURSOR_PREFIX: &str = "d1.";

impl DeployCursor {
    /// The cursor's text, URL-safe.
    pub fn encode(&self) -> String {
        let raw = format!("{CURSOR_PREFIX}{}.{}", self.deployed_at, self.id);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Reads a cursor made by [`DeployCursor::encode`]; `None` for anything
    /// else (the API answers 400 `invalid_cursor`).
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > 64 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        let raw = std::str::from_utf8(&raw).ok()?;
        let (at, id) = raw.strip_prefix(CURSOR_PREFIX)?.split_once('.')?;
        let cursor = DeployCursor {
            deployed_at: at.parse().ok()?,
            id: id.parse().ok()?,
        };
        (cursor.deployed_at >= 0 && cursor.id > 0).then_some(cursor)
    }
}

/// One page of a deploy list.
#[derive(Debug, Clone)]
pub struct DeployPage<B = serde_json::Value> {
    /// Newest `deployed_at` first.
    pub deploys: Vec<Deploy<B>>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<DeployCursor>,
}

impl Store {
    /// Deploys of `org` (of one project when given), newest `deployed_at`
    /// first, at most `limit` (clamped to 1..=[`MAX_LIST_LIMIT`]), starting
    /// after `after` (the first page when `None`).
    pub fn list_deploys_page(
        &self,
        org: &str,
        project: Option<&str>,
        limit: u32,
        after: Option<DeployCursor>,
    ) -> Result<DeployPage> {
        self.deploys_page(org, project, limit, after, finish)
    }

    /// [`Store::list_deploys_page`] with each snapshot's `builds` as
    /// stored ([`ServedBuilds::Zstd`] for a frame), not decoded, so that an
    /// HTTP answer can pass the frames through. The list adds no
    /// `current_status`.
    pub fn list_deploys_page_served(
        &self,
        org: &str,
        project: Option<&str>,
        limit: u32,
        after: Option<DeployCursor>,
    ) -> Result<DeployPage<ServedBuilds>> {
        self.deploys_page(org, project, limit, after, |(d, stored)| {
            let served = match stored {
                StoredBuilds::Zstd(z) => ServedBuilds::Zstd(z),
                StoredBuilds::Json(json) => ServedBuilds::Json(stored_builds(json)?),
            };
            Ok(d.with_builds(served))
        })
    }

    fn deploys_page<B>(
        &self,
        org: &str,
        project: Option<&str>,
        limit: u32,
        after: Option<DeployCursor>,
        finish: impl Fn((Deploy, StoredBuilds)) -> Result<Deploy<B>>,
    ) -> Result<DeployPage<B>> {
        let limit = limit.clamp(1, MAX_LIST_LIMIT);
        // One row more than asked tells whether a next page exists.
        let fetch = i64::from(limit) + 1;
        // The position sorts after every real deploy when there is none, so
        // one statement serves the first page too.
        let (at, id) = after.map_or((i64::MAX, i64::MAX), |c| (c.deployed_at, c.id));
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            // Row-value comparison: SQLite seeks the (owner, deployed_at,
            // id) index to the position and walks from there.
            let (owner_clause, owner) = match project {
                Some(p) => ("d.project_id", projects::project_row(tx, org_id, p)?.id),
                None => ("d.org_id", org_id),
            };
            let sql = format!(
                "{SELECT} WHERE {owner_clause} = ?1 AND (d.deployed_at, d.id) < (?2, ?3)
                 ORDER BY d.deployed_at DESC, d.id DESC LIMIT ?4"
            );
            let mut rows: Vec<_> = tx.query_all(&sql, &args![owner, at, id, fetch], |r| {
                Ok((r.get::<i64>(5)?, from_row(r)?))
            })?;
            let more = rows.len() > limit as usize;
            rows.truncate(limit as usize);
            let next = match rows.last() {
                Some((at, (d, _))) if more => Some(DeployCursor {
                    deployed_at: *at,
                    id: d.id,
                }),
                _ => None,
            };
            let deploys = rows
                .into_iter()
                .map(|(_, (mut d, stored))| {
                    with_later_builds(tx, org_id, &mut d)?;
                    finish((d, stored))
                })
                .collect::<Result<_>>()?;
            Ok(DeployPage { deploys, next })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = DeployCursor {
            deployed_at: 1_700_000_000_123_456_789,
            id: 42,
        };
        assert_eq!(DeployCursor::decode(&c.encode()), Some(c));
        for bad in [
            "",
            "x",
            "ZDEuMS4y!",
            &URL_SAFE_NO_PAD.encode("d1.1"),
            &URL_SAFE_NO_PAD.encode("d2.1.2"),
            &URL_SAFE_NO_PAD.encode("d1.-1.2"),
            &URL_SAFE_NO_PAD.encode("d1.1.0"),
            &URL_SAFE_NO_PAD.encode("d1.1.2.3"),
            &"A".repeat(65),
        ] {
            assert_eq!(DeployCursor::decode(bad), None, "{bad:?}");
        }
    }
}
