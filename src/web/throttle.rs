//! Slows password guessing: at most [`MAX_FAILURES`] sign-in (or sign-up) attempts for one
//! email within [`WINDOW`] may fail; after that, the email is locked for another [`WINDOW`].
//!
//! The lock does not apply to everyone, so that a stranger cannot lock an account for its owner:
//! an address (IPv6: its /64) that has not failed for that email within the window may still try
//! it. The owner, signing in from their usual network, gets in with the right password while
//! someone else guesses from theirs; each such try that fails marks its address too, so a guesser
//! gets one more attempt per address they control, and the per-address budgets
//! (`crate::http::rate_limit`) bound how fast they can use even that.
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
//! hash, so memory per entry does not depend on what a client sends. The map is bounded twice,
//! so that nobody can fill it to lock others out (issue 18: 26,000 posts from 2,600 addresses
//! once did):
//! - each address (IPv6: its /56, what one customer of an ISP gets) holds at most
//!   [`PER_ADDRESS`] entries. A new one replaces the address's own oldest entry that holds a
//!   single failure (an attempt in flight, a typo); an address whose entries all hold repeated
//!   failures or locks is refused new emails until its first entry expires. Only that address
//!   is held back.
//! - the whole map holds at most [`MAX_TRACKED`] entries. When it is full, an attempt that needs
//!   a new entry is let through without one ([`Attempt::recorded`] is false), and the caller
//!   makes the address's failure budget pay for it up front.
//!
//! Neither bound ever drops another address's entry, nor a locked one before its lockout ends,
//! so flooding the map buys a guesser no extra guesses and keeps nobody else out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::http::rate_limit::AddressKey;
use crate::support::clock::unix_now;

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory when someone tries very many addresses (about 150 bytes an entry).
pub const MAX_TRACKED: usize = 50_000;
/// How many entries one address may hold: an attempt takes at most two (the email's, the pair's).
pub const PER_ADDRESS: usize = 16;

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

/// The address an entry is charged to: all of IPv4, the /56 prefix of IPv6.
type Owner = u128;

fn owner(address: IpAddr) -> Owner {
    match address.to_canonical() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6) & !((1u128 << 72) - 1) | 1,
    }
}

#[derive(Default)]
pub struct Throttle {
    map: Mutex<Map>,
}

#[derive(Default)]
struct Map {
    failures: HashMap<Key, Failures>,
    /// The keys each address holds, oldest first (at most [`PER_ADDRESS`]).
    held: HashMap<Owner, Vec<Key>>,
    /// When expired entries were last swept out of a full map.
    swept: Option<Instant>,
}

struct Failures {
    count: u32,
    /// When the window began: the first failure, then the one that locked the subject.
    since: Instant,
    /// The same moment in unix seconds, to compare with an operator's unlock.
    since_unix: i64,
    owner: Owner,
}

impl Failures {
    fn start(owner: Owner) -> Failures {
        Failures { count: 0, since: Instant::now(), since_unix: unix_now(), owner }
    }

    fn expired(&self) -> bool {
        self.since.elapsed() >= WINDOW
    }

    fn locked(&self) -> bool {
        self.count >= MAX_FAILURES && !self.expired()
    }

    /// An entry its address may give up for a new one: it holds no more than one failure.
    fn replaceable(&self) -> bool {
        self.expired() || self.count <= 1
    }

    /// How long the lockout (or the window) still lasts.
    fn remaining(&self) -> Duration {
        WINDOW.saturating_sub(self.since.elapsed())
    }
}

/// An attempt the throttle let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Whether it is counted here. When the map is full it is not, and the caller's per-address
    /// budget must count it instead.
    pub recorded: bool,
}

/// Why an attempt may not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Too many failures for this email from this address: the wait until the lock ends.
    Locked(Duration),
    /// This address holds its share of the map in repeated failures: the wait until one expires.
    AddressFull(Duration),
}

