//! Slows password guessing: at most [`MAX_FAILURES`] sign-in attempts for one email address within
//! [`WINDOW`] may fail; after that, sign-in for that address is refused for another [`WINDOW`].
//! An attempt counts as failed from the moment it starts, so parallel guesses cannot slip past the
//! limit while their passwords are being checked; a successful sign-in forgets the count.
//! Unknown addresses are counted the same way, so the lockout tells nothing about which accounts
//! exist. Kept in memory: a restart forgets, which is fine for a brake on guessing. An operator
//! lifts a lockout with `gpt-todo user unlock`, which stamps the user's row; an attempt passes
//! the time of that stamp in, and a lockout that began before it is forgotten.
//!
//! The same brake, with its own numbers, limits client registrations per network address: there
//! every registration counts, as none is a "success" that should forget the earlier ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::unix_now;

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory when someone tries very many addresses.
const MAX_TRACKED: usize = 10_000;

pub struct Throttle {
    failures: Mutex<HashMap<String, Failures>>,
    max: u32,
    window: Duration,
}

impl Default for Throttle {
    /// The sign-in lockout.
    fn default() -> Throttle {
        Throttle::new(MAX_FAILURES, WINDOW)
    }
}

struct Failures {
    count: u32,
    /// When the window began: the first failure, then the one that locked the account.
    since: Instant,
    /// The same moment in unix seconds, to compare with an operator's unlock.
    since_unix: i64,
}

impl Throttle {
    /// At most `max` attempts per key within `window`.
    pub fn new(max: u32, window: Duration) -> Throttle {
        Throttle { failures: Mutex::default(), max, window }
    }

    /// Starts a sign-in attempt for `email`, counted as failed until [`Throttle::succeeded`] says
    /// otherwise; `Err(wait)` while sign-in for `email` is refused. `unlocked_at` is when an
    /// operator last unlocked the account (unix seconds), if ever.
    pub fn begin_attempt(&self, email: &str, unlocked_at: Option<i64>) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = key(email);
        if let Some(f) = failures.get(&key)
            && unlocked_at.is_some_and(|unlocked| unlocked >= f.since_unix)
        {
            failures.remove(&key);
        }
        if let Some(f) = failures.get(&key)
            && f.count >= self.max
            && f.since.elapsed() < self.window
        {
            return Err(self.window - f.since.elapsed());
        }
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&key) {
            make_room(&mut failures, self.window);
        }
        let entry = failures.entry(key).or_insert_with(Failures::start);
        if entry.since.elapsed() >= self.window {
            *entry = Failures::start();
        }
        entry.count += 1;
        if entry.count == self.max {
            // The lockout lasts a whole window from the attempt that triggered it.
            *entry = Failures { count: self.max, ..Failures::start() };
        }
        Ok(())
    }

    pub fn succeeded(&self, email: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&key(email));
    }
}

impl Failures {
    fn start() -> Failures {
        Failures { count: 0, since: Instant::now(), since_unix: unix_now() }
    }
}

/// Drops expired entries, and if that frees nothing, the oldest tenth.
fn make_room(failures: &mut HashMap<String, Failures>, window: Duration) {
    failures.retain(|_, f| f.since.elapsed() < window);
    if failures.len() >= MAX_TRACKED {
        let mut starts: Vec<Instant> = failures.values().map(|f| f.since).collect();
        starts.sort_unstable();
        let cutoff = starts[starts.len() / 10];
        failures.retain(|_, f| f.since > cutoff);
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
    fn refuses_after_too_many_attempts_whatever_the_case() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.begin_attempt("Ann@example.com", None).is_ok());
        }
        assert!(throttle.begin_attempt("ann@example.com", None).is_err(), "in-flight attempts count too");
        assert!(throttle.begin_attempt("bob@example.com", None).is_ok());
    }

    #[test]
    fn success_forgets_earlier_failures() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.begin_attempt("ann@example.com", None).unwrap();
        }
        throttle.succeeded("ann@example.com");
        for _ in 0..MAX_FAILURES {
            assert!(throttle.begin_attempt("ann@example.com", None).is_ok());
        }
    }

    #[test]
    fn an_unlock_after_the_lockout_lifts_it() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            throttle.begin_attempt("ann@example.com", None).unwrap();
        }
        let locked_at = unix_now();
        assert!(throttle.begin_attempt("ann@example.com", Some(locked_at - 60)).is_err(), "an older unlock does not");
        assert!(throttle.begin_attempt("ann@example.com", Some(locked_at)).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = Throttle::default();
        for i in 0..MAX_TRACKED + 50 {
            throttle.begin_attempt(&format!("user{i}@example.com"), None).unwrap();
        }
        assert!(throttle.failures.lock().unwrap().len() <= MAX_TRACKED);
    }
}
