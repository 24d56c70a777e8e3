//! Bounds password hashing. argon2 is slow and memory-hard on purpose (about 19 MiB per hash), so
//! without a bound a flood of sign-in or sign-up posts — no account needed — would start hundreds
//! of hashes at once, exhaust memory and starve the blocking threads that database reads share.
//! At most one hash per core runs; the rest wait briefly, then get "busy".
//!
//! A slot is held by the hash itself, on its blocking thread, until the hash ends: a client that
//! hangs up stops waiting for the answer, not the work, so it cannot free a slot early. Each slot
//! reuses one block of argon2 memory, so a flood of hashes costs no more memory than one per slot.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::support::secrets::HashMemory;

/// How long a sign-in waits for a free slot before the page says the server is busy.
const WAIT_FOR_SLOT: Duration = Duration::from_secs(10);

pub struct PasswordHashing {
    slots: Arc<Semaphore>,
    /// The argon2 memory of idle slots; made on first use, never more than there are slots.
    memories: Arc<Mutex<Vec<HashMemory>>>,
}

/// No slot came free in time.
#[derive(Debug)]
pub struct Busy;

impl Default for PasswordHashing {
    fn default() -> PasswordHashing {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordHashing { slots: Arc::new(Semaphore::new(cores)), memories: Arc::default() }
    }
}

impl PasswordHashing {
    /// Runs `work` (a hash or a verification, in the slot's memory) on a blocking thread once a
    /// slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let slot = tokio::time::timeout(WAIT_FOR_SLOT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let memories = self.memories.clone();
        tokio::task::spawn_blocking(move || {
            let mut memory = memories.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default();
            let result = work(&mut memory);
            memories.lock().unwrap_or_else(|e| e.into_inner()).push(memory);
            drop(slot);
            result
        })
        .await
        .map_err(|_| Busy)
    }
}
