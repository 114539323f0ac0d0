//! How long a connection may keep the server waiting while nothing of it is being answered:
//! a new connection must begin its first request, and a request's head must arrive whole,
//! within the header timeout (slowloris: a client that sends nothing, half a request line, or
//! a header line now and then, holds a descriptor for nothing); between requests a kept-alive
//! connection may stay idle for [`KEEP_ALIVE`].
//!
//! Hyper's own header timer cannot tell these apart: it runs from the end of each response, so
//! it would also close the idle connections Heroku's router keeps to a dyno for up to 90 s.
//! Here the socket's reads say when a head begins, the service says when it ended, and the
//! response body's end says when the connection is waiting again.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a kept-alive connection may stay idle between requests: longer than Heroku's
/// router keeps one (90 s), so the router, not us, closes it, and never as it sends a request.
pub const KEEP_ALIVE: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for a request since then; `served`: one was answered on this connection.
    Waiting { since: Instant, served: bool },
    /// A request's head began arriving then.
    Head { since: Instant },
    /// A request is being answered: its body, the handler and the response have their own
    /// limits (the body limit, the request timeout).
    Busy,
}

/// What one connection is doing, shared by its socket, its service and its watchdog.
#[derive(Clone)]
pub struct Waiting {
    phase: Arc<Mutex<Phase>>,
    changed: Arc<Notify>,
    header_timeout: Duration,
}

impl Waiting {
    pub fn new(header_timeout: Duration) -> Self {
        Waiting {
            phase: Arc::new(Mutex::new(Phase::Waiting {
                since: Instant::now(),
                served: false,
            })),
            changed: Arc::new(Notify::new()),
            header_timeout,
        }
    }

    fn set(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        let next = change(*phase);
        if next != *phase {
            *phase = next;
            self.changed.notify_one();
        }
    }

    /// Bytes came in: while waiting, a request's head has begun.
    fn bytes_arrived(&self) {
        self.set(|phase| match phase {
            Phase::Waiting { .. } => Phase::Head {
                since: Instant::now(),
            },
            other => other,
        });
    }

    /// The head is complete and handed to the service.
    pub fn request_began(&self) {
        self.set(|_| Phase::Busy);
    }

    /// The response is written (its body is dropped): waiting for the next request.
    fn request_ended(&self) {
        self.set(|_| Phase::Waiting {
            since: Instant::now(),
            served: true,
        });
    }

    fn deadline(&self) -> Option<Instant> {
        match *self.phase.lock().unwrap_or_else(|e| e.into_inner()) {
            Phase::Waiting {
                since,
                served: false,
            }
            | Phase::Head { since } => Some(since + self.header_timeout),
            Phase::Waiting {
                since,
                served: true,
            } => Some(since + KEEP_ALIVE),
            Phase::Busy => None,
        }
    }

    /// Resolves when the connection has kept us waiting too long.
    pub async fn too_long(&self) {
        loop {
            let changed = self.changed.notified();
            match self.deadline() {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// The socket, reporting the bytes that arrive.
    pub fn watch<T>(&self, io: T) -> Watched<T> {
        Watched {
            io,
            waiting: self.clone(),
        }
    }

    /// A response body that reports when it is done with.
    pub fn response(&self, body: Body) -> Body {
        Body::new(Answer {
            body,
            waiting: self.clone(),
        })
    }
}

/// A socket whose reads are reported to [`Waiting`].
pub struct Watched<T> {
    io: T,
    waiting: Waiting,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.waiting.bytes_arrived();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A response body; hyper drops it once the last byte is written (or the connection ends).
struct Answer {
    body: Body,
    waiting: Waiting,
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.waiting.request_ended();
    }
}

impl hyper::body::Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_head_has_the_header_timeout_from_its_first_byte_and_idle_keep_alive_longer() {
        let waiting = Waiting::new(Duration::from_secs(5));
        let opened = waiting
            .deadline()
            .expect("a new connection must begin a request");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waiting.bytes_arrived();
        let head = waiting.deadline().expect("a head must end");
        assert!(head > opened, "counted from the head's first byte");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waiting.bytes_arrived();
        assert_eq!(
            waiting.deadline(),
            Some(head),
            "more bytes do not extend it"
        );

        waiting.request_began();
        assert_eq!(waiting.deadline(), None);
        // Bytes of the request's body are not the head of another.
        waiting.bytes_arrived();
        assert_eq!(waiting.deadline(), None);

        drop(waiting.response(Body::empty()));
        let idle = waiting.deadline().expect("idle, but not for ever");
        assert!(idle > Instant::now() + KEEP_ALIVE - Duration::from_secs(1));
    }

    #[tokio::test]
    async fn too_long_fires_at_the_deadline_and_never_while_a_request_is_answered() {
        let fresh = Waiting::new(Duration::from_millis(100));
        let start = Instant::now();
        fresh.too_long().await;
        assert!(start.elapsed() >= Duration::from_millis(100));

        let busy = Waiting::new(Duration::from_millis(100));
        busy.request_began();
        let waited = tokio::time::timeout(Duration::from_millis(300), busy.too_long()).await;
        assert!(waited.is_err(), "a request in flight is not waiting");
    }
}
