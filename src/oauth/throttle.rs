//! Slows password guessing: at most [`MAX_FAILURES`] sign-in (or sign-up) attempts for one
//! email within [`WINDOW`] may fail; after that, the email is locked for another [`WINDOW`].
//!
//! The lock does not apply to everyone, so that a stranger cannot lock an account for its owner:
//! an address (IPv6: its /64) that has not failed for that email within the window may still try
//! it. The owner, signing in from their usual network, gets in with the right password while
//! someone else guesses from theirs; each such try that fails marks its address too, so a guesser
//! gets one more attempt per address they control, and the per-address rate limit
//! (`crate::rate_limit`) bounds how fast they can use even that.
//!
//! An attempt counts as failed from the moment it starts, so parallel guesses cannot slip past
//! the limit while their passwords are being checked; a successful sign-in forgets the email's
//! count and its address's. Unknown emails are counted the same way, so the lockout tells
//! nothing about which accounts exist. Kept in memory: a restart forgets, which is fine for a
//! brake on guessing. An operator lifts a lockout with `gpt-todo user unlock`, which stamps the
//! user's row; an attempt passes the time of that stamp in, and a lockout that began before it is
//! forgotten.
//!
//! What is counted (an email, or an email tried from one address) is stored as a fixed-size
//! hash, so memory per entry does not depend on what a client sends, and the map holds at most
//! [`MAX_TRACKED`] entries. When it is full, expired entries go first, then unlocked ones (oldest
//! first); a locked entry is never dropped before its lockout ends, so flooding the map buys no
//! extra guesses. A map full of locked entries refuses attempts for new emails until one expires.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::clock::unix_now;
use crate::rate_limit::AddressKey;

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory when someone tries very many addresses (about 100 bytes an entry).
pub const MAX_TRACKED: usize = 10_000;

/// What attempts are counted against.
#[derive(Debug, Clone, Copy)]
enum Subject<'a> {
    /// An account's email, case-insensitive as the users table compares it.
    Email(&'a str),
    /// An email tried from one address.
    EmailFrom(&'a str, IpAddr),
}

/// A subject as the map keeps it: a hash of its kind and value.
type Key = [u8; 32];

impl Subject<'_> {
    fn key(self) -> Key {
        let mut hash = Sha256::new();
        match self {
            Subject::Email(email) => {
                hash.update(b"email\0");
                hash.update(email.trim().to_lowercase().as_bytes());
            }
            Subject::EmailFrom(email, address) => {
                hash.update(b"email-from\0");
                hash.update(AddressKey::from(address).bits().to_be_bytes());
                hash.update(email.trim().to_lowercase().as_bytes());
            }
        }
        hash.finalize().into()
    }
}

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, Failures>>,
}

struct Failures {
    count: u32,
    /// When the window began: the first failure, then the one that locked the subject.
    since: Instant,
    /// The same moment in unix seconds, to compare with an operator's unlock.
    since_unix: i64,
}

impl Failures {
    fn start() -> Failures {
        Failures { count: 0, since: Instant::now(), since_unix: unix_now() }
    }

    fn expired(&self) -> bool {
        self.since.elapsed() >= WINDOW
    }

    fn locked(&self) -> bool {
        self.count >= MAX_FAILURES && !self.expired()
    }

    /// How long the lockout still lasts.
    fn remaining(&self) -> Duration {
        WINDOW.saturating_sub(self.since.elapsed())
    }
}

impl Throttle {
    /// Starts a sign-in (or sign-up) attempt for `email` from `address`, counted as failed until
    /// [`Throttle::signed_in`] says otherwise; `Err(wait)` while the email is locked AND this
    /// address has failed for it. `unlocked_at` is when an operator last unlocked the account
    /// (unix seconds), if ever.
    pub fn begin_sign_in(&self, email: &str, address: IpAddr, unlocked_at: Option<i64>) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (email_key, here_key) = (Subject::Email(email).key(), Subject::EmailFrom(email, address).key());
        if let Some(f) = failures.get(&email_key)
            && unlocked_at.is_some_and(|unlocked| unlocked >= f.since_unix)
        {
            failures.remove(&email_key);
        }
        if let (Some(email_failures), Some(failures_here)) = (failures.get(&email_key), failures.get(&here_key))
            && email_failures.locked()
            && !failures_here.expired()
        {
            return Err(email_failures.remaining().min(failures_here.remaining()));
        }
        count(&mut failures, email_key)?;
        count(&mut failures, here_key)
    }

    /// The right password: forgets the email's failures and this address's, not other addresses'.
    pub fn signed_in(&self, email: &str, address: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Subject::Email(email).key());
        failures.remove(&Subject::EmailFrom(email, address).key());
    }
}

