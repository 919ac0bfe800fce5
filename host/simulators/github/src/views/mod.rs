//! JSON views: scenario objects rendered the way GitHub's REST API serves them.
//!
//! Every view is checked against the vendored OpenAPI description by the fidelity tests;
//! keep shapes there, not here. URLs in bodies point back at the simulator (`api`), so a
//! client following `jobs_url` or a `Link` header stays on it; web links use `html`.

pub mod account;
pub mod runs;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};

/// Where links in bodies point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Urls {
    /// API root without a trailing slash: `http://127.0.0.1:PORT`, or `.../api/v3` in
    /// Enterprise mode.
    pub api: String,
    /// Web root: `https://github.com`, or the Enterprise host.
    pub html: String,
    /// Avatar root.
    pub avatars: String,
}

impl Urls {
    /// `{api}/repos/{full_name}`.
    pub fn repo_api(&self, full_name: &str) -> String {
        format!("{}/repos/{full_name}", self.api)
    }

    /// `{html}/{full_name}`.
    pub fn repo_html(&self, full_name: &str) -> String {
        format!("{}/{full_name}", self.html)
    }
}

/// GitHub's timestamp format: seconds, `Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A GraphQL-style node id (`base64("<kind>:<id>")`); opaque to clients, stable per object.
pub fn node_id(kind: &str, id: impl std::fmt::Display) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

/// A stable 40-hex SHA derived from `key` (tree ids and the like).
pub fn derived_sha(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))[..40].to_owned()
}
