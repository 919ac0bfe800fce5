//! The sandbox against real misbehaving guests: endless loops, unbounded
//! allocation and panics end the call with a typed error, and the host
//! keeps serving.

mod support;

use std::time::{Duration, Instant};

use buildsnap::runtime::limits::PluginLimits;
use buildsnap::runtime::{CallError, Integration, Registry};
use support::*;
use url::Url;

fn limits(timeout: Duration) -> PluginLimits {
    PluginLimits {
        call_timeout: timeout,
        memory_bytes: 16 << 20,
        ..PluginLimits::default()
    }
}

fn integration(base: &str) -> Integration {
    Integration {
        base_url: Url::parse(base).unwrap(),
        settings: vec![],
        credential: None,
    }
}

async fn registry(names: &[&str], timeout: Duration) -> Registry {
    let mut builder = Registry::builder().builtin(false).limits(limits(timeout));
    for name in names {
        builder = builder.source(source(name));
    }
    let registry = builder.build().await.unwrap();
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    registry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_times_out_within_deadline_and_others_keep_working() {
    let timeout = Duration::from_secs(2);
    let registry = registry(&["looper", "echo"], timeout).await;
    let looper = registry.get("looper").unwrap();
    let echo = registry.get("echo").unwrap();

    let started = Instant::now();
    let looping = tokio::spawn(async move {
        looper
            .validate_credentials(&integration("https://example.invalid"))
            .await
    });
    // While the looper spins, another plugin's calls still complete.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        let t = Instant::now();
        let d = echo.describe().await.unwrap();
        assert_eq!(d.id, "echo");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "describe took {:?}",
            t.elapsed()
        );
    }
    let result = looping.await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(CallError::Timeout { .. })),
        "{result:?}"
    );
    assert!(elapsed >= timeout, "stopped early: {elapsed:?}");
    assert!(
        elapsed < timeout + Duration::from_secs(1),
        "deadline overrun: {elapsed:?}"
    );
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_limit() {
    let registry = registry(&["hog"], Duration::from_secs(10)).await;
    let result = registry
        .get("hog")
        .unwrap()
        .validate_credentials(&integration("https://example.invalid"))
        .await;
    match result {
        Err(CallError::MemoryLimit { plugin, limit_mib }) => {
            assert_eq!(plugin, "hog");
            assert_eq!(limit_mib, 16);
        }
        other => panic!("expected a memory-limit error, got {other:?}"),
    }
}

#[tokio::test]
async fn panic_message_reaches_the_error() {
    let registry = registry(&["panicker"], Duration::from_secs(10)).await;
    let result = registry
        .get("panicker")
        .unwrap()
        .validate_credentials(&integration("https://example.invalid"))
        .await;
    match result {
        Err(CallError::Panic { plugin, message }) => {
            assert_eq!(plugin, "panicker");
            assert!(
                message.contains("kaboom: cannot handle base url https://example.invalid"),
                "{message}"
            );
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    // The plugin is still usable: every call gets a fresh instance.
    assert_eq!(
        registry
            .get("panicker")
            .unwrap()
            .describe()
            .await
            .unwrap()
            .id,
        "panicker"
    );
}

#[tokio::test]
async fn a_blocked_host_call_is_cut_off_by_the_call_timeout() {
    // The server never answers within the call's 1 s budget; epochs cannot
    // interrupt a guest parked in host I/O, the tokio timeout must.
    let server = TestServer::start(|_| {
        std::thread::sleep(Duration::from_millis(1500));
        respond(200, "late")
    })
    .await;
    let registry = Registry::builder()
        .builtin(false)
        .limits(limits(Duration::from_secs(1)))
        .grants(buildsnap::runtime::origin::AllowList::parse(&server.origin()).unwrap())
        .source(source("echo"))
        .build()
        .await
        .unwrap();
    let started = Instant::now();
    let result = registry
        .get("echo")
        .unwrap()
        .validate_credentials(&integration(&server.origin()))
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    // The HTTP layer clamps the request to the call's remaining time, so
    // either the request or the call reports the timeout.
    match result {
        Err(CallError::Timeout { .. }) => {}
        Err(CallError::Provider(e)) => assert!(e.to_string().contains("timeout"), "{e}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}
