//! Projects and their code deployments.

use crate::sql::{Tx, args};
use crate::{
    CodeDeployment, NewCodeDeployment, Project, Result, Store, StoreError, orgs, ts, validate,
};

/// A project's row id and build server.
pub(crate) struct ProjectRow {
    pub id: i64,
    pub build_server: Option<String>,
}

pub(crate) fn project_row(tx: &Tx<'_>, org_id: i64, slug: &str) -> Result<ProjectRow> {
    tx.query_opt(
        "SELECT id, build_server FROM projects WHERE org_id = ?1 AND slug = ?2",
        &args![org_id, slug],
        |r| {
            Ok(ProjectRow {
                id: r.get(0)?,
                build_server: r.get(1)?,
            })
        },
    )?
    .ok_or_else(|| StoreError::ProjectNotFound(slug.to_string()))
}

pub(crate) fn code_deployments(tx: &Tx<'_>, project_id: i64) -> Result<Vec<(i64, CodeDeployment)>> {
    tx.query_all(
        "SELECT id, slug, repo_url, branch, build_project, branch_builds_only FROM code_deployments WHERE project_id = ?1 ORDER BY id",
        &args![project_id],
        |r| {
            Ok((
                r.get(0)?,
                CodeDeployment {
                    slug: r.get(1)?,
                    repo_url: r.get(2)?,
                    branch: r.get(3)?,
                    build_project: r.get(4)?,
                    branch_builds_only: r.get(5)?,
                },
            ))
        },
    )
}

impl Store {
    /// Creates a project in `org`.
    pub fn create_project(&self, org: &str, slug: &str, name: &str) -> Result<Project> {
        validate::slug(slug)?;
        validate::text("name", name, 200)?;
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            tx.execute(
                "INSERT INTO projects (org_id, slug, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                &args![org_id, slug, name, ts::to_nanos(ts::now())],
            )
            .map_err(|e| {
                if e.is_unique_violation() {
                    StoreError::SlugTaken {
                        kind: "project",
                        slug: slug.to_string(),
                    }
                } else {
                    e
                }
            })?;
            Ok(())
        })?;
        Ok(Project {
            slug: slug.into(),
            name: name.into(),
            code_deployments: vec![],
            build_server: None,
        })
    }

    /// Every project of `org`, by slug, with its code deployments.
    pub fn list_projects(&self, org: &str) -> Result<Vec<Project>> {
        self.db.read(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let rows: Vec<(i64, String, String, Option<String>)> = tx.query_all(
                "SELECT id, slug, name, build_server FROM projects WHERE org_id = ?1 ORDER BY slug",
                &args![org_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            rows.into_iter()
                .map(|(id, slug, name, build_server)| {
                    let cds = code_deployments(tx, id)?
                        .into_iter()
                        .map(|(_, c)| c)
                        .collect();
                    Ok(Project {
                        slug,
                        name,
                        code_deployments: cds,
                        build_server,
                    })
                })
                .collect()
        })
    }

    /// Adds a code deployment to `project`.
    pub fn create_code_deployment(
        &self,
        org: &str,
        project: &str,
        cd: &NewCodeDeployment,
    ) -> Result<CodeDeployment> {
        validate::slug(&cd.slug)?;
        validate::text("repo_url", &cd.repo_url, 2048)?;
        validate::text("branch", &cd.branch, 255)?;
        if let Some(bp) = &cd.build_project {
            validate::text("build_project", bp, 512)?;
        }
        self.db.write(|tx| {
            let org_id = orgs::org_id(tx, org)?;
            let p = project_row(tx, org_id, project)?;
            tx.execute(
                "INSERT INTO code_deployments (project_id, slug, repo_url, branch, build_project, branch_builds_only, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &args![p.id, &cd.slug, &cd.repo_url, &cd.branch, &cd.build_project, cd.branch_builds_only, ts::to_nanos(ts::now())],
            )
            .map_err(|e| {
                if e.is_unique_violation() {
                    StoreError::SlugTaken { kind: "code deployment", slug: cd.slug.clone() }
                } else {
                    e
                }
            })?;
            Ok(())
        })?;
        Ok(CodeDeployment {
            slug: cd.slug.clone(),
            repo_url: cd.repo_url.clone(),
            branch: cd.branch.clone(),
            build_project: cd.build_project.clone(),
            branch_builds_only: cd.branch_builds_only,
        })
    }
}
