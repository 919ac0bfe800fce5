//! Outbound HTTP through a real guest (`echo`, `spy`) against real
//! loopback servers: origins, redirects, the auth header, retries, caps.

mod support;

use std::time::Duration;

use buildsnap::runtime::limits::PluginLimits;
use buildsnap::runtime::origin::AllowList;
use buildsnap::runtime::wit::ProviderError;
use buildsnap::runtime::{CallError, Credential, Integration, Plugin, Registry};
use support::*;
use url::Url;

const TOKEN: &str = "tok-7f3a9c-never-show-me";

async fn plugin(name: &str, grants: &str, limits: PluginLimits) -> std::sync::Arc<Plugin> {
    let registry = Registry::builder()
        .builtin(false)
        .limits(limits)
        .grants(AllowList::parse(grants).unwrap())
        .source(source(name))
        .build()
        .await
        .unwrap();
    registry.get(name).unwrap()
}

fn integration(base: &str, settings: &[(&str, String)], token: Option<&str>) -> Integration {
    Integration {
        org: None,
        base_url: Url::parse(base).unwrap(),
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        credential: token.map(Credential::new),
    }
}

/// `list-projects` of echo: (url, outcome) pairs.
async fn fetch(plugin: &Plugin, integ: &Integration) -> Vec<(String, String)> {
    plugin
        .all_projects(integ)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.slug, p.name))
        .collect()
}

#[tokio::test]
async fn ungranted_origin_is_denied_before_any_connection() {
    let granted = TestServer::start(|_| respond(200, "ok")).await;
    let forbidden = TestServer::start(|_| respond(200, "should never be reached")).await;
    let echo = plugin("echo", &granted.origin(), PluginLimits::default()).await;
    let integ = integration(
        &granted.origin(),
        &[
            ("get", forbidden.url("/secret")),
            ("get", granted.url("/fine")),
        ],
        None,
    );
    let results = fetch(&echo, &integ).await;
    assert!(results[0].1.starts_with("error denied:"), "{results:?}");
    assert!(
        results[0]
            .1
            .contains(&forbidden.origin().replace("http://", "")),
        "the reason names the origin: {results:?}"
    );
    assert_eq!(results[1].1, "status 200 ok");
    assert_eq!(
        forbidden.connections(),
        0,
        "the forbidden origin saw a connection"
    );
}

#[tokio::test]
async fn redirect_to_ungranted_origin_is_denied() {
    let forbidden = TestServer::start(|_| respond(200, "should never be reached")).await;
    let target = forbidden.url("/stolen");
    let granted = TestServer::start(move |seen| {
        if seen.path == "/hop" {
            hyper::Response::builder()
                .status(302)
                .header("location", target.as_str())
                .body(Default::default())
                .unwrap()
        } else {
            respond(200, "landed")
        }
    })
    .await;
    let echo = plugin("echo", &granted.origin(), PluginLimits::default()).await;
    let integ = integration(
        &granted.origin(),
        &[("get", granted.url("/hop"))],
        Some(TOKEN),
    );
    let results = fetch(&echo, &integ).await;
    assert!(results[0].1.starts_with("error denied:"), "{results:?}");
    assert_eq!(forbidden.connections(), 0);
}

#[tokio::test]
async fn same_origin_redirect_is_followed() {
    let server = TestServer::start(|seen| match seen.path.as_str() {
        "/old" => hyper::Response::builder()
            .status(301)
            .header("location", "/new")
            .body(Default::default())
            .unwrap(),
        _ => respond(200, "moved here"),
    })
    .await;
    let echo = plugin("echo", &server.origin(), PluginLimits::default()).await;
    let results = fetch(
        &echo,
        &integration(&server.origin(), &[("get", server.url("/old"))], None),
    )
    .await;
    assert_eq!(results[0].1, "status 200 moved here");
}

