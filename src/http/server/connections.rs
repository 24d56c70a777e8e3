//! The cap on open connections. Each connection holds a descriptor; at the process's limit,
//! `accept` fails and nobody — not even `/healthz` — gets in. So the cap stays below the limit,
//! with room for the database files and outgoing look-ups, and at the cap the connection that
//! has waited longest without a request in flight is closed to make room (closing an idle
//! connection is always allowed in HTTP/1.1, RFC 9112 §9.6). If every connection is busy, the
//! newcomer waits for one to finish.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::deadlines::Clock;

/// Descriptors kept free for everything but client connections: the database and its log,
/// the reader pool, stdio, the runtime's own, and outgoing user-info look-ups.
pub const RESERVED_DESCRIPTORS: u64 = 128;

pub struct Connections {
    slots: Arc<Semaphore>,
    open: Arc<Mutex<HashMap<u64, Arc<Clock>>>>,
    next_id: AtomicU64,
}

/// A connection's place under the cap; given back when dropped.
pub struct Admitted {
    _slot: OwnedSemaphorePermit,
    id: u64,
    open: Arc<Mutex<HashMap<u64, Arc<Clock>>>>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl Connections {
    pub fn new(max: usize) -> Connections {
        Connections { slots: Arc::new(Semaphore::new(max.max(1))), open: Arc::default(), next_id: AtomicU64::new(0) }
    }

    /// A place for the connection timed by `clock`: at once if there is room, else once the
    /// longest-waiting idle connection has been closed, or a busy one has finished.
    pub async fn admit(&self, clock: Arc<Clock>) -> Admitted {
        let slot = loop {
            if let Ok(slot) = self.slots.clone().try_acquire_owned() {
                break slot;
            }
            self.evict_longest_waiting();
            // The evicted connection's task ends within moments; re-check in case it was busy
            // again by then.
            if let Ok(Ok(slot)) =
                tokio::time::timeout(Duration::from_millis(200), self.slots.clone().acquire_owned()).await
            {
                break slot;
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open.lock().unwrap_or_else(|e| e.into_inner()).insert(id, clock);
        Admitted { _slot: slot, id, open: self.open.clone() }
    }

    fn evict_longest_waiting(&self) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let longest =
            open.values().filter_map(|clock| Some((clock.waiting_since()?, clock))).min_by_key(|(since, _)| *since);
        if let Some((_, clock)) = longest {
            clock.evict();
        }
    }
}

/// Raises the soft limit on open descriptors to the hard limit (the default soft limit is often
/// 1024) and returns the connection cap that leaves [`RESERVED_DESCRIPTORS`] free.
pub fn raise_open_file_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024usize.saturating_sub(RESERVED_DESCRIPTORS as usize).max(1);
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    let usable = limit.rlim_cur.saturating_sub(RESERVED_DESCRIPTORS);
    // A very low limit (`ulimit -n 64`) still leaves a few connections, with less reserve.
    usize::try_from(usable.max(limit.rlim_cur / 4).max(1)).unwrap_or(usize::MAX)
}
