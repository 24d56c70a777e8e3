//! Slows password guessing: at most [`MAX_FAILURES`] sign-in (or sign-up) attempts for one
//! subject within [`WINDOW`] may fail; after that, attempts for that subject are refused for
//! another [`WINDOW`]. An attempt counts as failed from the moment it starts, so parallel guesses
//! cannot slip past the limit while their passwords are being checked; a successful sign-in
//! forgets the count. Unknown addresses are counted the same way, so the lockout tells nothing
//! about which accounts exist. Kept in memory: a restart forgets, which is fine for a brake on
//! guessing. An operator lifts a lockout with `gpt-todo user unlock`, which stamps the user's
//! row; an attempt passes the time of that stamp in, and a lockout that began before it is
//! forgotten.
//!
//! A subject is what attempts are counted against ([`Subject::Email`] today; a client address
//! would be another variant). It is stored as a fixed-size hash, so memory per entry does not
//! depend on what a client sends, and the map holds at most [`MAX_TRACKED`] entries. When it is
//! full, expired entries go first, then unlocked ones (oldest first); a locked entry is never
//! dropped before its lockout ends, so flooding the map buys no extra guesses. A map full of
//! locked entries refuses attempts for new subjects until one expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::clock::unix_now;

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory when someone tries very many addresses (about 100 bytes an entry).
pub const MAX_TRACKED: usize = 10_000;

/// What attempts are counted against.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An account's email, case-insensitive as the users table compares it.
    Email(&'a str),
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
    /// Starts an attempt for `subject`, counted as failed until [`Throttle::succeeded`] says
    /// otherwise; `Err(wait)` while attempts for `subject` are refused. `unlocked_at` is when an
    /// operator last unlocked the account (unix seconds), if ever.
    pub fn begin_attempt(&self, subject: Subject, unlocked_at: Option<i64>) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = subject.key();
        if let Some(f) = failures.get(&key)
            && unlocked_at.is_some_and(|unlocked| unlocked >= f.since_unix)
        {
            failures.remove(&key);
        }
        if let Some(f) = failures.get(&key)
            && f.locked()
        {
            return Err(f.remaining());
        }
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&key) {
            make_room(&mut failures)?;
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

    pub fn succeeded(&self, subject: Subject) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&subject.key());
    }
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

    fn email(address: &str) -> Subject<'_> {
        Subject::Email(address)
    }

    #[test]
    fn refuses_after_too_many_attempts_whatever_the_case() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.begin_attempt(email("Ann@example.com"), None).is_ok());
        }
        assert!(throttle.begin_attempt(email("ann@example.com"), None).is_err(), "in-flight attempts count too");
        assert!(throttle.begin_attempt(email("bob@example.com"), None).is_ok());
    }

    #[test]
    fn success_forgets_earlier_failures() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.begin_attempt(email("ann@example.com"), None).unwrap();
        }
        throttle.succeeded(email("ann@example.com"));
        for _ in 0..MAX_FAILURES {
            assert!(throttle.begin_attempt(email("ann@example.com"), None).is_ok());
        }
    }

    #[test]
    fn an_unlock_after_the_lockout_lifts_it() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            throttle.begin_attempt(email("ann@example.com"), None).unwrap();
        }
        let locked_at = unix_now();
        assert!(
            throttle.begin_attempt(email("ann@example.com"), Some(locked_at - 60)).is_err(),
            "an older unlock does not"
        );
        assert!(throttle.begin_attempt(email("ann@example.com"), Some(locked_at)).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = Throttle::default();
        for i in 0..MAX_TRACKED + 50 {
            throttle.begin_attempt(email(&format!("user{i}@example.com")), None).unwrap();
        }
        assert!(throttle.failures.lock().unwrap().len() <= MAX_TRACKED);
    }

    #[test]
    fn flooding_the_map_never_unlocks_a_locked_subject() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            throttle.begin_attempt(email("victim@example.com"), None).unwrap();
        }
        for i in 0..3 * MAX_TRACKED {
            throttle.begin_attempt(email(&format!("flood{i}@example.com")), None).unwrap();
        }
        assert!(
            throttle.begin_attempt(email("victim@example.com"), None).is_err(),
            "the victim's lockout must outlast a flood of other addresses"
        );
    }

    #[test]
    fn a_map_full_of_locked_subjects_refuses_new_ones() {
        let throttle = Throttle::default();
        for i in 0..MAX_TRACKED {
            for _ in 0..MAX_FAILURES {
                throttle.begin_attempt(email(&format!("locked{i}@example.com")), None).unwrap();
            }
        }
        let wait =
            throttle.begin_attempt(email("newcomer@example.com"), None).expect_err("no room without unlocking anyone");
        assert!(wait > Duration::ZERO && wait <= WINDOW, "{wait:?}");
        assert!(throttle.begin_attempt(email("locked0@example.com"), None).is_err());
        assert_eq!(throttle.failures.lock().unwrap().len(), MAX_TRACKED);
    }
}