impl Throttle {
    /// Starts a sign-in (or sign-up) attempt for `email` from `address`, counted as failed until
    /// [`Throttle::signed_in`] says otherwise; [`Held::Locked`] while the email is locked AND this
    /// address has failed for it. `unlocked_at` is when an operator last unlocked the account
    /// (unix seconds), if ever.
    pub fn begin_sign_in(&self, email: &str, address: IpAddr, unlocked_at: Option<i64>) -> Result<Attempt, Held> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let (email_key, here_key) = (Subject::Email(email).key(), Subject::EmailFrom(email, address).key());
        if let Some(f) = map.failures.get(&email_key)
            && unlocked_at.is_some_and(|unlocked| unlocked >= f.since_unix)
        {
            map.remove(&email_key);
        }
        if let (Some(email_failures), Some(failures_here)) = (map.failures.get(&email_key), map.failures.get(&here_key))
            && email_failures.locked()
            && !failures_here.expired()
        {
            return Err(Held::Locked(email_failures.remaining().min(failures_here.remaining())));
        }
        let owner = owner(address);
        // The pair first: it is what refuses this address later.
        let recorded = map.failures.contains_key(&here_key) || map.make_room(owner, None)?;
        if recorded {
            map.count(here_key, owner);
        }
        if map.failures.contains_key(&email_key) || map.make_room(owner, Some(&here_key))? {
            map.count(email_key, owner);
        }
        Ok(Attempt { recorded })
    }

    /// The right password: forgets the email's failures and this address's, not other addresses'.
    pub fn signed_in(&self, email: &str, address: IpAddr) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&Subject::Email(email).key());
        map.remove(&Subject::EmailFrom(email, address).key());
    }
}

impl Map {
    /// Counts one more (so far failed) attempt for `key`, a new entry of `owner`'s if needed
    /// (after [`Map::make_room`]).
    fn count(&mut self, key: Key, owner: Owner) {
        let entry = self.failures.entry(key).or_insert_with(|| Failures::start(owner));
        if entry.expired() {
            *entry = Failures::start(entry.owner);
        }
        entry.count += 1;
        if entry.count == MAX_FAILURES {
            // The lockout lasts a whole window from the attempt that triggered it.
            *entry = Failures { count: MAX_FAILURES, ..Failures::start(entry.owner) };
        }
        let entry_owner = entry.owner;
        let held = self.held.entry(entry_owner).or_default();
        if !held.contains(&key) {
            held.push(key);
        }
    }

    /// Makes room for a new entry of `owner`: within its share, by giving up its own oldest
    /// replaceable entry; then within the map, by sweeping out expired entries (at most once a
    /// second, since that reads the whole map). `Ok(false)`: the map is full. `spare` is never
    /// given up.
    fn make_room(&mut self, owner: Owner, spare: Option<&Key>) -> Result<bool, Held> {
        let held = self.held.get(&owner).map_or(0, Vec::len);
        if held >= PER_ADDRESS {
            let keys = &self.held[&owner];
            let replaceable =
                |key: &&Key| Some(*key) != spare && self.failures.get(*key).is_none_or(Failures::replaceable);
            let oldest = keys.iter().find(replaceable).copied();
            match oldest {
                Some(key) => self.remove(&key),
                None => {
                    let first_to_expire = keys.iter().filter_map(|key| self.failures.get(key)).map(Failures::remaining);
                    return Err(Held::AddressFull(first_to_expire.min().unwrap_or(WINDOW)));
                }
            }
        }
        if self.failures.len() < MAX_TRACKED {
            return Ok(true);
        }
        if self.swept.is_none_or(|swept| swept.elapsed() >= Duration::from_secs(1)) {
            self.swept = Some(Instant::now());
            self.failures.retain(|_, f| !f.expired());
            let failures = &self.failures;
            self.held.retain(|_, keys| {
                keys.retain(|key| failures.contains_key(key));
                !keys.is_empty()
            });
        }
        Ok(self.failures.len() < MAX_TRACKED)
    }

