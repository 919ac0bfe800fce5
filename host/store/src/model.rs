//! Records the store reads and writes. The `Serialize` forms are the HTTP API's
//! JSON shapes (`<deploy>`, projects, ...); the snapshot's own records
//! (`<snapshot>`, `<build>`, statuses) are the domain's (`buildsnap_domain`).

use buildsnap_domain::Snapshot;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What an organisation token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything within its organisation.
    All,
    /// Only `POST .../projects/{project}/deploys` (for CD pipelines).
    RegisterDeploy,
}

impl Scope {
    /// The stored / JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::RegisterDeploy => "register_deploy",
        }
    }

    pub(crate) fn from_db(s: &str) -> Scope {
        if s == "all" {
            Scope::All
        } else {
            Scope::RegisterDeploy
        }
    }
}

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The admin token: may create orgs and act in every org.
    Admin,
    /// A token of one organisation.
    Org {
        /// The organisation's slug.
        org: String,
        /// What the token may do there.
        scope: Scope,
    },
}

/// An organisation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Org {
    /// URL-safe id.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A freshly created org token; `token` is shown this once and never stored.
#[derive(Clone, Serialize)]
pub struct NewToken {
    /// The bearer token.
    pub token: String,
    /// Its label.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// Its organisation.
    pub org: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("token", &"<redacted>")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("org", &self.org)
            .finish()
    }
}

/// Who provider credentials belong to, as the provider says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// Provider's id of the account.
    pub id: String,
    /// Login / handle.
    pub login: String,
    /// Display name.
    pub name: String,
}

/// The stored part of an integration (provider facts such as its display name
/// come from the loaded plugin, not from here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationState {
    /// Provider id.
    pub provider: String,
    /// Whether a validated token is stored.
    pub enabled: bool,
    /// Whose token it is (when enabled).
    pub account: Option<Account>,
    /// The API base configured; `None` means the provider's default.
    pub base_url: Option<String>,
    /// Slugs of the projects whose build server this integration is, sorted.
    pub default_build_server_for: Vec<String>,
    /// `ok` or `needs_attention`.
    pub status: String,
    /// The last error the provider gave, when `needs_attention`.
    pub last_error: Option<String>,
    /// Whether a webhook signing secret is set (the secret itself is write-only).
    pub webhook_configured: bool,
}

/// A deploy target's source: which repository/branch, built where.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CodeDeployment {
    /// Slug, unique within the project.
    pub slug: String,
    /// Repository URL.
    pub repo_url: String,
    /// Branch that is deployed.
    pub branch: String,
    /// The provider project (CircleCI `gh/org/repo`); `None`: derived from `repo_url`.
    pub build_project: Option<String>,
    /// Snapshots take only builds of `branch` (builds of other branches of
    /// the same commit are left out, and the explanation says how many).
    pub branch_builds_only: bool,
}

/// Input of [`crate::Store::create_code_deployment`].
#[derive(Debug, Clone, Deserialize)]
pub struct NewCodeDeployment {
    /// Slug, unique within the project.
    pub slug: String,
    /// Repository URL.
    pub repo_url: String,
    /// Branch that is deployed.
    pub branch: String,
    /// The provider project, when it cannot be derived from `repo_url`.
    #[serde(default)]
    pub build_project: Option<String>,
    /// Snapshots take only builds of `branch` (default: builds of any branch).
    #[serde(default)]
    pub branch_builds_only: bool,
}

/// A project with its code deployments.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Project {
    /// Slug, unique within the org.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Its code deployments, in creation order.
    pub code_deployments: Vec<CodeDeployment>,
    /// Provider id of its build server, if any.
    pub build_server: Option<String>,
}

/// Input of [`crate::Store::register_deploy`].
#[derive(Debug, Clone)]
pub struct NewDeploy {
    /// 7 to 40 hex characters.
    pub sha: String,
    /// Defaults to `production`.
    pub environment: Option<String>,
    /// Defaults to now.
    pub deployed_at: Option<OffsetDateTime>,
    /// May be omitted when the project has exactly one.
    pub code_deployment: Option<String>,
}

/// The stored `builds` JSON text of a snapshot, unparsed; serialises
/// verbatim.
pub type RawBuilds = Box<serde_json::value::RawValue>;

/// `<deploy>`; `B` as in [`Snapshot`] (how its snapshot's `builds` are held).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Deploy<B = serde_json::Value> {
    /// Id, unique across the whole service.
    pub id: i64,
    /// Project slug.
    pub project: String,
    /// Code deployment slug.
    pub code_deployment: String,
    /// Lower-case hex.
    pub sha: String,
    /// Environment name.
    pub environment: String,
    /// RFC 3339 UTC.
    pub deployed_at: String,
    /// The snapshot.
    pub builds: Snapshot<B>,
}

impl<B> Deploy<B> {
    /// The same deploy with its snapshot's `builds` held as `C`.
    pub fn with_builds<C>(self, builds: C) -> Deploy<C> {
        Deploy {
            id: self.id,
            project: self.project,
            code_deployment: self.code_deployment,
            sha: self.sha,
            environment: self.environment,
            deployed_at: self.deployed_at,
            builds: self.builds.with_builds(builds),
        }
    }
}

/// A claimed capture job: everything the worker needs to call the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureJob {
    /// The deploy to capture.
    pub deploy_id: i64,
    /// Org slug.
    pub org: String,
    /// Project slug.
    pub project: String,
    /// Code deployment slug.
    pub code_deployment: String,
    /// Repository URL of the code deployment.
    pub repo_url: String,
    /// Branch of the code deployment.
    pub branch: String,
    /// Only builds of `branch` count (the code deployment's rule).
    pub branch_builds_only: bool,
    /// Provider project, when configured.
    pub build_project: Option<String>,
    /// Provider id the snapshot is captured from.
    pub provider: String,
    /// Deployed commit (lower-case hex, 7 to 40).
    pub sha: String,
    /// The snapshot's `as_of`.
    pub deployed_at: OffsetDateTime,
    /// Attempts so far, including this one.
    pub attempts: u32,
}
