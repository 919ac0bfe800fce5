//! `describe`: who this plugin is. Makes no HTTP request.

use crate::wit::{AuthScheme, Descriptor};

/// The cloud API origin, also the default base URL.
pub const CLOUD_BASE_URL: &str = "https://circleci.com";

/// The plugin's descriptor.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "circleci".into(),
        name: "CircleCI".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        token_help_url: "https://app.circleci.com/settings/user/tokens".into(),
        default_base_url: CLOUD_BASE_URL.into(),
        auth: AuthScheme::Header("Circle-Token".into()),
        origins: vec![CLOUD_BASE_URL.into()],
    }
}
