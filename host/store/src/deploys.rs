//! Deploy registration and reads.

use buildsnap_domain::Summary;

use crate::builds_codec::StoredBuilds;
use crate::events::StoreEvent;
use crate::sql::{Row, Tx, args};
use crate::{
    Deploy, NewDeploy, Result, Snapshot, SnapshotState, Store, StoreError, orgs, projects, ts,
    validate,
};

/// Default `environment`.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// Upper bound of `limit` in listings.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// The columns `from_row` reads, as a macro so that fixed queries can be
/// built with `concat!` at compile time rather than `format!` per call.
macro_rules! select_deploys {
    () => {
        "SELECT d.id, p.slug, c.slug, d.sha, d.environment, d.deployed_at,
            s.state, s.captured_at, s.provider, s.build_project, s.summary, s.builds, s.explain, d.org_id,
            s.builds_encoding, s.builds_zstd
        FROM deploys d
        JOIN projects p ON p.id = d.project_id
        JOIN code_deployments c ON c.id = d.code_deployment_id
        JOIN snapshots s ON s.deploy_id = d.id"
    };
}
pub(crate) const SELECT: &str = select_deploys!();

pub(crate) fn from_row(r: &Row<'_>) -> Result<(Deploy, StoredBuilds)> {
    let deployed_at = ts::nanos_to_string(r.get(5)?);
    let encoding: String = r.get(14)?;
    let builds = StoredBuilds::from_columns(&encoding, r.get(11)?, r.get(15)?)
        .map_err(|e| r.bad_text(11, e))?;
    Ok((
        Deploy {
            id: r.get(0)?,
            project: r.get(1)?,
            code_deployment: r.get(2)?,
            sha: r.get(3)?,
            environment: r.get(4)?,
            deployed_at: deployed_at.clone(),
            builds: Snapshot {
                // An unknown state word reads as `error` (as it always has).
                state: r.get::<String>(6)?.parse().unwrap_or(SnapshotState::Error),
                as_of: deployed_at,
                captured_at: r.get::<Option<i64>>(7)?.map(ts::nanos_to_string),
                provider: r.get(8)?,
                build_project: r.get(9)?,
                summary: r.word(10)?,
                builds: serde_json::Value::Null,
                explain: r.get(12)?,
                // Filled by `with_later_builds` in the same read.
                later_builds: Vec::new(),
            },
        },
        builds,
    ))
}

pub(crate) fn finish((mut d, stored): (Deploy, StoredBuilds)) -> Result<Deploy> {
    d.builds.builds = serde_json::from_str(&stored.into_json()?)?;
    Ok(d)
}

