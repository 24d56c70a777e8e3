//! A request body that must keep coming: if no data arrives for `body_stall` while a handler
//! reads it, the read fails with [`BodyStalled`] and the request is answered 408.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

/// The error a stalled body's reader sees.
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled")]
pub struct BodyStalled;

impl BodyStalled {
    /// Whether `error` (or what caused it) is a stalled body.
    pub fn caused(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut cause = Some(error);
        while let Some(e) = cause {
            if e.is::<BodyStalled>() {
                return true;
            }
            cause = e.source();
        }
        false
    }
}

/// Whether the request's body stalled; shared with the service that answers it.
#[derive(Clone, Default)]
pub struct Stalled(Arc<AtomicBool>);

impl Stalled {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Lowered for the next request of the connection.
    pub fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

pub struct StallLimit {
    inner: Incoming,
    limit: Duration,
    /// Started when the reader first has to wait; cleared when data comes.
    timer: Option<Pin<Box<Sleep>>>,
    stalled: Stalled,
}

impl StallLimit {
    /// A function wrapping a request's body, raising `stalled` if the body stalls.
    pub fn wrap(limit: Duration, stalled: Stalled) -> impl FnOnce(Incoming) -> StallLimit {
        move |inner| StallLimit { inner, limit, timer: None, stalled }
    }
}

impl Body for StallLimit {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                // Data came: the next wait has its own `limit`.
                this.timer = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                match this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(this.limit))).as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.stalled.0.store(true, Ordering::Relaxed);
                        Poll::Ready(Some(Err(Box::new(BodyStalled))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
