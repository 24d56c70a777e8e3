//! Whether the database can be written right now, for `/healthz`.
//!
//! The writer marks the database degraded when a commit (or the fsync after it) fails, say on a
//! full disk, and well again at the next commit that writes. Reads go on meanwhile.

use std::sync::{Arc, Mutex, PoisonError};

#[derive(Clone, Default)]
pub struct Health {
    /// Why the last write failed, while it is the latest news.
    failure: Arc<Mutex<Option<String>>>,
}

impl Health {
    pub fn failed(&self, reason: impl Into<String>) {
        let reason = reason.into();
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            tracing::error!(%reason, "the database cannot be written: degraded until a write succeeds");
        }
        *failure = Some(reason);
    }

    pub fn recovered(&self) {
        if self.failure.lock().unwrap_or_else(PoisonError::into_inner).take().is_some() {
            tracing::info!("the database can be written again");
        }
    }

    /// The reason writes fail, or `None` when the last write succeeded.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
