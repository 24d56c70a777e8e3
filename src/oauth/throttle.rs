//! Slows password guessing: after [`MAX_FAILURES`] failed sign-ins for one email address within
//! [`WINDOW`], sign-in for that address is refused for another [`WINDOW`]. Unknown addresses
//! are counted the same way, so the lockout tells nothing about which accounts exist.
//! Kept in memory: a restart forgets, which is fine for a brake on guessing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory when someone tries very many addresses.
const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Failures>>,
}

struct Failures {
    count: u32,
    /// When the window began: the first failure, then the one that locked the account.
    since: Instant,
}

impl Throttle {
    /// `Err(wait)` while sign-in for `email` is refused.
    pub fn check(&self, email: &str) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&key(email)) {
            Some(f) if f.count >= MAX_FAILURES && f.since.elapsed() < WINDOW => Err(WINDOW - f.since.elapsed()),
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| f.since.elapsed() < WINDOW);
        }
        let entry = failures.entry(key(email)).or_insert(Failures { count: 0, since: Instant::now() });
        if entry.since.elapsed() >= WINDOW {
            *entry = Failures { count: 0, since: Instant::now() };
        }
        entry.count += 1;
        if entry.count == MAX_FAILURES {
            // The lockout lasts a whole window from the failure that triggered it.
            entry.since = Instant::now();
        }
    }

    pub fn record_success(&self, email: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&key(email));
    }
}

/// Emails are case-insensitive (the users table compares them NOCASE).
fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_too_many_failures_whatever_the_case() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.record_failure("Ann@example.com");
        }
        assert!(throttle.check("ann@example.com").is_ok());
        throttle.record_failure("ANN@example.com");
        assert!(throttle.check("ann@example.com").is_err());
        assert!(throttle.check("bob@example.com").is_ok());
    }

    #[test]
    fn success_forgets_earlier_failures() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.record_failure("ann@example.com");
        }
        throttle.record_success("ann@example.com");
        throttle.record_failure("ann@example.com");
        assert!(throttle.check("ann@example.com").is_ok());
    }
}
