//! What the background sync reads and writes: the integrations and build
//! projects to sync, each project's cursor, the builds of one sync page,
//! and which indexed builds are still unfinished (to refresh them).
//! Writes follow the index's merge rules (see `index.rs`).

use buildsnap_domain::IndexedBuild;

use crate::columns::parse_nanos;
use crate::index::enabled;
use crate::index_rows::upsert_builds;
use crate::sql::args;
use crate::{Result, Store, orgs, ts};

/// Where an integration's builds are synced from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTarget {
    /// Org slug.
    pub org: String,
    /// Provider id.
    pub provider: String,
    /// Code deployments of projects using this integration as build server:
    /// `(build_project, repo_url)`, deduplicated.
    pub sources: Vec<(Option<String>, String)>,
}

impl Store {
    /// Ids of `project`'s builds that were not final when last seen and were
    /// created after `since` (RFC 3339), newest first, at most `limit`.
    pub fn unfinished_builds(
        &self,
        org: &str,
        provider: &str,
        project: &str,
        since: &str,
        limit: u32,
    ) -> Result<Vec<String>> {
        let since = parse_nanos(since).unwrap_or(0);
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            tx.query_all(
                "SELECT build_id FROM provider_builds
                 WHERE org_id = ?1 AND provider = ?2 AND project = ?3 AND final = 0 AND created_at >= ?4
                 ORDER BY created_at DESC LIMIT ?5",
                &args![org_id, provider, project, since, limit],
                |r| r.get(0),
            )
        })
    }

    /// Enabled integrations in good standing (`ok`) with the code
    /// deployments of the projects that use them as build server: what the
    /// background sync refreshes.
    pub fn sync_targets(&self) -> Result<Vec<SyncTarget>> {
        self.db.read(|tx| {
            let rows: Vec<(String, String, Option<String>, String)> = tx.query_all(
                "SELECT o.slug, i.provider, c.build_project, c.repo_url
                 FROM integrations i
                 JOIN orgs o ON o.id = i.org_id
                 JOIN projects p ON p.org_id = i.org_id AND p.build_server = i.provider
                 JOIN code_deployments c ON c.project_id = p.id
                 WHERE i.enabled = 1 AND i.status = 'ok'
                 ORDER BY o.slug, i.provider, c.id",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let mut out: Vec<SyncTarget> = Vec::new();
            for (org, provider, build_project, repo_url) in rows {
                let idx = match out
                    .iter()
                    .position(|t| t.org == org && t.provider == provider)
                {
                    Some(i) => i,
                    None => {
                        out.push(SyncTarget {
                            org,
                            provider,
                            sources: Vec::new(),
                        });
                        out.len() - 1
                    }
                };
                let src = (build_project, repo_url);
                if !out[idx].sources.contains(&src) {
                    out[idx].sources.push(src);
                }
            }
            Ok(out)
        })
    }

    /// The stored sync cursor of `project`, if a sync ran before.
    pub fn sync_cursor(&self, org: &str, provider: &str, project: &str) -> Result<Option<String>> {
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            Ok(tx
                .query_opt(
                    "SELECT cursor FROM sync_cursors WHERE org_id = ?1 AND provider = ?2 AND project = ?3",
                    &args![org_id, provider, project],
                    |r| r.get::<Option<String>>(0),
                )?
                .flatten())
        })
    }

    /// Stores a sync page: its builds and the next cursor, atomically.
    /// `false` (nothing written) when the integration is no longer enabled.
    pub fn save_sync(
        &self,
        org: &str,
        provider: &str,
        project: &str,
        builds: &[IndexedBuild],
        cursor: Option<&str>,
    ) -> Result<bool> {
        let now = ts::to_nanos(ts::now());
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            if !enabled(tx, org_id, provider)? {
                return Ok(false);
            }
            upsert_builds(tx, org_id, provider, builds, now)?;
            tx.execute(
                "INSERT INTO sync_cursors (org_id, provider, project, cursor, synced_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (org_id, provider, project) DO UPDATE SET
                     cursor = COALESCE(excluded.cursor, sync_cursors.cursor), synced_at = excluded.synced_at",
                &args![org_id, provider, project, cursor, now],
            )?;
            Ok(true)
        })
    }
}