/// Counts one more (so far failed) attempt for `key`, making room for it if needed.
fn count(failures: &mut HashMap<Key, Failures>, key: Key) -> Result<(), Duration> {
    if failures.len() >= MAX_TRACKED && !failures.contains_key(&key) {
        make_room(failures)?;
    }
    let entry = failures.entry(key).or_insert_with(Failures::start);
    if entry.expired() {
        *entry = Failures::start();
    }
    entry.count += 1;
    if entry.count == MAX_FAILURES {
        // The lockout lasts a whole window from the attempt that triggered it.
        *entry = Failures { count: MAX_FAILURES, ..Failures::start() };
    }
    Ok(())
}

/// Frees at least one place: expired entries go, else the oldest tenth of the unlocked ones.
/// `Err(wait)` when every entry is locked: until the first lockout ends there is no room.
fn make_room(failures: &mut HashMap<Key, Failures>) -> Result<(), Duration> {
    failures.retain(|_, f| !f.expired());
    if failures.len() < MAX_TRACKED {
        return Ok(());
    }
    let mut unlocked: Vec<Instant> = failures.values().filter(|f| !f.locked()).map(|f| f.since).collect();
    if unlocked.is_empty() {
        let first_unlock = failures.values().map(Failures::remaining).min().unwrap_or(WINDOW);
        return Err(first_unlock);
    }
    unlocked.sort_unstable();
    let cutoff = unlocked[unlocked.len() / 10];
    failures.retain(|_, f| f.locked() || f.since > cutoff);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: [u8; 4] = [198, 51, 100, 1];

    /// A sign-in attempt from one address.
    fn attempt(throttle: &Throttle, email: &str) -> Result<(), Duration> {
        throttle.begin_sign_in(email, IpAddr::from(HERE), None)
    }

    #[test]
    fn refuses_after_too_many_attempts_whatever_the_case() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            assert!(attempt(&throttle, "Ann@example.com").is_ok());
        }
        assert!(attempt(&throttle, "ann@example.com").is_err(), "in-flight attempts count too");
        assert!(attempt(&throttle, "bob@example.com").is_ok());
    }

    #[test]
    fn a_locked_email_still_takes_one_try_from_each_address_that_has_not_failed() {
        let throttle = Throttle::default();
        let address = |last: u8| IpAddr::from([198, 51, 100, last]);
        for _ in 0..MAX_FAILURES {
            throttle.begin_sign_in("ann@example.com", address(66), None).unwrap();
        }
        assert!(throttle.begin_sign_in("Ann@example.com", address(66), None).is_err(), "the guesser is locked out");
        assert!(throttle.begin_sign_in("ann@example.com", address(1), None).is_ok(), "the owner's network may try");
        assert!(throttle.begin_sign_in("ann@example.com", address(1), None).is_err(), "once, if that try failed");
        throttle.begin_sign_in("ann@example.com", address(2), None).unwrap();
        throttle.signed_in("ann@example.com", address(2));
        assert!(throttle.begin_sign_in("ann@example.com", address(1), None).is_ok(), "a success lifts the lock");
    }

    #[test]
    fn success_forgets_earlier_failures() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES - 1 {
            attempt(&throttle, "ann@example.com").unwrap();
        }
        throttle.signed_in("ann@example.com", IpAddr::from(HERE));
        for _ in 0..MAX_FAILURES {
            assert!(attempt(&throttle, "ann@example.com").is_ok());
        }
    }

    #[test]
    fn an_unlock_after_the_lockout_lifts_it() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            attempt(&throttle, "ann@example.com").unwrap();
        }
        let locked_at = unix_now();
        let here = IpAddr::from(HERE);
        let older = throttle.begin_sign_in("ann@example.com", here, Some(locked_at - 60));
        assert!(older.is_err(), "an older unlock does not");
        assert!(throttle.begin_sign_in("ann@example.com", here, Some(locked_at)).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = Throttle::default();
        for i in 0..MAX_TRACKED + 50 {
            attempt(&throttle, &format!("user{i}@example.com")).unwrap();
        }
        assert!(throttle.failures.lock().unwrap().len() <= MAX_TRACKED);
    }

    #[test]
    fn flooding_the_map_never_unlocks_a_locked_subject() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            attempt(&throttle, "victim@example.com").unwrap();
        }
        for i in 0..3 * MAX_TRACKED {
            attempt(&throttle, &format!("flood{i}@example.com")).unwrap();
        }
        assert!(
            attempt(&throttle, "victim@example.com").is_err(),
            "the victim's lockout must outlast a flood of other addresses"
        );
    }

    #[test]
    fn a_map_full_of_locked_subjects_refuses_new_ones() {
        let throttle = Throttle::default();
        // Each email tried from one address takes two places: the email's, and the pair's.
        for i in 0..MAX_TRACKED / 2 {
            for _ in 0..MAX_FAILURES {
                attempt(&throttle, &format!("locked{i}@example.com")).unwrap();
            }
        }
        let wait = attempt(&throttle, "newcomer@example.com").expect_err("no room without unlocking anyone");
        assert!(wait > Duration::ZERO && wait <= WINDOW, "{wait:?}");
        assert!(attempt(&throttle, "locked0@example.com").is_err());
        assert_eq!(throttle.failures.lock().unwrap().len(), MAX_TRACKED);
    }
}
