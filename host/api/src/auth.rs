//! Bearer tokens and what each principal may do.
//!
//! Rules (contract: "a token of another org: 404 for another org's resources,
//! 403 for scope"): the admin token may act in every org; an org token sees
//! only its own org (any other org, existing or not, is answered exactly like a
//! missing one, so tokens cannot probe which orgs exist); within its org a
//! `register_deploy` token may only register deploys.

use buildsnap_store::{Principal, Scope};
use hyper::HeaderMap;

use crate::errors::ApiError;

/// What a route needs within an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Scope `all` (every org route but deploy registration).
    All,
    /// Scope `all` or `register_deploy`.
    RegisterDeploy,
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Checks that `p` may act on `org` with `need`.
pub(crate) fn require_org(p: &Principal, org: &str, need: Need) -> Result<(), ApiError> {
    match p {
        Principal::Admin => Ok(()),
        Principal::Org { org: own, scope } => {
            if own != org {
                return Err(ApiError::not_found(
                    "org_not_found",
                    format!("organisation {org:?} not found"),
                ));
            }
            match (need, scope) {
                (_, Scope::All) | (Need::RegisterDeploy, Scope::RegisterDeploy) => Ok(()),
                (Need::All, Scope::RegisterDeploy) => Err(ApiError::forbidden(
                    "this token has scope register_deploy: it may only register deploys \
                     (POST /api/v1/orgs/{org}/projects/{project}/deploys); use a token with scope all",
                )),
            }
        }
    }
}

/// Admin only.
pub(crate) fn require_admin(p: &Principal) -> Result<(), ApiError> {
    match p {
        Principal::Admin => Ok(()),
        Principal::Org { .. } => Err(ApiError::forbidden("only the admin token may do this")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn scopes_and_orgs() {
        let deploy = Principal::Org {
            org: "a".into(),
            scope: Scope::RegisterDeploy,
        };
        let all = Principal::Org {
            org: "a".into(),
            scope: Scope::All,
        };
        assert!(require_org(&deploy, "a", Need::RegisterDeploy).is_ok());
        assert_eq!(
            require_org(&deploy, "a", Need::All).unwrap_err().status,
            403
        );
        assert_eq!(
            require_org(&deploy, "b", Need::RegisterDeploy)
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(require_org(&all, "b", Need::All).unwrap_err().status, 404);
        assert!(require_org(&all, "a", Need::All).is_ok());
        assert!(require_org(&Principal::Admin, "zzz", Need::All).is_ok());
        assert_eq!(require_admin(&all).unwrap_err().status, 403);
    }
}
