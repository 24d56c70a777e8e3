//! Slows password guessing on one account without letting a stranger lock its owner out.
//!
//! At most [`MAX_FAILURES`] sign-in attempts for one email address within [`WINDOW`] may fail;
//! after that the email is locked for another [`WINDOW`]. The lock does not apply to everyone: an
//! address (IPv6: its /64) that has not failed for that email in the window may still try it,
//! so the owner, signing in from their usual network, gets in with the right password while
//! someone else guesses from theirs. Each of those tries that fails marks its address too, so a
//! guesser gets one more attempt per address they control, and the per-address rate limit
//! (`crate::rate_limit`) bounds how fast they can use even that.
//!
//! An attempt counts as failed from the moment it starts, so parallel guesses cannot slip past the
//! limit while their passwords are being checked; a successful sign-in forgets the email's count
//! and its address's failures. Unknown emails are counted the same way, so the lockout tells
//! nothing about which accounts exist. Kept in memory: a restart forgets, which is fine for a
//! brake on guessing.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::rate_limit::AddressKey;

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory when someone tries very many addresses.
const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    by_email: Counts<String>,
    by_email_and_address: Counts<(String, AddressKey)>,
}

impl Throttle {
    /// Starts a sign-in attempt for `email` from `address`, counted as failed until
    /// [`Throttle::succeeded`] says otherwise; `Err(wait)` while that address may not try it.
    pub fn begin_attempt(&self, email: &str, address: IpAddr) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let email = key(email);
        let pair = (email.clone(), AddressKey::from(address));
        if let Some(lock_left) = failures.by_email.locked_for(&email, now)
            && let Some(address_left) = failures.by_email_and_address.window_left(&pair, now)
        {
            return Err(lock_left.min(address_left));
        }
        failures.by_email.add(email, now);
        failures.by_email_and_address.add(pair, now);
        Ok(())
    }

    pub fn succeeded(&self, email: &str, address: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let email = key(email);
        failures.by_email_and_address.remove(&(email.clone(), AddressKey::from(address)));
        failures.by_email.remove(&email);
    }
}

/// Failure counts by key, each in its own window, at most [`MAX_TRACKED`] keys.
struct Counts<K> {
    entries: HashMap<K, Count>,
}

impl<K> Default for Counts<K> {
    fn default() -> Counts<K> {
        Counts { entries: HashMap::new() }
    }
}

struct Count {
    count: u32,
    /// When the window began: the first failure, then the one that reached [`MAX_FAILURES`].
    since: Instant,
}

impl<K: Eq + Hash> Counts<K> {
    /// How long the key stays locked, if it has reached [`MAX_FAILURES`] within its window.
    fn locked_for(&self, key: &K, now: Instant) -> Option<Duration> {
        self.entries.get(key).filter(|c| c.count >= MAX_FAILURES).and_then(|c| window_left(c, now))
    }

    /// How long the key's window still runs, if it has failures in one.
    fn window_left(&self, key: &K, now: Instant) -> Option<Duration> {
        self.entries.get(key).and_then(|c| window_left(c, now))
    }

    fn add(&mut self, key: K, now: Instant) {
        if self.entries.len() >= MAX_TRACKED && !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        let entry = self.entries.entry(key).or_insert(Count { count: 0, since: now });
        if window_left(entry, now).is_none() {
            *entry = Count { count: 0, since: now };
        }
        entry.count += 1;
        if entry.count == MAX_FAILURES {
            // The lockout lasts a whole window from the attempt that triggered it.
            entry.since = now;
        }
    }

    fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops expired entries, and if that frees nothing, the oldest tenth.
    fn make_room(&mut self, now: Instant) {
        self.entries.retain(|_, c| window_left(c, now).is_some());
        if self.entries.len() >= MAX_TRACKED {
            let mut starts: Vec<Instant> = self.entries.values().map(|c| c.since).collect();
            starts.sort_unstable();
            let cutoff = starts[starts.len() / 10];
            self.entries.retain(|_, c| c.since > cutoff);
        }
    }
}

fn window_left(count: &Count, now: Instant) -> Option<Duration> {
    WINDOW.checked_sub(now.duration_since(count.since)).filter(|left| !left.is_zero())
}

/// Emails are case-insensitive (the users table compares them NOCASE).
fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn address(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))
    }

    #[test]
    fn refuses_after_too_many_attempts_whatever_the_case() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.begin_attempt("Ann@example.com", address(1)).is_ok());
        }
        assert!(throttle.begin_attempt("ann@example.com", address(1)).is_err(), "in-flight attempts count too");
        assert!(throttle.begin_attempt("bob@example.com", address(1)).is_ok());
    }

    #[test]
    fn a_locked_email_still_takes_one_try_from_each_address_that_has_not_failed() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            throttle.begin_attempt("ann@example.com", address(66)).unwrap();
        }
        assert!(throttle.begin_attempt("ann@example.com", address(66)).is_err());
        assert!(throttle.begin_attempt("ann@example.com", address(1)).is_ok(), "the owner's network may try");
        assert!(throttle.begin_attempt("ann@example.com", address(1)).is_err(), "once, if that try failed");
        throttle.begin_attempt("ann@example.com", address(2)).unwrap();
        throttle.succeeded("ann@example.com", address(2));
        assert!(throttle.begin_attempt("ann@example.com", address(1)).is_ok(), "a success lifts the lock");
    }

    #[test]
    fn success_forgets_earlier_failures() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.begin_attempt("ann@example.com", address(1)).unwrap();
        }
        throttle.succeeded("ann@example.com", address(1));
        for _ in 0..MAX_FAILURES {
            assert!(throttle.begin_attempt("ann@example.com", address(1)).is_ok());
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = Throttle::default();
        for i in 0..MAX_TRACKED + 50 {
            throttle.begin_attempt(&format!("user{i}@example.com"), address(1)).unwrap();
        }
        let failures = throttle.failures.lock().unwrap();
        assert!(failures.by_email.entries.len() <= MAX_TRACKED);
        assert!(failures.by_email_and_address.entries.len() <= MAX_TRACKED);
    }
}
