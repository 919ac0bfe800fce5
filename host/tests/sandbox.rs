//! The sandbox against real misbehaving guests: endless loops, unbounded
//! allocation and panics end the call with a typed error, and the host
//! keeps serving.

mod support;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use buildsnap::runtime::limits::PluginLimits;
use buildsnap::runtime::{CallError, Integration, Registry};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
        org: None,
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

/// Round trips of one byte to a TCP echo served by the test's runtime,
/// from a plain thread, until `stop`: (when each was sent, how long it
/// took). It stands for the API answering while plugins burn CPU.
fn ping_until(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(Instant, Duration)>> {
    std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        // Long enough to measure a starved runtime instead of failing.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut pings = Vec::new();
        let mut byte = [0u8; 1];
        while !stop.load(Ordering::SeqCst) {
            let sent = Instant::now();
            stream.write_all(b"x").unwrap();
            stream.read_exact(&mut byte).expect("echo answered");
            pings.push((sent, sent.elapsed()));
            // Pacing, not waiting for anything.
            std::thread::sleep(Duration::from_millis(20));
        }
        pings
    })
}

async fn serve_echo() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut byte = [0u8; 1];
                while stream.read_exact(&mut byte).await.is_ok() {
                    if stream.write_all(&byte).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Issue 18, F2: with more looping guests than tokio workers, the runtime
/// keeps answering (guests yield every epoch tick) and every looping call
/// ends at its deadline, not a timeout later when a worker frees up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_guests_never_starve_the_runtime_and_end_at_their_deadline() {
    let timeout = Duration::from_secs(3);
    let registry = registry(&["looper"], timeout).await;
    let looper = registry.get("looper").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = ping_until(serve_echo().await, stop.clone());

    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let looper = looper.clone();
            tokio::spawn(async move {
                let result = looper
                    .validate_credentials(&integration("https://example.invalid"))
                    .await;
                (result, started.elapsed())
            })
        })
        .collect();
    let mut ends = Vec::new();
    for call in calls {
        let (result, elapsed) = call.await.unwrap();
        assert!(
            matches!(result, Err(CallError::Timeout { .. })),
            "{result:?}"
        );
        ends.push(elapsed);
    }
    let window = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let pings = tokio::task::spawn_blocking(move || pinger.join().unwrap())
        .await
        .unwrap();
    let during: Vec<Duration> = pings
        .iter()
        .filter(|(sent, _)| *sent >= started && sent.duration_since(started) < window)
        .map(|(_, took)| *took)
        .collect();
    let worst = during.iter().max().copied().unwrap_or_default();
    eprintln!(
        "4 looping calls on 2 workers, timeout {timeout:?}: calls ended after {ends:?}; \
         {} pings meanwhile, worst round trip {worst:?}",
        during.len()
    );
    for end in &ends {
        assert!(
            *end >= timeout && *end < timeout + Duration::from_secs(1),
            "a looping call ended after {end:?} (timeout {timeout:?})"
        );
    }
    assert!(
        worst < Duration::from_millis(200),
        "the runtime stalled for {worst:?} while guests looped"
    );
    // At least one ping every 100 ms of the window got its answer.
    assert!(
        during.len() as u128 >= window.as_millis() / 100,
        "only {} pings answered in {window:?}",
        during.len()
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
