//! A small client of buildsnap's HTTP API for the pipeline commands: the
//! org token on every request, error answers turned into [`ClientError`]s
//! that say what the server said.

use std::time::Duration;

use serde_json::Value;

/// The environment variable the pipeline commands read the org token from.
pub const TOKEN_ENV: &str = "BUILDSNAP_TOKEN";

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `BUILDSNAP_TOKEN` is unset or empty.
    #[error(
        "set {TOKEN_ENV} to an org token (scope `all`; `register_deploy` can register but not read)"
    )]
    NoToken,
    /// The server URL is not an http(s) URL.
    #[error("--server {0:?} is not an http:// or https:// URL")]
    BadServer(String),
    /// The server could not be reached (or did not answer in time).
    #[error("could not reach buildsnap at {server}: {reason}")]
    Unreachable {
        /// The server URL.
        server: String,
        /// The transport's reason.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's error code.
        code: String,
        /// The API's message.
        message: String,
    },
}

/// The API of one server, for one org, with one token.
pub struct ApiClient {
    http: reqwest::Client,
    server: String,
    org: String,
    token: String,
}

impl ApiClient {
    /// A client of `server` for `org`, the token from [`TOKEN_ENV`].
    pub fn from_env(server: &str, org: &str) -> Result<ApiClient, ClientError> {
        let token = std::env::var(TOKEN_ENV).unwrap_or_default();
        if token.trim().is_empty() {
            return Err(ClientError::NoToken);
        }
        ApiClient::new(server, org, token.trim().to_string())
    }

    /// A client of `server` for `org` with `token`.
    pub fn new(server: &str, org: &str, token: String) -> Result<ApiClient, ClientError> {
        let server = server.trim_end_matches('/').to_string();
        let ok = reqwest::Url::parse(&server)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(ClientError::BadServer(server));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("buildsnap-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Unreachable {
                server: server.clone(),
                reason: e.to_string(),
            })?;
        Ok(ApiClient {
            http,
            server,
            org: org.to_string(),
            token,
        })
    }

    /// `/api/v1/orgs/{org}` + `rest`, on the server.
    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/orgs/{}{rest}", self.server, percent(&self.org))
    }

    /// `GET` of an org route; `timeout` bounds the whole exchange.
    pub async fn get(&self, rest: &str, timeout: Duration) -> Result<Value, ClientError> {
        let req = self.http.get(self.url(rest)).timeout(timeout);
        self.send(req).await
    }

    /// `POST` of `body` to an org route.
    pub async fn post(&self, rest: &str, body: &Value) -> Result<Value, ClientError> {
        let req = self
            .http
            .post(self.url(rest))
            .json(body)
            .timeout(Duration::from_secs(60));
        self.send(req).await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            server: self.server.clone(),
            reason: without_url(&e),
        };
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(unreachable)?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let err = &body["error"];
        Err(ClientError::Api {
            status,
            code: err["code"].as_str().unwrap_or("http_error").to_string(),
            message: err["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("the server answered HTTP {status}")),
        })
    }
}

/// A transport error's text without the URL reqwest appends (the server is
/// named once, by the caller).
fn without_url(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut deepest = e.to_string();
    while let Some(s) = source {
        deepest = s.to_string();
        source = s.source();
    }
    if e.is_timeout() {
        return format!("timed out ({deepest})");
    }
    deepest
}

/// Percent-encodes one path segment (slugs and SHAs never need it; a typo
/// must not turn into another path).
pub(crate) fn percent(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_must_be_http_urls_and_segments_stay_segments() {
        for bad in ["", "buildsnap.example.com", "ftp://x", "http://"] {
            assert!(matches!(
                ApiClient::new(bad, "acme", "t".into()),
                Err(ClientError::BadServer(_))
            ));
        }
        let c = ApiClient::new("https://b.example.com/", "acme", "t".into()).unwrap();
        assert_eq!(
            c.url("/deploys"),
            "https://b.example.com/api/v1/orgs/acme/deploys"
        );
        assert_eq!(percent("a/b c"), "a%2Fb%20c");
    }
}
