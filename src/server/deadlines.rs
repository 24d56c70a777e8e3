//! Per-connection deadlines. A connection is always in one phase, and only waiting has a limit:
//!
//! - waiting for a request head: from the connection's opening, or from the first byte of a
//!   later request, the head must be complete within `header_read` (a client trickling one byte
//!   at a time gains nothing);
//! - idle between requests: the next request must start within `idle`;
//! - serving a request: no connection deadline (a stalled body is `body.rs`'s business).
//!
//! [`Watched`] reports a request's first bytes, the service reports a request's start, and
//! [`EndsRequest`] its end (its response body is done). [`Clock::expired`] resolves when the
//! current phase's deadline passes, and the connection task then drops the connection.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use super::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head (or waiting for the first one).
    Head,
    /// Between requests on a keep-alive connection.
    Idle,
    /// A request is being served.
    Busy,
}

pub struct Clock {
    limits: Limits,
    phase: Mutex<(Phase, Instant)>,
    /// When the connection must close; `None` while a request is served.
    deadline: watch::Sender<Option<Instant>>,
}

impl Clock {
    /// A new connection: its first head must arrive within `header_read`.
    pub fn new(limits: Limits) -> Clock {
        let now = Instant::now();
        Clock {
            limits,
            phase: Mutex::new((Phase::Head, now)),
            deadline: watch::Sender::new(Some(now + limits.header_read)),
        }
    }

    fn enter(&self, phase: Phase, deadline: Option<Instant>) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = (phase, Instant::now());
        self.deadline.send_replace(deadline);
    }

    /// Bytes came in: on an idle connection, a new head has begun.
    fn bytes_arrived(&self) {
        let idle = self.phase.lock().unwrap_or_else(|e| e.into_inner()).0 == Phase::Idle;
        if idle {
            self.enter(Phase::Head, Some(Instant::now() + self.limits.header_read));
        }
    }

    /// The head is complete and the request goes to the routes.
    pub fn request_started(&self) {
        self.enter(Phase::Busy, None);
    }

    /// The response is written: the connection waits for the next request.
    fn request_ended(&self) {
        self.enter(Phase::Idle, Some(Instant::now() + self.limits.idle));
    }

    /// Since when the connection has had no request in flight, if it has none.
    pub fn waiting_since(&self) -> Option<Instant> {
        let (phase, since) = *self.phase.lock().unwrap_or_else(|e| e.into_inner());
        (phase != Phase::Busy).then_some(since)
    }

    /// Closes the connection now if it has no request in flight (to make room for another).
    pub fn evict(&self) -> bool {
        let waiting = self.waiting_since().is_some();
        if waiting {
            self.deadline.send_replace(Some(Instant::now()));
        }
        waiting
    }

    /// Resolves once the deadline of the current phase has passed.
    pub async fn expired(&self) {
        let mut deadline = self.deadline.subscribe();
        loop {
            let current = *deadline.borrow_and_update();
            match current {
                Some(at) => tokio::select! {
                    () = tokio::time::sleep_until(at) => return,
                    changed = deadline.changed() => if changed.is_err() { return },
                },
                None => {
                    if deadline.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// The connection's socket, telling the clock when bytes arrive.
pub struct Watched<T> {
    inner: T,
    clock: std::sync::Arc<Clock>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, clock: std::sync::Arc<Clock>) -> Watched<T> {
        Watched { inner, clock }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.bytes_arrived();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that tells the clock when it has been sent (or dropped).
pub struct EndsRequest<B> {
    inner: B,
    clock: Option<std::sync::Arc<Clock>>,
}

impl<B> EndsRequest<B> {
    pub fn new(inner: B, clock: std::sync::Arc<Clock>) -> EndsRequest<B> {
        EndsRequest { inner, clock: Some(clock) }
    }

    fn end(&mut self) {
        if let Some(clock) = self.clock.take() {
            clock.request_ended();
        }
    }
}

impl<B> Drop for EndsRequest<B> {
    fn drop(&mut self) {
        self.end();
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for EndsRequest<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.end();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