#[tokio::test]
async fn plugin_never_observes_the_token_but_requests_carry_it() {
    // A hostile server reflects the token back in a header and the body.
    let server = TestServer::start(|seen| {
        let reflected = header(seen, "x-spy-token").unwrap_or("").to_string();
        hyper::Response::builder()
            .status(200)
            .header("x-reflected", reflected.as_str())
            .body(http_body_util::Full::new(bytes::Bytes::from(format!(
                "you sent {reflected}"
            ))))
            .unwrap()
    })
    .await;
    let spy = plugin("spy", &server.origin(), PluginLimits::default()).await;
    assert!(spy.info.uses_wasi);
    let report = spy
        .all_projects(&integration(
            &server.origin(),
            &[("team", "blue".into())],
            Some(TOKEN),
        ))
        .await
        .unwrap();
    let all = format!("{report:?}");
    assert!(!all.contains(TOKEN), "the plugin observed the token: {all}");
    let get = |key: &str| {
        report
            .iter()
            .find(|p| p.slug == key)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("http.status"), "200");
    assert!(
        get("http.body").contains("[redacted]"),
        "{}",
        get("http.body")
    );
    assert_eq!(get("context.setting.team"), "blue");
    // WASI grants nothing.
    assert_eq!(get("wasi.env"), "[]");
    assert_eq!(get("wasi.args"), "[]");
    assert_eq!(get("wasi.cwd"), "None");
    assert_eq!(get("wasi.preopens"), "0");
    // ...while the request to the integration's origin was authenticated.
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(header(&seen[0], "x-spy-token"), Some(TOKEN));
}

#[tokio::test]
async fn auth_header_only_goes_to_the_integration_origin() {
    let integration_server = TestServer::start(|_| respond(200, "me")).await;
    let other = TestServer::start(|_| respond(200, "other")).await;
    let grants = format!("{},{}", integration_server.origin(), other.origin());
    // The echo plugin declares only its default origin; the second granted
    // origin is not declared, so it is refused as well.
    let echo = plugin("echo", &grants, PluginLimits::default()).await;
    let integ = integration(
        &integration_server.origin(),
        &[
            ("get", integration_server.url("/a")),
            ("get", other.url("/b")),
        ],
        Some(TOKEN),
    );
    let results = fetch(&echo, &integ).await;
    assert_eq!(results[0].1, "status 200 me");
    assert!(results[1].1.contains("did not declare"), "{results:?}");
    assert_eq!(
        header(&integration_server.seen()[0], "x-echo-token"),
        Some(TOKEN)
    );
    assert_eq!(other.connections(), 0);
}

#[tokio::test]
async fn base_url_outside_the_grants_is_refused() {
    let echo = plugin("echo", "", PluginLimits::default()).await;
    let err = echo
        .validate_credentials(&integration("http://127.0.0.1:9", &[], Some(TOKEN)))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::HostNotAllowed(_)), "{err:?}");
    assert!(err.to_string().contains("BUILDSNAP_ALLOW_HOSTS"));
}

