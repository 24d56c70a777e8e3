//! Bounds password hashing. argon2 is slow and memory-hard on purpose (about 19 MiB per hash), so
//! without a bound a flood of sign-in or sign-up posts — no account needed — would start hundreds
//! of hashes at once, exhaust memory and starve the blocking threads that database reads share.
//! At most one hash per core runs; the rest wait briefly, then get "busy".

use std::time::Duration;

use tokio::sync::Semaphore;

/// How long a sign-in waits for a free slot before the page says the server is busy.
const WAIT_FOR_SLOT: Duration = Duration::from_secs(10);

pub struct PasswordHashing {
    slots: Semaphore,
}

/// No slot came free in time.
#[derive(Debug)]
pub struct Busy;

impl Default for PasswordHashing {
    fn default() -> PasswordHashing {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordHashing { slots: Semaphore::new(cores) }
    }
}

impl PasswordHashing {
    /// Runs `work` (a hash or a verification) on a blocking thread once a slot is free.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let _slot =
            tokio::time::timeout(WAIT_FOR_SLOT, self.slots.acquire()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
        tokio::task::spawn_blocking(work).await.map_err(|_| Busy)
    }
}
