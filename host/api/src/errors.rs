//! The error shape of the API: `{"error": {"code", "message"}}`, and the
//! mapping of store errors onto status codes.

use buildsnap_store::StoreError;
use hyper::StatusCode;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// snake_case code.
    pub code: &'static str,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub(crate) fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown bearer token: send `Authorization: Bearer <token>`",
        )
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub(crate) fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; see the server log",
        )
    }

    pub(crate) fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is larger than 1 MiB",
        )
    }

    pub(crate) fn unknown_provider(id: &str) -> ApiError {
        ApiError::not_found(
            "unknown_provider",
            format!("no provider {id:?} is loaded; GET /api/v1/providers lists them"),
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            StoreError::InvalidSlug(_) => ApiError::new(S::BAD_REQUEST, "invalid_slug", msg),
            StoreError::InvalidSha(_) => ApiError::new(S::BAD_REQUEST, "invalid_sha", msg),
            StoreError::Invalid(_) => ApiError::new(S::BAD_REQUEST, "invalid_request", msg),
            StoreError::InvalidDeployedAt(_) => {
                ApiError::new(S::BAD_REQUEST, "invalid_deployed_at", msg)
            }
            StoreError::OrgNotFound(_) => ApiError::new(S::NOT_FOUND, "org_not_found", msg),
            StoreError::ProjectNotFound(_) => ApiError::new(S::NOT_FOUND, "project_not_found", msg),
            StoreError::DeployNotFound(_) => ApiError::new(S::NOT_FOUND, "deploy_not_found", msg),
            StoreError::SlugTaken { .. } => ApiError::new(S::CONFLICT, "slug_taken", msg),
            StoreError::IntegrationDisabled { .. } => {
                ApiError::new(S::CONFLICT, "integration_disabled", msg)
            }
            StoreError::NoCodeDeployment { .. } => {
                ApiError::new(S::CONFLICT, "no_code_deployment", msg)
            }
            StoreError::AmbiguousCodeDeployment { .. } => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, "ambiguous_code_deployment", msg)
            }
            StoreError::UnknownCodeDeployment { .. } => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, "unknown_code_deployment", msg)
            }
            other => {
                // Store internals are logged, not shown: they may name paths.
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}