#[tokio::test]
async fn retries_429_after_retry_after_and_5xx_with_backoff() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let server = TestServer::start(move |seen| match seen.path.as_str() {
        "/limited" => {
            if h.fetch_add(1, Ordering::SeqCst) == 0 {
                hyper::Response::builder()
                    .status(429)
                    .header("retry-after", "1")
                    .body("Rate limited.".to_string().into())
                    .unwrap()
            } else {
                respond(200, "finally")
            }
        }
        _ => respond(503, "down"),
    })
    .await;
    let echo = plugin("echo", &server.origin(), PluginLimits::default()).await;
    let integ = integration(
        &server.origin(),
        &[
            ("get", server.url("/limited")),
            ("get", server.url("/down")),
        ],
        None,
    );
    let results = fetch(&echo, &integ).await;
    assert_eq!(results[0].1, "status 200 finally");
    // 5xx is retried up to max_attempts, then the plugin sees the answer.
    assert_eq!(results[1].1, "status 503 down");
    let seen = server.seen();
    let limited: Vec<_> = seen.iter().filter(|s| s.path == "/limited").collect();
    assert_eq!(limited.len(), 2);
    assert!(
        limited[1].at.duration_since(limited[0].at) >= Duration::from_millis(990),
        "retried before Retry-After"
    );
    assert_eq!(
        seen.iter().filter(|s| s.path == "/down").count() as u32,
        PluginLimits::default().http.max_attempts
    );
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_returns_the_429() {
    let server = TestServer::start(|_| {
        hyper::Response::builder()
            .status(429)
            .header("retry-after", "60")
            .body("{}".to_string().into())
            .unwrap()
    })
    .await;
    let limits = PluginLimits {
        call_timeout: Duration::from_secs(3),
        ..PluginLimits::default()
    };
    let echo = plugin("echo", &server.origin(), limits).await;
    let started = std::time::Instant::now();
    let results = fetch(
        &echo,
        &integration(&server.origin(), &[("get", server.url("/x"))], None),
    )
    .await;
    assert_eq!(results[0].1, "status 429 {}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.seen().len(), 1);
}

/// A Retry-After longer than the call pauses the whole integration (same
/// org, plugin and origin): its next call sends nothing and fails as
/// rate-limited with what is left of the pause; another org's integration
/// on the same server is not paused.
#[tokio::test]
async fn a_pause_outlasting_the_call_fails_the_integrations_next_call_unsent() {
    let server = TestServer::start(|seen| match seen.path.as_str() {
        "/limited" => hyper::Response::builder()
            .status(429)
            .header("retry-after", "60")
            .body("{}".to_string().into())
            .unwrap(),
        _ => respond(200, "ok"),
    })
    .await;
    let limits = PluginLimits {
        call_timeout: Duration::from_secs(3),
        ..PluginLimits::default()
    };
    let echo = plugin("echo", &server.origin(), limits).await;
    let of = |org: &str, path: &str| Integration {
        org: Some(org.into()),
        ..integration(&server.origin(), &[("get", server.url(path))], None)
    };
    let first = fetch(&echo, &of("acme", "/limited")).await;
    assert_eq!(first[0].1, "status 429 {}");
    let started = std::time::Instant::now();
    let err = echo.all_projects(&of("acme", "/fine")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "failed at once");
    match &err {
        CallError::Provider(e) => match &e.0 {
            ProviderError::RateLimited(r) => {
                let ms = buildsnap::runtime::wit::wait_ms(r).expect("retry-after");
                assert!((55_000..=60_000).contains(&ms), "{ms}");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen().len(), 1, "nothing sent while paused");
    // Another org's integration, and a call of no stored integration.
    assert_eq!(
        fetch(&echo, &of("other", "/fine")).await[0].1,
        "status 200 ok"
    );
    let unstored = integration(&server.origin(), &[("get", server.url("/fine"))], None);
    assert_eq!(fetch(&echo, &unstored).await[0].1, "status 200 ok");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn oversized_response_is_refused() {
    let server = TestServer::start(|_| respond(200, &"x".repeat(64 * 1024))).await;
    let mut limits = PluginLimits::default();
    limits.http.max_response_bytes = 16 * 1024;
    let echo = plugin("echo", &server.origin(), limits).await;
    let results = fetch(
        &echo,
        &integration(&server.origin(), &[("get", server.url("/big"))], None),
    )
    .await;
    assert_eq!(results[0].1, "error too-large: 16384");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_runs_concurrently_and_keeps_order() {
    // Each answer takes 400 ms. The handler leaves its worker thread while
    // it waits (block_in_place), so the server itself can take all four
    // at once and only the client decides how many are in flight.
    let server = TestServer::start(|seen| {
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(400)));
        respond(200, &seen.path)
    })
    .await;
    let echo = plugin("echo", &server.origin(), PluginLimits::default()).await;
    let settings: Vec<(&str, String)> = (0..4)
        .map(|i| ("batch", server.url(&format!("/n{i}"))))
        .collect();
    let results = fetch(&echo, &integration(&server.origin(), &settings, None)).await;
    let bodies: Vec<&str> = results.iter().map(|(_, o)| o.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "status 200 /n0",
            "status 200 /n1",
            "status 200 /n2",
            "status 200 /n3"
        ]
    );
    // Concurrency shown by arrival times, not by total time (which depends
    // on the machine's load): sent one after another, the last request
    // could not arrive before the first answer, 400 ms after the first.
    let arrivals: Vec<std::time::Instant> =
        server.seen.lock().unwrap().iter().map(|s| s.at).collect();
    assert_eq!(arrivals.len(), 4);
    let spread = *arrivals.iter().max().unwrap() - *arrivals.iter().min().unwrap();
    assert!(
        spread < Duration::from_millis(300),
        "requests arrived one after another: spread {spread:?}"
    );
}

#[tokio::test]
async fn wasi_stdout_goes_to_the_log_with_the_plugin_id() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = TestServer::start(|_| respond(200, "ok")).await;
    let spy = plugin("spy", &server.origin(), PluginLimits::default()).await;
    spy.all_projects(&integration(&server.origin(), &[], Some(TOKEN)))
        .await
        .unwrap();
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("spy was here"))
        .unwrap_or_else(|| panic!("no stdout line in {text}"));
    assert!(
        line.contains("plugin=\"spy\"") || line.contains("plugin=spy"),
        "{line}"
    );
    assert!(!text.contains(TOKEN));
}
