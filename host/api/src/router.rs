//! The route table: one list used for dispatch, for the metrics' route labels,
//! and (in tests) for checking the OpenAPI document.

use hyper::Method;

/// Every endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteId {
    Healthz,
    Metrics,
    OpenApi,
    Providers,
    CreateOrg,
    CreateToken,
    ListIntegrations,
    GetIntegration,
    PutIntegration,
    DeleteIntegration,
    PutDefaultBuildServer,
    DeleteDefaultBuildServer,
    CreateProject,
    ListProjects,
    CreateCodeDeployment,
    RegisterDeploy,
    ListDeploys,
    GetDeploy,
    GetDeployBuilds,
    Webhook,
    /// The web page (`routes/web.rs`): not part of the HTTP API, so neither
    /// authenticated nor listed in the OpenAPI document.
    WebIndex,
    WebScript,
    WebStyle,
    WebIcon,
}

impl RouteId {
    /// A route of the web page rather than of the HTTP API.
    pub(crate) fn is_web_page(self) -> bool {
        matches!(
            self,
            RouteId::WebIndex | RouteId::WebScript | RouteId::WebStyle | RouteId::WebIcon
        )
    }
}

/// `(method, path template, route)`. Templates use `{name}` for one segment.
pub(crate) const ROUTES: &[(Method, &str, RouteId)] = &[
    (Method::GET, "/healthz", RouteId::Healthz),
    (Method::GET, "/metrics", RouteId::Metrics),
    (Method::GET, "/api/v1/openapi.json", RouteId::OpenApi),
    (Method::GET, "/api/v1/providers", RouteId::Providers),
    (Method::POST, "/api/v1/orgs", RouteId::CreateOrg),
    (
        Method::POST,
        "/api/v1/orgs/{org}/tokens",
        RouteId::CreateToken,
    ),
    (
        Method::GET,
        "/api/v1/orgs/{org}/integrations",
        RouteId::ListIntegrations,
    ),
    (
        Method::GET,
        "/api/v1/orgs/{org}/integrations/{provider}",
        RouteId::GetIntegration,
    ),
    (
        Method::PUT,
        "/api/v1/orgs/{org}/integrations/{provider}",
        RouteId::PutIntegration,
    ),
    (
        Method::DELETE,
        "/api/v1/orgs/{org}/integrations/{provider}",
        RouteId::DeleteIntegration,
    ),
    (
        Method::PUT,
        "/api/v1/orgs/{org}/integrations/{provider}/default-build-server",
        RouteId::PutDefaultBuildServer,
    ),
    (
        Method::DELETE,
        "/api/v1/orgs/{org}/integrations/{provider}/default-build-server/{project}",
        RouteId::DeleteDefaultBuildServer,
    ),
    (
        Method::POST,
        "/api/v1/orgs/{org}/projects",
        RouteId::CreateProject,
    ),
    (
        Method::GET,
        "/api/v1/orgs/{org}/projects",
        RouteId::ListProjects,
    ),
    (
        Method::POST,
        "/api/v1/orgs/{org}/projects/{project}/code-deployments",
        RouteId::CreateCodeDeployment,
    ),
    (
        Method::POST,
        "/api/v1/orgs/{org}/projects/{project}/deploys",
        RouteId::RegisterDeploy,
    ),
    (
        Method::GET,
        "/api/v1/orgs/{org}/deploys",
        RouteId::ListDeploys,
    ),
    (
        Method::GET,
        "/api/v1/orgs/{org}/deploys/{id}",
        RouteId::GetDeploy,
    ),
    (
        Method::GET,
        "/api/v1/orgs/{org}/deploys/{id}/builds",
        RouteId::GetDeployBuilds,
    ),
    (
        Method::POST,
        "/api/v1/webhooks/{provider}/{org}",
        RouteId::Webhook,
    ),
    (Method::GET, "/", RouteId::WebIndex),
    (Method::GET, "/assets/app.js", RouteId::WebScript),
    (Method::GET, "/assets/app.css", RouteId::WebStyle),
    (Method::GET, "/assets/icon.svg", RouteId::WebIcon),
];

/// Result of matching a request.
pub(crate) enum Match {
    /// A route: its id, template and captured segments in order.
    Found {
        route: RouteId,
        template: &'static str,
        params: Vec<String>,
    },
    /// The path exists with other methods (for `Allow`).
    MethodNotAllowed { allow: Vec<Method> },
    /// No such path.
    NotFound,
}

fn match_template(template: &str, path: &str) -> Option<Vec<String>> {
    let mut t = template.split('/');
    let mut p = path.split('/');
    let mut params = Vec::new();
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if ts.starts_with('{') && ts.ends_with('}') {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push(percent_decode(ps)?);
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Decodes `%XX` escapes; `None` for malformed escapes or non-UTF-8 results.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Finds the route for `method` and `path` (path without the query string).
pub(crate) fn route(method: &Method, path: &str) -> Match {
    let mut allow = Vec::new();
    for (m, template, id) in ROUTES {
        if let Some(params) = match_template(template, path) {
            if m == method {
                return Match::Found {
                    route: *id,
                    template,
                    params,
                };
            }
            allow.push(m.clone());
        }
    }
    if allow.is_empty() {
        Match::NotFound
    } else {
        Match::MethodNotAllowed { allow }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates_and_captures() {
        match route(&Method::GET, "/api/v1/orgs/acme/deploys/12/builds") {
            Match::Found {
                route,
                params,
                template,
            } => {
                assert_eq!(route, RouteId::GetDeployBuilds);
                assert_eq!(params, vec!["acme", "12"]);
                assert_eq!(template, "/api/v1/orgs/{org}/deploys/{id}/builds");
            }
            _ => panic!("no match"),
        }
        assert!(
            matches!(route(&Method::PATCH, "/api/v1/orgs/a/projects"), Match::MethodNotAllowed { allow } if allow.len() == 2)
        );
        assert!(matches!(
            route(&Method::GET, "/api/v1/orgs//projects"),
            Match::NotFound
        ));
        assert!(matches!(
            route(&Method::GET, "/api/v1/orgs/a/projects/"),
            Match::NotFound
        ));
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("a%zz"), None);
    }
}
