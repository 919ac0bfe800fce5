//! The accept loop with graceful shutdown, connection admission and accept
//! back-off.
//!
//! A cap on the connections being served keeps the process below its file
//! descriptor limit (a typical 1024): past it, `accept` fails with EMFILE,
//! and then not even `/healthz` gets through. Connections over the cap are
//! not left waiting in the kernel's backlog either: a small overflow lane
//! accepts them and answers at once, `/healthz` as usual (so a probe sees a
//! live server) and anything else with 503 `overloaded`, then closes. Only
//! when the overflow lane is full too is a connection closed unanswered.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body;
use hyper::header::{CONNECTION, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::admission::Slot;
use crate::errors::ApiError;
use crate::routes;
use crate::server::App;

/// Header wait on an overflow connection: it gets one quick answer, so it
/// is not let hold its slot for the whole header timeout.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The accept loop and the overflow lane's answers.
impl App {
    /// Serves HTTP/1.1 on `listener` until `shutdown` completes; then stops
    /// accepting, lets in-flight requests finish (up to the shutdown timeout)
    /// and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "HTTP API listening");
        }
        let mut backoff = AcceptBackoff::default();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            // Out of file descriptors and the like: the
                            // connection stays queued, so back off rather
                            // than spin, and log once per burst.
                            let (wait, log) = backoff.failed();
                            if log {
                                tracing::warn!(error = %e, "accept failed; backing off (not logged again until an accept succeeds)");
                            }
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    };
                    if let Some(failed) = backoff.succeeded() {
                        tracing::info!(failed_accepts = failed, "accepting connections again");
                    }
                    let _ = stream.set_nodelay(true);
                    let slot = self.admission.admit();
                    let overflow = match &slot {
                        Slot::Served(_) => false,
                        Slot::Overflow(_) => true,
                        Slot::Refused => {
                            tracing::debug!(%peer, "connection refused: over the connection cap and its overflow lane");
                            continue;
                        }
                    };
                    let app = self.clone();
                    let svc = hyper::service::service_fn(move |req| {
                        let app = app.clone();
                        async move {
                            if overflow {
                                Ok::<_, Infallible>(app.handle_overflow(req).await)
                            } else {
                                Ok::<_, Infallible>(app.handle(req).await)
                            }
                        }
                    });
                    let mut http = hyper::server::conn::http1::Builder::new();
                    // A client may shut its write side once its request is
                    // sent (the whole body drained past the cap included):
                    // it still gets its answer instead of a closed connection.
                    http.timer(TokioTimer::new()).half_close(true);
                    if overflow {
                        http.keep_alive(false).header_read_timeout(OVERFLOW_HEADER_TIMEOUT.min(self.header_timeout));
                    } else {
                        // Slow-loris guard: headers must arrive in time.
                        http.header_read_timeout(self.header_timeout);
                    }
                    let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        // The connection's slot is free again.
                        drop(slot);
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        tokio::select! {
            _ = graceful.shutdown() => tracing::info!("all connections closed"),
            _ = tokio::time::sleep(self.shutdown_timeout) => {
                tracing::warn!(timeout_s = self.shutdown_timeout.as_secs(), "shutdown timeout: dropping open connections");
            }
        }
        Ok(())
    }

    /// The answer on a connection over the cap: `/healthz` as usual, so that
    /// a probe sees the server alive; anything else 503 `overloaded` with
    /// `Connection: close`, without reading a body.
    async fn handle_overflow<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if req.method() == Method::GET && req.uri().path() == "/healthz" {
            return self.handle(req).await;
        }
        let mut r = routes::error_response(&ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is at its connection limit (--max-connections); retry shortly",
        ));
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        self.state.metrics.record_request(
            "(overloaded)",
            crate::router::method_label(req.method()),
            StatusCode::SERVICE_UNAVAILABLE.as_u16(),
            0.0,
        );
        r
    }
}

/// Back-off after failed accepts (EMFILE, ENFILE, ENOBUFS): the failing
/// connection stays in the backlog, so retrying at once would spin. The
/// wait doubles from 10 ms to 500 ms; only the first failure of a burst is
/// logged, and the first success after one says how many there were.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    failures: u64,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_millis(500);

    /// After a failed accept: how long to wait, and whether to log it.
    pub(crate) fn failed(&mut self) -> (Duration, bool) {
        let shift = self.failures.min(16) as u32;
        self.failures += 1;
        let wait = Self::FIRST.saturating_mul(1 << shift).min(Self::MAX);
        (wait, self.failures == 1)
    }

    /// After a successful accept: the failures of the burst it ends, if any.
    pub(crate) fn succeeded(&mut self) -> Option<u64> {
        let n = std::mem::take(&mut self.failures);
        (n > 0).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_is_logged_once_and_backs_off() {
        let mut b = AcceptBackoff::default();
        let outcomes: Vec<_> = (0..200).map(|_| b.failed()).collect();
        assert_eq!(outcomes.iter().filter(|(_, log)| *log).count(), 1);
        assert!(outcomes[0].1);
        assert_eq!(outcomes[0].0, Duration::from_millis(10));
        assert_eq!(outcomes[1].0, Duration::from_millis(20));
        assert_eq!(outcomes[199].0, Duration::from_millis(500));
        // 200 failures take far longer than 200 × 50 ms would suggest a spin.
        let waited: Duration = outcomes.iter().map(|(d, _)| *d).sum();
        assert!(waited > Duration::from_secs(90), "{waited:?}");
        assert_eq!(b.succeeded(), Some(200));
        assert_eq!(b.succeeded(), None);
        // The next burst is logged again, from the short wait.
        assert_eq!(b.failed(), (Duration::from_millis(10), true));
    }
}
