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
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
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
    /// The current phase and when it began.
    phase: Mutex<(Phase, Instant)>,
    /// Raised by [`Clock::evict`]: close now if no request is in flight.
    evicted: Notify,
}

impl Clock {
    /// A new connection: its first head must arrive within `header_read`.
    pub fn new(limits: Limits) -> Clock {
        Clock { limits, phase: Mutex::new((Phase::Head, Instant::now())), evicted: Notify::new() }
    }

    fn enter(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = (phase, Instant::now());
    }

    /// Bytes came in: on an idle connection, a new head has begun.
    fn bytes_arrived(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if phase.0 == Phase::Idle {
            *phase = (Phase::Head, Instant::now());
        }
    }

    /// The head is complete and the request goes to the routes.
    pub fn request_started(&self) {
        self.enter(Phase::Busy);
    }

    /// The response is written: the connection waits for the next request.
    fn request_ended(&self) {
        self.enter(Phase::Idle);
    }

    /// Since when the connection has had no request in flight, if it has none.
    pub fn waiting_since(&self) -> Option<Instant> {
        let (phase, since) = *self.phase.lock().unwrap_or_else(|e| e.into_inner());
        (phase != Phase::Busy).then_some(since)
    }

    /// When the current phase's deadline falls; none while a request is served.
    fn deadline(&self) -> Option<Instant> {
        let (phase, since) = *self.phase.lock().unwrap_or_else(|e| e.into_inner());
        match phase {
            Phase::Head => Some(since + self.limits.header_read),
            Phase::Idle => Some(since + self.limits.idle),
            Phase::Busy => None,
        }
    }

    /// Closes the connection now if it has no request in flight (to make room for another).
    pub fn evict(&self) -> bool {
        let waiting = self.waiting_since().is_some();
        if waiting {
            self.evicted.notify_one();
        }
        waiting
    }

    /// Resolves once the deadline of the current phase has passed, or the connection was evicted
    /// while waiting.
    ///
    /// A phase change does not wake this: that would cost a wake-up and a poll of the connection
    /// twice per request. Instead it sleeps until the earliest moment a deadline can fall and
    /// then looks again. Every deadline lies at least `shortest` (the smaller limit) after its
    /// phase began, so a phase that begins after a look cannot end before that look plus
    /// `shortest`; sleeping until then (or the current deadline, if sooner) is never late.
    pub async fn expired(&self) {
        let shortest = self.limits.header_read.min(self.limits.idle).max(Duration::from_millis(1));
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        loop {
            let now = Instant::now();
            let wake_at = match self.deadline() {
                Some(at) if at <= now => return,
                Some(at) => at.min(now + shortest),
                None => now + shortest,
            };
            sleep.as_mut().reset(wake_at);
            tokio::select! {
                () = &mut sleep => {}
                () = self.evicted.notified() => if self.waiting_since().is_some() { return },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(header_read: u64, idle: u64) -> Limits {
        Limits {
            header_read: Duration::from_secs(header_read),
            idle: Duration::from_secs(idle),
            body_stall: Duration::from_secs(10),
            max_connections: 10,
        }
    }

    /// How long after `begin` the clock's deadline fires, with `during` run meanwhile.
    async fn expires_after(clock: &Clock, during: impl std::future::Future<Output = ()>) -> Duration {
        let begin = Instant::now();
        let ((), ()) = tokio::join!(clock.expired(), during);
        begin.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_never_comes_is_cut_at_the_header_deadline() {
        let clock = Clock::new(limits(10, 60));
        assert_eq!(expires_after(&clock, async {}).await, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_phase_that_begins_late_is_not_missed() {
        // The idle limit (2 s) is shorter than the head limit (10 s): after a request that ends
        // at 1.5 s, the connection must close at 3.5 s, not at the first head's 10 s.
        let clock = Clock::new(limits(10, 2));
        let requests = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            clock.request_started();
            tokio::time::sleep(Duration::from_millis(500)).await;
            clock.request_ended();
        };
        assert_eq!(expires_after(&clock, requests).await, Duration::from_millis(3500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_has_no_deadline_and_idle_time_counts_from_its_end() {
        let clock = Clock::new(limits(1, 5));
        let slow_request = async {
            clock.request_started();
            tokio::time::sleep(Duration::from_secs(30)).await;
            clock.request_ended();
        };
        assert_eq!(expires_after(&clock, slow_request).await, Duration::from_secs(35));
    }

    #[tokio::test(start_paused = true)]
    async fn eviction_closes_a_waiting_connection_at_once_but_not_a_busy_one() {
        let clock = Clock::new(limits(10, 60));
        let evict = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert!(clock.evict());
        };
        assert_eq!(expires_after(&clock, evict).await, Duration::from_secs(1));

        let busy = Clock::new(limits(10, 60));
        busy.request_started();
        assert!(!busy.evict(), "a connection serving a request is not evicted");
    }
}
