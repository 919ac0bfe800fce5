//! Test support: a fake `HostServices`, a real server on 127.0.0.1:0, an HTTP client.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use buildsnap_api::{Account, App, ProviderToken};
use buildsnap_services::{
    CommitBuilds, CommitBuildsError, HostServices, ProviderInfo, ValidateError, WebhookAck,
    WebhookError, WebhookRequest,
};
use buildsnap_store::{SecretKey, Store};
use serde_json::Value;

pub const ADMIN: &str = "admin-token-for-tests-0123456789";

/// Fake host services (the host's real ones are tested in `host/tests`).
/// Deploy registrations notify `deploys`; disables are recorded in
/// `disabled`. Fake provider plugins: Tokens starting with `good-` are accepted, `slow-`
/// ones after a delay; anything else is rejected with a reason. A base URL
/// containing `unreachable` cannot be reached; origins other than the
/// defaults and `https://ci.granted.example` are not allowed.
/// Webhooks: orgs whose slug starts with `nosecret` have no webhook secret;
/// for the others the signature `v1=valid` is the right one.
#[derive(Default)]
pub struct FakeServices {
    pub validations: AtomicUsize,
    /// Notified once per registration that queued a capture.
    pub deploys: Arc<tokio::sync::Notify>,
    /// (org, provider) of each `integration_disabled`, in order.
    pub disabled: std::sync::Mutex<Vec<(String, String)>>,
    /// Commit builds: each `commit_builds` call answers the next status
    /// list (one build per status, named `b0`, `b1`...), the last one
    /// again once the list is used up; empty: no builds. Project `nobs` has
    /// no build server; project `badtoken`'s provider rejects the token.
    pub commit_answers: std::sync::Mutex<Vec<Vec<buildsnap_domain::Status>>>,
    /// How many `commit_builds` calls were made.
    pub commit_calls: AtomicUsize,
}

pub fn infos() -> Vec<ProviderInfo> {
    vec![
        ProviderInfo {
            id: "circleci".into(),
            name: "CircleCI".into(),
            version: "0.1.0".into(),
            api_version: "0.1.0".into(),
            token_help_url: "https://app.circleci.com/settings/user/tokens".into(),
            status: "ok".into(),
            default_base_url: "https://circleci.com".into(),
        },
        ProviderInfo {
            id: "otherci".into(),
            name: "OtherCI".into(),
            version: "1.2.3".into(),
            api_version: "0.1.0".into(),
            token_help_url: "https://otherci.example/tokens".into(),
            status: "ok".into(),
            default_base_url: "https://otherci.example".into(),
        },
    ]
}

#[async_trait::async_trait]
impl HostServices for FakeServices {
    fn providers(&self) -> Vec<ProviderInfo> {
        infos()
    }

    fn check_base_url(&self, provider: &str, base_url: &str) -> Result<(), String> {
        let default = infos()
            .into_iter()
            .find(|p| p.id == provider)
            .map(|p| p.default_base_url)
            .unwrap_or_default();
        let granted = [
            "https://ci.granted.example",
            "http://unreachable.granted.example",
            "https://broken.granted.example",
            "https://redirect.granted.example",
        ];
        if base_url.starts_with(&default) || granted.iter().any(|g| base_url.starts_with(g)) {
            Ok(())
        } else {
            Err(format!(
                "{base_url} is neither {default} nor granted by the operator"
            ))
        }
    }