impl Store {
    /// Registers a deploy of `project`. In the same transaction it writes the
    /// deploy's snapshot row (`pending` when the project's build server is an
    /// enabled integration, else `no_build_server`) and, when pending, a queued
    /// capture job, so the capture survives a restart.
    pub fn register_deploy(&self, org: &str, project: &str, new: &NewDeploy) -> Result<Deploy> {
        let sha = validate::sha(&new.sha)?;
        let environment = new
            .environment
            .clone()
            .unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_string());
        validate::text("environment", &environment, 100)?;
        let now = ts::now();
        let deployed_at = new.deployed_at.unwrap_or(now);
        let deployed_nanos = validate::deployed_at(deployed_at)?;
        let (id, cd, state, provider, explain) = self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let p = projects::project_row(tx, org_id, project)?;
            let cds = projects::code_deployments(tx, p.id)?;
            let (cd_id, cd) = match &new.code_deployment {
                Some(slug) => cds.into_iter().find(|(_, c)| &c.slug == slug).ok_or_else(|| {
                    StoreError::UnknownCodeDeployment { project: project.to_string(), slug: slug.clone() }
                })?,
                None => match cds.len() {
                    0 => return Err(StoreError::NoCodeDeployment { project: project.to_string() }),
                    1 => cds.into_iter().next().expect("one element"),
                    _ => {
                        return Err(StoreError::AmbiguousCodeDeployment {
                            project: project.to_string(),
                            candidates: cds.into_iter().map(|(_, c)| c.slug).collect(),
                        });
                    }
                },
            };
            // The build server counts only while its integration is enabled
            // (disabling also clears it; this guards the invariant anyway).
            let provider = match &p.build_server {
                Some(b) => tx
                    .query_opt(
                        "SELECT enabled FROM integrations WHERE org_id = ?1 AND provider = ?2",
                        &args![org_id, b],
                        |r| r.get::<i64>(0),
                    )?
                    .filter(|e| *e == 1)
                    .map(|_| b.clone()),
                None => None,
            };
            let (state, explain) = match &provider {
                Some(_) => (SnapshotState::Pending, None),
                None => (
                    SnapshotState::NoBuildServer,
                    Some(format!(
                        "project {project} had no build server when this deploy was registered: enable an \
                         integration and make it the project's build server with \
                         PUT /api/v1/orgs/{org}/integrations/{{provider}}/default-build-server"
                    )),
                ),
            };
            let id: i64 = tx.query_one(
                "INSERT INTO deploys (org_id, project_id, code_deployment_id, sha, environment, deployed_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                &args![org_id, p.id, cd_id, &sha, &environment, deployed_nanos, ts::to_nanos(now)],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO snapshots (deploy_id, state, provider, build_project, summary, builds, explain, captured_at)
                 VALUES (?1, ?2, ?3, ?4, ?6, '[]', ?5, NULL)",
                &args![
                    id,
                    state.as_str(),
                    &provider,
                    &cd.build_project,
                    &explain,
                    Summary::None.as_str()
                ],
            )?;
            if provider.is_some() {
                tx.execute(
                    "INSERT INTO capture_jobs (deploy_id, state, attempts, not_before, updated_at)
                     VALUES (?1, 'queued', 0, ?2, ?2)",
                    &args![id, ts::to_nanos(now)],
                )?;
                // Every replica's worker may claim it now, not at its next poll.
                tx.emit(&StoreEvent::CapturesQueued)?;
            }
            Ok((id, cd, state, provider, explain))
        })?;
        let as_of = ts::format(deployed_at);
        Ok(Deploy {
            id,
            project: project.to_string(),
            code_deployment: cd.slug,
            sha,
            environment,
            deployed_at: as_of.clone(),
            builds: Snapshot {
                state,
                as_of,
                captured_at: None,
                provider,
                build_project: cd.build_project,
                summary: Summary::None,
                builds: serde_json::Value::Array(vec![]),
                explain,
                // Just registered: nothing was built after it yet.
                later_builds: Vec::new(),
            },
        })
    }

    /// The first page of deploys of `org` (of one project when given):
    /// [`Store::list_deploys_page`] without a cursor.
    pub fn list_deploys(
        &self,
        org: &str,
        project: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Deploy>> {
        Ok(self.list_deploys_page(org, project, limit, None)?.deploys)
    }

    /// One deploy of `org`; `DeployNotFound` also for another org's deploy.
    pub fn get_deploy(&self, org: &str, id: i64) -> Result<Deploy> {
        self.db.read(|tx| {
            let (org_id, (mut d, stored)) = deploy_row(tx, org, id)?;
            with_later_builds(tx, org_id, &mut d)?;
            finish((d, stored))
        })
    }
}

/// Org id and row of deploy `id` of org `org` (its builds as stored),
/// in one statement: the org is matched by slug in the same join.
/// `OrgNotFound` / `DeployNotFound` as [`Store::get_deploy`] says.
pub(crate) fn deploy_row(tx: &Tx<'_>, org: &str, id: i64) -> Result<(i64, (Deploy, StoredBuilds))> {
    const SQL: &str = concat!(
        select_deploys!(),
        " JOIN orgs o ON o.id = d.org_id WHERE d.id = ?1 AND o.slug = ?2"
    );
    let row = tx.query_opt(SQL, &args![id, org], |r| {
        Ok((r.get::<i64>(13)?, from_row(r)?))
    })?;
    match row {
        Some(row) => Ok(row),
        None => {
            // Only the miss pays for telling a missing org from a missing deploy.
            orgs::org_id(tx, org)?;
            Err(StoreError::DeployNotFound(id))
        }
    }
}

/// Fills `d`'s `later_builds`: builds of its commit in its snapshot's
/// provider project created after `deployed_at`, from the index (the
/// `provider_builds_by_sha7` index: one seek), as they are now. Only a
/// captured snapshot (it knows its provider and project) has any.
pub(crate) fn with_later_builds<B>(tx: &Tx<'_>, org_id: i64, d: &mut Deploy<B>) -> Result<()> {
    let (Some(provider), Some(project)) = (&d.builds.provider, &d.builds.build_project) else {
        return Ok(());
    };
    let Ok(as_of) = ts::parse(&d.deployed_at) else {
        return Ok(());
    };
    let after = ts::to_nanos(as_of);
    let sha = d.sha.to_ascii_lowercase();
    let later =
        crate::index_read::builds_of_commit(tx, org_id, provider, project, &sha, Some(after))?;
    d.builds.later_builds = buildsnap_domain::freeze::current_all(&later);
    Ok(())
}
