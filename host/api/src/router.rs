//! The route table: one list used for dispatch, for the metrics' route labels,
//! and (in tests) for checking the OpenAPI document.

use std::sync::LazyLock;

use hyper::Method;

/// Every endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteId {
    Healthz,
    Readyz,
    Metrics,
    OpenApi,
    Providers,
    ProviderTokenHelp,
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
    GetCommitBuilds,
    CreateAlertHook,
    ListAlertHooks,
    DeleteAlertHook,
    ListAlertDeliveries,
    Webhook,
    /// The web page's document at `/` (`routes/web.rs`): not part of the
    /// HTTP API, so neither authenticated nor listed in the OpenAPI document.
    WebIndex,
    /// Any file of the web page under `/assets/` (a catch-all: the page's
    /// files are a directory, not one route each).
    WebAsset,
}

impl RouteId {
    /// A route of the web page rather than of the HTTP API.
    pub(crate) fn is_web_page(self) -> bool {
        matches!(self, RouteId::WebIndex | RouteId::WebAsset)
    }
}

/// `(method, path template, route)`. Templates use `{name}` for one segment
/// and `{*name}` for the rest of the path (one or more segments).
pub(crate) const ROUTES: &[(Method, &str, RouteId)] = &[
    (Method::GET, "/healthz", RouteId::Healthz),
    (Method::GET, "/readyz", RouteId::Readyz),
    (Method::GET, "/metrics", RouteId::Metrics),
    (Method::GET, "/api/v1/openapi.json", RouteId::OpenApi),
    (Method::GET, "/api/v1/providers", RouteId::Providers),
    (
        Method::GET,
        "/api/v1/providers/{provider}/token-help-url",
        RouteId::ProviderTokenHelp,
    ),
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
        Method::GET,
        "/api/v1/orgs/{org}/projects/{project}/commits/{sha}/builds",
        RouteId::GetCommitBuilds,
    ),
    (
        Method::POST,
        "/api/v1/orgs/{org}/alert-hooks",
        RouteId::CreateAlertHook,
    ),
    (
        Method::GET,
        "/api/v1/orgs/{org}/alert-hooks",
        RouteId::ListAlertHooks,
    ),
    (
        Method::DELETE,
        "/api/v1/orgs/{org}/alert-hooks/{id}",
        RouteId::DeleteAlertHook,
    ),
    (
        Method::GET,
        "/api/v1/orgs/{org}/alert-hooks/{id}/deliveries",
        RouteId::ListAlertDeliveries,
    ),
    (
        Method::POST,
        "/api/v1/webhooks/{provider}/{org}",
        RouteId::Webhook,
    ),
    (Method::GET, "/", RouteId::WebIndex),
    (Method::GET, "/assets/{*path}", RouteId::WebAsset),
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
            // from_str_radix alone would take `%+A` as 0x0A.
            if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The methods one path answers: method, route, template.
type Methods = Vec<(Method, RouteId, &'static str)>;

/// [`ROUTES`] as a radix tree (matchit, as used by axum): one walk of the
/// path whatever the number of routes, where trying every template in turn
/// cost a few per cent of the server's CPU on the hottest read. Each path
/// maps to its methods, for `405` with `Allow`.
static TREE: LazyLock<matchit::Router<Methods>> = LazyLock::new(|| {
    let mut paths: Vec<(&'static str, Methods)> = Vec::new();
    for (m, template, id) in ROUTES {
        match paths.iter_mut().find(|(t, _)| t == template) {
            Some((_, ms)) => ms.push((m.clone(), *id, template)),
            None => paths.push((template, vec![(m.clone(), *id, template)])),
        }
    }
    let mut tree = matchit::Router::new();
    for (template, methods) in paths {
        tree.insert(template, methods)
            .expect("route templates do not conflict");
    }
    tree
});

/// Finds the route for `method` and `path` (path without the query string).
/// A `{name}` matches one non-empty segment, still percent-encoded; the
/// captures are decoded here (`NotFound` when an escape is malformed).
pub(crate) fn route(method: &Method, path: &str) -> Match {
    let Ok(found) = TREE.at(path) else {
        return Match::NotFound;
    };
    // HEAD is GET without the body (RFC 9110, 9.3.2): every GET route
    // answers it; the server drops the body and keeps its length.
    let wanted = if *method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    match found.value.iter().find(|(m, _, _)| m == wanted) {
        Some((_, route, template)) => {
            let mut params = Vec::with_capacity(found.params.len());
            for (_, raw) in found.params.iter() {
                match percent_decode(raw) {
                    Some(p) => params.push(p),
                    None => return Match::NotFound,
                }
            }
            Match::Found {
                route: *route,
                template,
                params,
            }
        }
        None => {
            let mut allow: Vec<Method> = found.value.iter().map(|(m, _, _)| m.clone()).collect();
            if allow.contains(&Method::GET) {
                allow.push(Method::HEAD);
            }
            Match::MethodNotAllowed { allow }
        }
    }
}

/// The label of a method: the standard ones by name, any other as `OTHER`
/// (extension methods are client-chosen text; as labels they would let
/// clients grow the metrics without bound).
pub(crate) fn method_label(m: &hyper::Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
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
            matches!(route(&Method::PATCH, "/api/v1/orgs/a/projects"), Match::MethodNotAllowed { allow } if allow.len() == 3)
        );
        assert!(matches!(
            route(&Method::GET, "/api/v1/orgs//projects"),
            Match::NotFound
        ));
        assert!(matches!(
            route(&Method::GET, "/api/v1/orgs/a/projects/"),
            Match::NotFound
        ));
        assert!(matches!(
            route(&Method::GET, "/api/v1/orgs/a%zz/projects"),
            Match::NotFound
        ));
        match route(&Method::GET, "/api/v1/orgs/a%2Fb/projects") {
            Match::Found { params, .. } => assert_eq!(params, vec!["a/b"]),
            _ => panic!("an encoded slash stays inside its segment"),
        }
        assert!(matches!(
            route(&Method::GET, "/api/v1/nope"),
            Match::NotFound
        ));
        assert!(matches!(route(&Method::GET, "/healthz/x"), Match::NotFound));
        match route(&Method::GET, "/assets/views/deploys.js") {
            Match::Found { route, params, .. } => {
                assert_eq!(route, RouteId::WebAsset);
                assert_eq!(params, vec!["views/deploys.js"]);
            }
            _ => panic!("the catch-all takes every segment"),
        }
        assert!(matches!(route(&Method::GET, "/assets/"), Match::NotFound));
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("a%zz"), None);
        assert_eq!(percent_decode("a%+A"), None, "a sign is not a hex digit");
    }

    #[test]
    fn extension_methods_share_one_metrics_label() {
        assert_eq!(method_label(&Method::PUT), "PUT");
        let ext = Method::from_bytes(b"FROBNICATE").unwrap();
        assert_eq!(method_label(&ext), "OTHER");
    }
}
