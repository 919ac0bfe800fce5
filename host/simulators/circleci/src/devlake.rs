//! Loading Apache DevLake's recorded CircleCI responses as a scenario.
//!
//! DevLake's `raw_tables/_raw_circleci_api_*.csv` hold one response item per
//! row in the `data` column and the called URL in `url`. Derived keys
//! (`project_slug`, `pipeline_id`, `pipeline_number`) are checked and dropped
//! because the simulator derives them from the hierarchy; everything else is
//! kept verbatim so the served JSON equals the recording.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::builder::stable_uuid;
use crate::error::ScenarioError;
use crate::model::{Job, Org, Pipeline, Project, User, Workflow};
use crate::scenario::Scenario;
use crate::slug;

/// Token that authenticates as the synthetic DevLake user (access to every recorded org).
pub const DEVLAKE_TOKEN: &str = "devlake-token";

/// One CSV row: the recorded item and the URL it came from.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// The response item.
    pub data: Value,
    /// URL DevLake called.
    pub url: String,
}

/// Reads `_raw_circleci_api_<table>.csv` from `dir` (missing file = no rows).
pub fn read_table(dir: &Path, table: &str) -> Result<Vec<RawRow>, ScenarioError> {
    let path = dir.join(format!("_raw_circleci_api_{table}.csv"));
    if !path.exists() {
        return Ok(Vec::new());
    }
    let err = |m: String| ScenarioError::Recording {
        path: path.clone(),
        message: m,
    };
    let mut reader = csv::Reader::from_path(&path).map_err(|e| err(e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| err(format!("no {name} column")))
    };
    let (data_col, url_col) = (col("data")?, col("url")?);
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let data =
            serde_json::from_str(&rec[data_col]).map_err(|e| err(format!("data column: {e}")))?;
        rows.push(RawRow {
            data,
            url: rec[url_col].to_owned(),
        });
    }
    Ok(rows)
}

/// Rows of `table` followed by rows of `table_incremental` whose ids were not seen.
fn table_with_incremental(dir: &Path, table: &str) -> Result<Vec<RawRow>, ScenarioError> {
    let mut rows = read_table(dir, table)?;
    let mut seen: std::collections::HashSet<String> =
        rows.iter().filter_map(|r| id_of(&r.data)).collect();
    for r in read_table(dir, &format!("{table}_incremental"))? {
        if id_of(&r.data).is_some_and(|id| seen.insert(id)) {
            rows.push(r);
        }
    }
    Ok(rows)
}

fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_owned)
}

/// Removes `key` from `v`, failing if it is present with a value other than `expected`.
fn take_derived(
    v: &mut Value,
    key: &str,
    expected: &Value,
    path: &Path,
) -> Result<(), ScenarioError> {
    match v.as_object_mut().and_then(|o| o.remove(key)) {
        Some(actual) if actual != *expected => Err(ScenarioError::Recording {
            path: path.to_owned(),
            message: format!("{key} is {actual}, hierarchy says {expected}"),
        }),
        _ => Ok(()),
    }
}

/// A row the loader could not place, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// Table name (`workflows`, `jobs`, ...).
    pub table: String,
    /// The row's `id`.
    pub id: String,
    /// Why it was left out.
    pub reason: String,
}

/// Result of [`load`]: the scenario plus every row that was left out.
#[derive(Debug)]
pub struct Import {
    /// The loaded scenario.
    pub scenario: Scenario,
    /// Rows that are not real CircleCI responses (DevLake keeps a few synthetic test rows).
    pub skipped: Vec<Skipped>,
}

impl Scenario {
    /// Loads DevLake raw tables (see [`load`]); skipped rows are logged as warnings.
    pub fn from_devlake_raw(dir: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let import = load(dir)?;
        for s in &import.skipped {
            tracing::warn!(table = %s.table, id = %s.id, reason = %s.reason, "DevLake row skipped");
        }
        Ok(import.scenario)
    }
}

