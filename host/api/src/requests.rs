//! The JSON request bodies of API v1, parsed exactly as their handlers
//! parse them, without a server, a store or a token. Public so that the
//! fuzz targets (`tests/fuzz/`) exercise the handlers' own code: a body
//! either passes every check the handler makes before it reaches the store
//! or gets the 400 the handler would answer.

use crate::errors::ApiError;
use crate::routes::{deploys, integrations, orgs, parse_body, projects};

/// A route that takes a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// `POST /api/v1/orgs`.
    CreateOrg,
    /// `POST /api/v1/orgs/{org}/tokens`.
    CreateToken,
    /// `POST /api/v1/orgs/{org}/projects`.
    CreateProject,
    /// `POST /api/v1/orgs/{org}/projects/{project}/code-deployments`.
    CreateCodeDeployment,
    /// `POST /api/v1/orgs/{org}/projects/{project}/deploys`.
    RegisterDeploy,
    /// `PUT /api/v1/orgs/{org}/integrations/{provider}`.
    PutIntegration,
    /// `PUT /api/v1/orgs/{org}/integrations/{provider}/default-build-server`.
    PutDefaultBuildServer,
}

impl RequestBody {
    /// Every route that takes a JSON body.
    pub const ALL: [RequestBody; 7] = [
        RequestBody::CreateOrg,
        RequestBody::CreateToken,
        RequestBody::CreateProject,
        RequestBody::CreateCodeDeployment,
        RequestBody::RegisterDeploy,
        RequestBody::PutIntegration,
        RequestBody::PutDefaultBuildServer,
    ];
}

/// What a body that passed its handler's checks carries beyond its type,
/// for callers (the fuzz targets) that check properties of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckedBody {
    /// `RegisterDeploy`: `deployed_at` normalised to RFC 3339 UTC, if given.
    pub deployed_at: Option<String>,
    /// `PutIntegration`: the base URL the handler would use
    /// (`default_base_url` when the body names none).
    pub base_url: Option<String>,
}

/// Parses `bytes` as `route`'s body and runs the checks its handler makes
/// before the store or a provider is called. `default_base_url` stands in
/// for the provider's default in `PutIntegration`.
pub fn check_request_body(
    route: RequestBody,
    bytes: &[u8],
    default_base_url: &str,
) -> Result<CheckedBody, ApiError> {
    use RequestBody as R;
    let mut checked = CheckedBody::default();
    match route {
        R::CreateOrg => drop(parse_body::<orgs::NewOrg>(bytes)?),
        R::CreateToken => {
            orgs::scope(&parse_body::<orgs::NewTokenReq>(bytes)?.scope)?;
        }
        R::CreateProject => drop(parse_body::<projects::NewProject>(bytes)?),
        R::CreateCodeDeployment => drop(parse_body::<buildsnap_store::NewCodeDeployment>(bytes)?),
        R::RegisterDeploy => {
            let b = parse_body::<deploys::RegisterReq>(bytes)?;
            checked.deployed_at = deploys::deployed_at(&b)?.map(buildsnap_store::ts::format);
        }
        R::PutIntegration => {
            let b = parse_body::<integrations::EnableReq>(bytes)?;
            checked.base_url = Some(integrations::enable_checks(&b, default_base_url)?);
        }
        R::PutDefaultBuildServer => drop(parse_body::<integrations::DefaultReq>(bytes)?),
    }
    Ok(checked)
}