    async fn validate(
        &self,
        _provider: &str,
        base_url: &str,
        token: &ProviderToken,
    ) -> Result<Account, ValidateError> {
        self.validations.fetch_add(1, Ordering::SeqCst);
        if base_url.contains("unreachable") {
            return Err(ValidateError::Unreachable("connection refused".into()));
        }
        if base_url.contains("redirect") {
            return Err(ValidateError::HostNotAllowed(
                "redirected to https://elsewhere.example, which BUILDSNAP_ALLOW_HOSTS does not grant".into(),
            ));
        }
        if base_url.contains("broken") {
            return Err(ValidateError::Other(
                "plugin trapped: unreachable code".into(),
            ));
        }
        let t = token.expose();
        if t.starts_with("slow-") {
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
        if t.starts_with("good-") || t.starts_with("slow-") {
            Ok(Account {
                id: "u-1".into(),
                login: "octo".into(),
                name: "Octo Cat".into(),
            })
        } else {
            Err(ValidateError::InvalidCredentials(
                "Invalid token provided.".into(),
            ))
        }
    }

    fn deploy_registered(&self, _org: &str) {
        self.deploys.notify_one();
    }

    fn integration_disabled(&self, org: &str, provider: &str) {
        self.disabled
            .lock()
            .unwrap()
            .push((org.to_string(), provider.to_string()));
    }

    async fn webhook_received(
        &self,
        _provider: &str,
        org: &str,
        req: WebhookRequest,
    ) -> Result<WebhookAck, WebhookError> {
        // As the host does for an org whose integration has no webhook secret.
        if org.starts_with("nosecret") {
            return Err(WebhookError::NotConfigured(format!(
                "no webhook secret is configured for {org}"
            )));
        }
        let sig = req
            .headers
            .iter()
            .find(|(k, _)| k == "circleci-signature")
            .map(|(_, v)| v.as_str());
        match sig {
            Some("v1=valid") => Ok(WebhookAck {
                id: format!("{org}-{}", req.body.len()),
                kind: "workflow-completed".into(),
                duplicate: false,
            }),
            Some("v1=unsupported") => {
                Err(WebhookError::Unsupported("ping events are ignored".into()))
            }
            _ => Err(WebhookError::BadSignature(
                "signature does not match".into(),
            )),
        }
    }

    fn check_alert_url(&self, url: &str) -> Result<(), String> {
        if url.starts_with("https://hooks.granted.example/") || url.starts_with("http://127.0.0.1:")
        {
            Ok(())
        } else {
            Err(format!("{url} is not granted by BUILDSNAP_ALLOW_HOSTS"))
        }
    }

    async fn commit_builds(
        &self,
        _org: &str,
        project: &str,
        _code_deployment: Option<&str>,
        sha: &str,
        _max_age: Duration,
    ) -> Result<CommitBuilds, CommitBuildsError> {
        match project {
            "nobs" => {
                return Err(CommitBuildsError::NoBuildServer(
                    "project \"nobs\" has no build server".into(),
                ));
            }
            "badtoken" => return Err(CommitBuildsError::Unauthorized("Invalid token".into())),
            _ => {}
        }
        let n = self.commit_calls.fetch_add(1, Ordering::SeqCst);
        let answers = self.commit_answers.lock().unwrap();
        let statuses = answers
            .get(n)
            .or(answers.last())
            .cloned()
            .unwrap_or_default();
        let builds = statuses
            .iter()
            .enumerate()
            .map(|(i, st)| buildsnap_domain::FrozenBuild {
                attempt: 1,
                parent_id: None,
                branch: Some("main".into()),
                created_at: "2025-06-01T11:00:00Z".into(),
                id: format!("b{i}"),
                jobs: vec![],
                jobs_complete: true,
                name: format!("b{i}"),
                pipeline_id: "p1".into(),
                pipeline_number: Some(1),
                provider_status: st.as_str().into(),
                sha: sha.into(),
                status: *st,
                stopped_at: None,
                tag: None,
                url: None,
            })
            .collect::<Vec<_>>();
        Ok(CommitBuilds {
            explain: builds.is_empty().then(|| "no builds".to_string()),
            builds,
            provider: "circleci".into(),
            build_project: "gh/acme/web".into(),
        })
    }
}

pub struct Server {
    pub base: String,
    pub store: Store,
    pub services: Arc<FakeServices>,
    /// `services.deploys`.
    pub capture_notify: Arc<tokio::sync::Notify>,
    pub dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(dir: &Path) -> Server {
        Server::start_with(dir, |b| b).await
    }

    /// Like [`Server::start`], with settings of the builder changed by `f`.
    pub async fn start_with(
        dir: &Path,
        f: impl FnOnce(buildsnap_api::AppBuilder) -> buildsnap_api::AppBuilder,
    ) -> Server {
        let key = SecretKey::load_or_create(dir, None).unwrap();
        let store = Store::open(dir, key).unwrap();
        Server::start_on(dir, store, f).await
    }

    /// Like [`Server::start_with`], on a store opened by the caller (a
    /// PostgreSQL one, say); `dir` is only remembered.
    pub async fn start_on(
        dir: &Path,
        store: Store,
        f: impl FnOnce(buildsnap_api::AppBuilder) -> buildsnap_api::AppBuilder,
    ) -> Server {
        let admin = store.clone();
        tokio::task::spawn_blocking(move || admin.bootstrap_admin(Some(ADMIN)).unwrap())
            .await
            .unwrap();
        let services = Arc::new(FakeServices::default());
        let capture_notify = services.deploys.clone();
        let app = f(App::builder()
            .store(store.clone())
            .services(services.clone()))
        .build()
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        Server {
            base: format!("http://{addr}"),
            store,
            services,
            capture_notify,
            dir: dir.to_path_buf(),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        self.handle.take().unwrap().await.unwrap().unwrap();
    }

    pub fn trigger_shutdown(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let _ = self.shutdown.take().unwrap().send(());
        self.handle.take().unwrap()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

pub async fn call(
    c: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut rb = c.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        body,
        text,
        headers,
    }
}

/// Asserts the contract's error shape and code.
pub fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(
        r.status, status,
        "expected {status} {code}, got {}: {}",
        r.status, r.text
    );
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    let msg = r.body["error"]["message"]
        .as_str()
        .expect("error.message is a string");
    assert!(!msg.is_empty());
    assert_eq!(
        r.body.as_object().unwrap().len(),
        1,
        "only `error` at top level: {}",
        r.text
    );
}

pub mod world;
// Not every test binary uses the shared world.
#[allow(unused_imports)]
pub use world::*;