/// Loads DevLake raw tables (`projects`, `users`, `pipelines`, `workflows`, `jobs`, plus
/// `_incremental` variants) from `dir`. A synthetic user with token
/// [`DEVLAKE_TOKEN`] collaborates with every recorded org. The clock starts at
/// the real current time, so every recorded object is visible and finished.
///
/// Workflows whose pipeline was not recorded are skipped and reported: DevLake's
/// data contains a hand-made row (pipeline number 16, empty timestamps) that
/// tests its own "skip rows without created_at" rule and is not a CircleCI response.
pub fn load(dir: impl AsRef<Path>) -> Result<Import, ScenarioError> {
    let dir = dir.as_ref();
    let file = |t: &str| -> PathBuf { dir.join(format!("_raw_circleci_api_{t}.csv")) };
    let mut skipped = Vec::new();
    let mut s = Scenario::default();
    for row in read_table(dir, "users")? {
        s.orgs.push(serde_json::from_value::<Org>(row.data)?);
    }
    for row in read_table(dir, "projects")? {
        let d = &row.data;
        let str_at = |p: &str| {
            d.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let org_slug = slug::canonical(&str_at("/organization_slug"));
        if !s.orgs.iter().any(|o| o.slug == org_slug) {
            s.orgs.push(Org {
                id: str_at("/organization_id"),
                name: str_at("/organization_name"),
                slug: org_slug.clone(),
                vcs_type: None,
                avatar_url: None,
            });
        }
        s.projects.push(Project {
            id: str_at("/id"),
            slug: slug::canonical(&str_at("/slug")),
            name: str_at("/name"),
            org: org_slug,
            vcs_url: str_at("/vcs_info/vcs_url"),
            default_branch: str_at("/vcs_info/default_branch"),
            provider: Some(str_at("/vcs_info/provider")),
            pipelines: Vec::new(),
            extra: Default::default(),
        });
    }
    let projects: HashMap<String, usize> = s
        .projects
        .iter()
        .enumerate()
        .map(|(i, p)| (p.slug.clone(), i))
        .collect();

    let mut pipeline_at: HashMap<String, (usize, usize)> = HashMap::new();
    for mut row in table_with_incremental(dir, "pipelines")? {
        let slug = slug::canonical(
            row.data
                .get("project_slug")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let &pi = projects
            .get(&slug)
            .ok_or_else(|| ScenarioError::Recording {
                path: file("pipelines"),
                message: format!("pipeline of unrecorded project {slug}"),
            })?;
        take_derived(
            &mut row.data,
            "project_slug",
            &Value::String(slug),
            &file("pipelines"),
        )?;
        let p: Pipeline = serde_json::from_value(row.data)?;
        pipeline_at.insert(p.id.clone(), (pi, s.projects[pi].pipelines.len()));
        s.projects[pi].pipelines.push(p);
    }

    let mut workflow_at: HashMap<String, (usize, usize, usize)> = HashMap::new();
    for mut row in table_with_incremental(dir, "workflows")? {
        let pid = row
            .data
            .get("pipeline_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(&(pi, qi)) = pipeline_at.get(&pid) else {
            let id = id_of(&row.data).unwrap_or_default();
            skipped.push(Skipped {
                table: "workflows".into(),
                id,
                reason: format!("pipeline {pid} not recorded"),
            });
            continue;
        };
        let project = &s.projects[pi];
        let number = Value::from(project.pipelines[qi].number);
        take_derived(
            &mut row.data,
            "pipeline_id",
            &Value::String(pid),
            &file("workflows"),
        )?;
        take_derived(
            &mut row.data,
            "pipeline_number",
            &number,
            &file("workflows"),
        )?;
        take_derived(
            &mut row.data,
            "project_slug",
            &Value::String(project.slug.clone()),
            &file("workflows"),
        )?;
        let w: Workflow = serde_json::from_value(row.data)?;
        let wi = s.projects[pi].pipelines[qi].workflows.len();
        workflow_at.insert(w.id.clone(), (pi, qi, wi));
        s.projects[pi].pipelines[qi].workflows.push(w);
    }

    for mut row in table_with_incremental(dir, "jobs")? {
        // The job item has no workflow id; it is in the URL `.../workflow/{id}/job`.
        let wid = row
            .url
            .trim_end_matches("/job")
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let Some(&(pi, qi, wi)) = workflow_at.get(&wid) else {
            let id = id_of(&row.data).unwrap_or_default();
            skipped.push(Skipped {
                table: "jobs".into(),
                id,
                reason: format!("workflow {wid} not recorded"),
            });
            continue;
        };
        let slug = Value::String(s.projects[pi].slug.clone());
        take_derived(&mut row.data, "project_slug", &slug, &file("jobs"))?;
        let j: Job = serde_json::from_value(row.data)?;
        s.projects[pi].pipelines[qi].workflows[wi].jobs.push(j);
    }

    s.users.push(User {
        id: stable_uuid("user:devlake"),
        login: "devlake".into(),
        name: "DevLake recordings".into(),
        orgs: s.orgs.iter().map(|o| o.slug.clone()).collect(),
        tokens: vec![DEVLAKE_TOKEN.into()],
        followed: None,
    });
    s.normalise();
    s.validate()?;
    Ok(Import {
        scenario: s,
        skipped,
    })
}
