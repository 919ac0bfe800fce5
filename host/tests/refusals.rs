//! What the runtime refuses before anything leaves the host (issue 18):
//! origins a plugins-folder plugin was never granted, credentials in a
//! base URL or a plugin's URL, tokens that cannot go in a header, and
//! plugin URLs whose path has dot segments.

mod support;

use std::sync::Arc;

use buildsnap::runtime::origin::{AllowList, Origin};
use buildsnap::runtime::wit::ProviderError;
use buildsnap::runtime::{CallError, Credential, Integration, Plugin, Provenance, Registry};
use support::*;
use url::Url;

fn integration(base: &str, gets: &[String], token: Option<&str>) -> Integration {
    Integration {
        org: None,
        base_url: Url::parse(base).unwrap(),
        settings: gets
            .iter()
            .map(|u| ("get".to_string(), u.clone()))
            .collect(),
        credential: token.map(Credential::new),
    }
}

/// The echo guest as the embedding program hands it in (bundled).
async fn bundled_echo(grants: &str) -> Arc<Plugin> {
    Registry::builder()
        .builtin(false)
        .grants(AllowList::parse(grants).unwrap())
        .source(source("echo"))
        .build()
        .await
        .unwrap()
        .get("echo")
        .unwrap()
}

/// `list-projects` of echo: the outcome of each `get`.
async fn outcomes(echo: &Plugin, integ: &Integration) -> Vec<String> {
    echo.all_projects(integ)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

#[tokio::test]
async fn a_plugins_folder_plugin_reaches_only_origins_the_operator_granted() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start(|_| respond(200, "ok")).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("echo.wasm"), guest("echo")).unwrap();
    let registry = Registry::builder()
        .builtin(false)
        .plugins_dir(dir.path())
        .grants(AllowList::parse(&server.origin()).unwrap())
        .build()
        .await
        .unwrap();
    let echo = registry.get("echo").unwrap();
    assert_eq!(echo.info.provenance, Provenance::PluginsFolder);

    // Its declared default origin is not granted by being its default...
    let default = Origin::parse("https://example.invalid").unwrap();
    assert_eq!(echo.ungranted_origins(), vec![default.clone()]);
    let err = echo
        .check_base_url(&Url::parse("https://example.invalid").unwrap())
        .unwrap_err();
    assert!(matches!(err, CallError::HostNotAllowed(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("plugins folder") && text.contains("BUILDSNAP_ALLOW_HOSTS"),
        "{text}"
    );
    // ...nor reachable from a call on a granted integration origin.
    let got = outcomes(
        &echo,
        &integration(
            &server.origin(),
            &["https://example.invalid/x".into(), server.url("/fine")],
            None,
        ),
    )
    .await;
    assert!(
        got[0].starts_with("error denied:") && got[0].contains("not granted"),
        "{got:?}"
    );
    assert_eq!(got[1], "status 200 ok");

    // The load said so, naming the origins and the setting.
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("BUILDSNAP_ALLOW_HOSTS="))
        .unwrap_or_else(|| panic!("no load-time line about ungranted origins in {text}"));
    assert!(
        line.contains("WARN") && line.contains("plugins folder"),
        "{line}"
    );
    assert!(
        line.contains("BUILDSNAP_ALLOW_HOSTS=https://example.invalid:443"),
        "{line}"
    );

    // Granted by the operator, it is reachable.
    let granted = Registry::builder()
        .builtin(false)
        .plugins_dir(dir.path())
        .grants(AllowList::parse("https://example.invalid").unwrap())
        .build()
        .await
        .unwrap()
        .get("echo")
        .unwrap();
    assert!(granted.ungranted_origins().is_empty());
    assert!(
        granted
            .check_base_url(&Url::parse("https://example.invalid").unwrap())
            .is_ok()
    );
    // A bundled plugin's own default stays granted.
    let bundled = bundled_echo("").await;
    assert_eq!(bundled.info.provenance, Provenance::Bundled);
    assert!(bundled.ungranted_origins().is_empty());
    assert!(
        bundled
            .check_base_url(&Url::parse("https://example.invalid").unwrap())
            .is_ok()
    );
}

#[tokio::test]
async fn a_base_url_with_credentials_is_refused_without_echoing_them() {
    let server = TestServer::start(|_| respond(200, "me")).await;
    let echo = bundled_echo(&server.origin()).await;
    let with_credentials = format!("http://user:hunter2@127.0.0.1:{}", server.port);
    for base in [
        with_credentials.clone(),
        format!("http://user@127.0.0.1:{}", server.port),
    ] {
        let err = echo
            .check_base_url(&Url::parse(&base).unwrap())
            .unwrap_err();
        assert!(matches!(err, CallError::HostNotAllowed(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("must not contain credentials") && text.contains("token"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
    // Every call checks it too, before anything is sent.
    let err = echo
        .validate_credentials(&integration(&with_credentials, &[], Some("tok")))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::HostNotAllowed(_)), "{err:?}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_token_with_a_line_break_is_an_unusable_credential_not_a_refused_origin() {
    let server = TestServer::start(|_| respond(200, "me")).await;
    let echo = bundled_echo(&server.origin()).await;
    let err = echo
        .validate_credentials(&integration(
            &server.origin(),
            &[],
            Some("s3cr3t\r\nX-Injected: 1"),
        ))
        .await
        .unwrap_err();
    match &err {
        CallError::Provider(e) => match &e.0 {
            ProviderError::Unauthorized(reason) => assert!(
                reason.contains(
                    "the token contains characters that cannot be sent in an HTTP header"
                ),
                "{reason}"
            ),
            other => panic!("expected unauthorized, got {other:?}"),
        },
        other => panic!("expected a credential error, got {other:?}"),
    }
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_plugin_url_with_dot_segments_or_credentials_never_leaves_the_host() {
    let server = TestServer::start(|_| respond(200, "should never be reached")).await;
    let echo = bundled_echo(&server.origin()).await;
    let got = outcomes(
        &echo,
        &integration(
            &server.origin(),
            &[
                // The CircleCI slug attack of issue 18 (F6), as sent.
                server.url("/api/v2/project/gh/../../../../internal/admin%3Fx%3D1%23/pipeline"),
                server.url("/api/%2e%2e/admin"),
                server.url("/api/./me"),
                format!("http://user:pw@127.0.0.1:{}/me", server.port),
            ],
            Some("tok-never-sent"),
        ),
    )
    .await;
    for outcome in &got[..3] {
        assert!(
            outcome.starts_with("error denied:") && outcome.contains("`.` or `..` segment"),
            "{got:?}"
        );
    }
    assert!(
        got[3].starts_with("error denied:") && got[3].contains("credentials"),
        "{got:?}"
    );
    assert!(!got[3].contains(":pw@"), "{got:?}");
    assert_eq!(
        server.connections(),
        0,
        "a refused request reached the server"
    );
}
