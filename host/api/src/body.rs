//! Reading request bodies: the 1 MiB cap, a whole-body deadline, and a
//! bounded drain of an oversize body so that the client reads the 413.
//!
//! Why drain: a server that answers 413 and closes while the client is still
//! sending leaves unread bytes in its receive buffer, and closing such a
//! socket makes the kernel send a reset, which throws away the 413 the
//! client had not read yet (most clients then report "connection reset").
//! Reading and discarding the rest, as nginx's lingering close does, lets
//! the answer arrive. The drain is bounded in bytes ([`DRAIN_MAX_BYTES`])
//! and in time (the same deadline as the body), so it cannot be used to
//! keep a connection busy for ever.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body;
use tokio::time::Instant;

/// Most bytes of an oversize body read (and thrown away) before the 413 is
/// sent. A body declared or found larger than this is answered at once and
/// the connection closed: past a few MiB the client's read of the answer
/// matters less than the server's bandwidth.
pub(crate) const DRAIN_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the cap (413).
    TooLarge,
    /// Not complete by the deadline (408).
    Timeout,
    /// The connection failed while reading it (400).
    Read(String),
}

/// Reads `body` whole, at most `limit` bytes, by `deadline`. Past the limit
/// the rest is read and discarded up to [`DRAIN_MAX_BYTES`] in all, then
/// [`BodyError::TooLarge`].
pub(crate) async fn read<B>(body: B, limit: usize, deadline: Instant) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    let mut total: u64 = 0;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(if total > limit as u64 {
                    BodyError::TooLarge
                } else {
                    BodyError::Timeout
                });
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Read(e.into().to_string())),
            Ok(Some(Ok(f))) => f,
        };
        // Trailers carry no body bytes.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.remaining() as u64;
        if total <= limit as u64 {
            buf.put(data);
        } else {
            if !buf.is_empty() {
                buf = BytesMut::new();
            }
            if total > DRAIN_MAX_BYTES {
                return Err(BodyError::TooLarge);
            }
        }
    }
    if total > limit as u64 {
        Err(BodyError::TooLarge)
    } else {
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use http_body_util::Full;
    use hyper::body::Frame;
    use tokio::sync::mpsc;

    use super::*;

    /// A body fed chunk by chunk through a channel; ends when the sender drops.
    struct Chunks(mpsc::Receiver<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn reads_up_to_the_limit_and_refuses_past_it() {
        let ok = read(Full::new(Bytes::from(vec![7u8; 10])), 10, soon()).await;
        assert_eq!(ok.unwrap().len(), 10);
        let big = read(Full::new(Bytes::from(vec![7u8; 11])), 10, soon()).await;
        assert!(matches!(big, Err(BodyError::TooLarge)), "{big:?}");
    }

    #[tokio::test]
    async fn an_oversize_body_is_drained_to_its_end_within_the_bound() {
        let (tx, rx) = mpsc::channel(64);
        for _ in 0..40 {
            tx.send(Bytes::from(vec![1u8; 64 * 1024])).await.unwrap();
        }
        drop(tx);
        let r = read(Chunks(rx), 1024 * 1024, soon()).await;
        assert!(matches!(r, Err(BodyError::TooLarge)), "{r:?}");
    }

    #[tokio::test]
    async fn a_body_past_the_drain_bound_is_refused_without_reading_the_rest() {
        let (tx, rx) = mpsc::channel(1);
        let feeder = tokio::spawn(async move {
            let mut sent = 0u64;
            while tx.send(Bytes::from(vec![1u8; 1024 * 1024])).await.is_ok() {
                sent += 1024 * 1024;
            }
            sent
        });
        let r = read(Chunks(rx), 1024, soon()).await;
        assert!(matches!(r, Err(BodyError::TooLarge)), "{r:?}");
        // The reader stopped (dropped the receiver) a little past the bound.
        let sent = feeder.await.unwrap();
        assert!(sent <= DRAIN_MAX_BYTES + 2 * 1024 * 1024, "{sent}");
    }

    #[tokio::test]
    async fn a_body_that_stalls_ends_at_the_deadline() {
        let (tx, rx) = mpsc::channel(1);
        tx.send(Bytes::from_static(b"{")).await.unwrap();
        let started = std::time::Instant::now();
        let r = read(
            Chunks(rx),
            1024,
            Instant::now() + Duration::from_millis(200),
        )
        .await;
        assert!(matches!(r, Err(BodyError::Timeout)), "{r:?}");
        assert!(started.elapsed() >= Duration::from_millis(200));
        drop(tx);
    }
}