    fn remove(&mut self, key: &Key) {
        let Some(gone) = self.failures.remove(key) else { return };
        if let Some(keys) = self.held.get_mut(&gone.owner) {
            keys.retain(|held| held != key);
            if keys.is_empty() {
                self.held.remove(&gone.owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: [u8; 4] = [198, 51, 100, 1];

    /// A sign-in attempt from one address.
    fn attempt(throttle: &Throttle, email: &str) -> Result<Attempt, Held> {
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
        assert!(throttle.map.lock().unwrap().failures.len() <= MAX_TRACKED);
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

    /// Locks `emails` emails from `address`, each after [`MAX_FAILURES`] failures.
    fn lock_from(throttle: &Throttle, address: IpAddr, emails: impl Iterator<Item = String>) {
        for email in emails {
            for _ in 0..MAX_FAILURES {
                throttle.begin_sign_in(&email, address, None).unwrap();
            }
        }
    }

    // Replaces `a_map_full_of_locked_subjects_refuses_new_ones` (issue 18): a full map refused
    // every new (email, address) pair, so a flood of locked entries locked everyone out.
    #[test]
    fn a_full_map_lets_a_pair_that_never_failed_through_uncounted_and_keeps_its_locks() {
        let throttle = Throttle::default();
        let guesser = IpAddr::from([198, 51, 100, 66]);
        lock_from(&throttle, guesser, std::iter::once("victim@example.com".to_owned()));
        // Each address locks as many emails as its share holds: the map fills with locks.
        let mut address = 0x0a00_0000u32;
        while throttle.map.lock().unwrap().failures.len() < MAX_TRACKED {
            address += 1;
            let emails = (0..PER_ADDRESS / 2).map(|i| format!("f{address}-{i}@x"));
            lock_from(&throttle, IpAddr::from(address.to_be_bytes()), emails);
        }
        let owner = IpAddr::from([203, 0, 113, 5]);
        let attempt = throttle.begin_sign_in("ann@example.com", owner, None).expect("the owner is let through");
        assert!(!attempt.recorded, "with no room the attempt is not counted here (its address budget pays)");
        throttle.signed_in("ann@example.com", owner);
        assert!(
            matches!(throttle.begin_sign_in("victim@example.com", guesser, None), Err(Held::Locked(_))),
            "the guesser stays locked through the flood"
        );
        assert!(throttle.map.lock().unwrap().failures.len() <= MAX_TRACKED);
    }

    #[test]
    fn an_address_holds_at_most_its_share_and_only_holds_itself_back() {
        let throttle = Throttle::default();
        let here = IpAddr::from(HERE);
        lock_from(&throttle, here, (0..PER_ADDRESS / 2).map(|i| format!("locked{i}@example.com")));
        let Err(Held::AddressFull(wait)) = throttle.begin_sign_in("next@example.com", here, None) else {
            panic!("an address whose share is all locks may not try a new email");
        };
        assert!(wait > Duration::ZERO && wait <= WINDOW, "{wait:?}");
        assert!(throttle.begin_sign_in("next@example.com", IpAddr::from([198, 51, 100, 2]), None).unwrap().recorded);
        // IPv6: the share is the /56's.
        let v6 = |n: u16| IpAddr::from([0x2001, 0xdb8, 0, n, 0, 0, 0, 1]);
        lock_from(&throttle, v6(0x01), (0..PER_ADDRESS / 2).map(|i| format!("six{i}@example.com")));
        assert!(throttle.begin_sign_in("x@example.com", v6(0xff), None).is_err(), "same /56");
        assert!(throttle.begin_sign_in("x@example.com", v6(0x100), None).is_ok(), "another /56");
    }

    #[test]
    fn a_shared_address_may_have_many_people_signing_in_at_once() {
        let throttle = Throttle::default();
        let tunnel = IpAddr::from(HERE);
        // 40 attempts in flight (each counted as failed until it succeeds) replace one another's
        // single failures within the address's share.
        for person in 0..40 {
            let attempt = throttle.begin_sign_in(&format!("person{person}@example.com"), tunnel, None).unwrap();
            assert!(attempt.recorded);
        }
        assert!(throttle.map.lock().unwrap().failures.len() <= PER_ADDRESS);
        for person in 0..40 {
            throttle.signed_in(&format!("person{person}@example.com"), tunnel);
        }
        for _ in 0..MAX_FAILURES {
            attempt(&throttle, "ann@example.com").unwrap();
        }
        assert!(attempt(&throttle, "ann@example.com").is_err(), "a guess at one account is still locked");
    }
}
