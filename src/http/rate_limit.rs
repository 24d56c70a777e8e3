//! Per-address budgets for the public endpoints that need no account to call (the sign-in
//! form, the token endpoint, dynamic client registration): a token bucket per client address
//! (or per client and address), kept in memory in a map of bounded size.
//!
//! A bucket holds up to `burst` requests and refills at `burst` per `period`. Most budgets count
//! failures, not requests, so that a GPT's or an assistant's backend serving many people from one
//! address is not held back by its customers: a request first [`RateLimiter::peek`]s (refused
//! while the bucket is empty) and takes a token only if it failed ([`RateLimiter::charge`]).
//! Registration counts every request that would store a row ([`RateLimiter::check`]). A restart
//! forgets every bucket, which is fine for a brake on abuse. IPv6 addresses share a bucket per
//! /64: one host usually holds a whole /64, so counting single addresses would give it billions
//! of buckets.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How many keys (addresses, or clients at an address) one limiter tracks at most.
const MAX_ADDRESSES: usize = 10_000;

/// How many requests an address may send: `burst` at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

/// The default budgets of the public endpoints (each one a `serve` flag).
impl Rate {
    /// Failed sign-in posts (wrong passwords): a person needs a few; a password guesser is slowed
    /// to 10 a minute.
    pub const SIGN_IN: Rate = Rate::per(10, Duration::from_secs(60));
    /// Sign-ins and sign-ups, successful or not: bounds the password hashing one address can ask
    /// for, far above what the people behind one tunnel or office address need.
    pub const SIGN_IN_WORK: Rate = Rate::per(120, Duration::from_secs(60));
    /// Token requests with a grant that is invalid, expired or already used, per client and
    /// address: an authenticated GPT backend's bad grants are its users' retries (codes and
    /// refresh tokens cannot be guessed), so this only bounds a flood.
    pub const TOKEN: Rate = Rate::per(300, Duration::from_secs(60));
    /// Token and revocation requests with an unknown client or a wrong client secret, per address.
    pub const CLIENT_AUTH: Rate = Rate::per(60, Duration::from_secs(60));
    /// Dynamic client registration (RFC 7591): an assistant registers a client each time a person
    /// connects it, from a few addresses; 120 at once, then 120 an hour.
    pub const REGISTRATION: Rate = Rate::per(120, Duration::from_secs(3600));

    /// `burst` at once, refilled evenly over `period`.
    pub const fn per(burst: u32, period: Duration) -> Rate {
        Rate { burst, every: Duration::from_nanos((period.as_nanos() / burst as u128) as u64) }
    }

    fn refill_per_second(&self) -> f64 {
        1.0 / self.every.as_secs_f64()
    }
}

/// `N/min` (also `N/s`, `N/h`, `N/15min`, or `N` alone for a minute): N at once, N per period.
impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let refuse = || format!("'{text}' is not a rate; write it like 10/min, 120/h or 5/s");
        let (count, period) = text.trim().split_once('/').unwrap_or((text.trim(), "min"));
        let burst: u32 = count.trim().parse().ok().filter(|n| *n > 0).ok_or_else(refuse)?;
        let period = period.trim();
        let unit_start = period.find(|c: char| !c.is_ascii_digit()).unwrap_or(period.len());
        let times: u64 = match &period[..unit_start] {
            "" => 1,
            n => n.parse().ok().filter(|n| *n > 0).ok_or_else(refuse)?,
        };
        let unit = match &period[unit_start..] {
            "s" | "sec" => 1,
            "min" | "m" => 60,
            "h" | "hour" => 3600,
            _ => return Err(refuse()),
        };
        Ok(Rate::per(burst, Duration::from_secs(times * unit)))
    }
}

/// The budgets of the public endpoints, as configured (`serve`'s flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublicRates {
    pub failed_sign_ins: Rate,
    pub sign_ins: Rate,
    pub bad_grants: Rate,
    pub failed_client_auth: Rate,
    pub registrations: Rate,
}

impl Default for PublicRates {
    fn default() -> PublicRates {
        PublicRates {
            failed_sign_ins: Rate::SIGN_IN,
            sign_ins: Rate::SIGN_IN_WORK,
            bad_grants: Rate::TOKEN,
            failed_client_auth: Rate::CLIENT_AUTH,
            registrations: Rate::REGISTRATION,
        }
    }
}

/// One limiter per budget, each with its own buckets, shared by every request.
pub struct PublicLimits {
    /// Wrong passwords (the OAuth sign-in page and the console share it).
    pub sign_in: RateLimiter,
    /// Every sign-in and sign-up that reaches a password hash.
    pub sign_in_work: RateLimiter,
    /// Bad grants at the token endpoint, per client and address.
    pub token: RateLimiter<ClientAtAddress>,
    /// Wrong client credentials at the token and revocation endpoints.
    pub client_auth: RateLimiter,
    pub registration: RateLimiter,
}

impl PublicLimits {
    pub fn new(rates: PublicRates) -> PublicLimits {
        PublicLimits {
            sign_in: RateLimiter::new(rates.failed_sign_ins),
            sign_in_work: RateLimiter::new(rates.sign_ins),
            token: RateLimiter::keyed(rates.bad_grants),
            client_auth: RateLimiter::new(rates.failed_client_auth),
            registration: RateLimiter::new(rates.registrations),
        }
    }
}

impl Default for PublicLimits {
    fn default() -> PublicLimits {
        PublicLimits::new(PublicRates::default())
    }
}

pub struct RateLimiter<K = AddressKey> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// The part of an address that identifies one client: all of IPv4, the /64 prefix of IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(u128);

impl AddressKey {
    /// The key as a number, for other maps that count per address (`oauth::throttle` hashes it).
    pub fn bits(self) -> u128 {
        self.0
    }
}

impl From<IpAddr> for AddressKey {
    fn from(address: IpAddr) -> AddressKey {
        match address.to_canonical() {
            IpAddr::V4(v4) => AddressKey(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => AddressKey(u128::from(v6) & !u128::from(u64::MAX) | 1 << 127),
        }
    }
}

/// One client (by id) calling from one address: a fixed-size hash, whatever the id's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAtAddress([u8; 16]);

impl ClientAtAddress {
    pub fn new(client_id: &str, address: IpAddr) -> ClientAtAddress {
        let mut hash = Sha256::new();
        hash.update(AddressKey::from(address).bits().to_be_bytes());
        hash.update(client_id.as_bytes());
        let digest: [u8; 32] = hash.finalize().into();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        ClientAtAddress(key)
    }
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// The tokens as they stand now, refilled for the time since the last update.
    fn refill(&mut self, rate: Rate, now: Instant) {
        let earned = now.duration_since(self.updated).as_secs_f64() * rate.refill_per_second();
        self.tokens = (self.tokens + earned).min(f64::from(rate.burst));
        self.updated = now;
    }

    /// How long until it holds a whole token again.
    fn wait(&self, rate: Rate) -> Duration {
        let wait = (1.0 - self.tokens) / rate.refill_per_second();
        Duration::from_secs_f64(wait.max(0.0)).max(Duration::from_secs(1))
    }
}

impl RateLimiter<AddressKey> {
    pub fn new(rate: Rate) -> RateLimiter {
        RateLimiter::keyed(rate)
    }

    /// Takes one request from `address`'s bucket, or says how long until it may send one.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        self.check_key(AddressKey::from(address), Instant::now())
    }

    /// Whether `address` may try (its bucket is not empty), without taking anything.
    pub fn peek(&self, address: IpAddr) -> Result<(), Duration> {
        self.peek_key(AddressKey::from(address), Instant::now())
    }

    /// Counts a failure of `address` (its bucket may go below empty when failures raced).
    pub fn charge(&self, address: IpAddr) {
        self.charge_key(AddressKey::from(address), Instant::now())
    }

    /// Gives back what [`RateLimiter::check`] took, for a request that turned out fine.
    pub fn refund(&self, address: IpAddr) {
        self.refund_key(AddressKey::from(address), Instant::now())
    }

    #[cfg(test)]
    fn check_at(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        self.check_key(AddressKey::from(address), now)
    }
}

impl<K: Copy + Eq + Hash> RateLimiter<K> {
    /// A limiter with a bucket per `K`.
    pub fn keyed(rate: Rate) -> RateLimiter<K> {
        RateLimiter { rate, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token of `key`'s bucket, or says how long until there is one.
    pub fn check_key(&self, key: K, now: Instant) -> Result<(), Duration> {
        self.with_bucket(key, now, |bucket, rate| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(bucket.wait(rate))
            }
        })
    }

    /// Whether `key`'s bucket holds a token, without taking it.
    pub fn peek_key(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        match buckets.get_mut(&key) {
            // An absent bucket is a full one.
            None => Ok(()),
            Some(bucket) => {
                bucket.refill(self.rate, now);
                if bucket.tokens >= 1.0 { Ok(()) } else { Err(bucket.wait(self.rate)) }
            }
        }
    }

    /// Takes a token of `key`'s bucket after the fact, for a failure: down to one burst below
    /// empty, so failures that raced past [`RateLimiter::peek_key`] still cost their wait.
    pub fn charge_key(&self, key: K, now: Instant) {
        let floor = -f64::from(self.rate.burst);
        self.with_bucket(key, now, |bucket, _| bucket.tokens = (bucket.tokens - 1.0).max(floor));
    }

    /// Gives back a token [`RateLimiter::check_key`] took, for a request that turned out fine.
    pub fn refund_key(&self, key: K, now: Instant) {
        self.with_bucket(key, now, |bucket, rate| bucket.tokens = (bucket.tokens + 1.0).min(f64::from(rate.burst)));
    }

    fn with_bucket<T>(&self, key: K, now: Instant, f: impl FnOnce(&mut Bucket, Rate) -> T) -> T {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= MAX_ADDRESSES {
            make_room(&mut buckets, self.rate, now);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: f64::from(self.rate.burst), updated: now });
        bucket.refill(self.rate, now);
        f(bucket, self.rate)
    }
}

/// Forgets the buckets that have refilled (an absent bucket is a full one, so nothing changes for
/// them); if every address is still limited, forgets the fullest one, whose address is the least
/// limited: an address being held back keeps its empty bucket.
fn make_room<K: Copy + Eq + Hash>(buckets: &mut HashMap<K, Bucket>, rate: Rate, now: Instant) {
    buckets.retain(|_, bucket| {
        bucket.refill(rate, now);
        bucket.tokens < f64::from(rate.burst)
    });
    if buckets.len() >= MAX_ADDRESSES {
        let fullest = buckets.iter().max_by(|a, b| a.1.tokens.total_cmp(&b.1.tokens)).map(|(key, _)| *key);
        if let Some(key) = fullest {
            buckets.remove(&key);
        }
    }
}

/// `Retry-After` in whole seconds, rounded up (RFC 9110 10.2.3).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const RATE: Rate = Rate { burst: 3, every: Duration::from_secs(1) };

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn a_burst_then_the_refill_rate() {
        let limiter = RateLimiter::new(RATE);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at(v4(1), start), Ok(()));
        }
        let wait = limiter.check_at(v4(1), start).unwrap_err();
        assert_eq!(retry_after_seconds(wait), 1, "one request a second refills in a second");
        assert_eq!(limiter.check_at(v4(2), start), Ok(()), "another address has its own bucket");
        assert_eq!(limiter.check_at(v4(1), start + Duration::from_secs(1)), Ok(()));
        assert!(limiter.check_at(v4(1), start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn an_ipv6_host_is_its_64_prefix() {
        let limiter = RateLimiter::new(RATE);
        let now = Instant::now();
        for last in 1..=3 {
            limiter.check_at(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last)), now).unwrap();
        }
        assert!(limiter.check_at(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 9, 9, 9, 9)), now).is_err());
        assert!(limiter.check_at(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1)), now).is_ok());
        // An IPv4-mapped IPv6 address is the IPv4 address, and no IPv6 prefix collides with it.
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        assert_eq!(AddressKey::from(mapped), AddressKey::from(v4(7)));
        assert_ne!(AddressKey::from(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), AddressKey::from(v4(0)));
    }

    #[test]
    fn rates_read_as_a_count_per_period() {
        assert_eq!("10/min".parse::<Rate>().unwrap(), Rate::SIGN_IN);
        assert_eq!("10".parse::<Rate>().unwrap(), Rate::SIGN_IN);
        assert_eq!("120/h".parse::<Rate>().unwrap(), Rate { burst: 120, every: Duration::from_secs(30) });
        assert_eq!("5/s".parse::<Rate>().unwrap(), Rate { burst: 5, every: Duration::from_millis(200) });
        assert_eq!("30/15min".parse::<Rate>().unwrap(), Rate { burst: 30, every: Duration::from_secs(30) });
        for bad in ["", "0/min", "-1/min", "ten/min", "10/fortnight", "10/0min"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn failures_are_charged_after_a_peek_and_successes_cost_nothing() {
        let limiter = RateLimiter::new(RATE);
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(limiter.peek_key(AddressKey::from(v4(1)), start), Ok(()), "a peek takes nothing");
        }
        for _ in 0..3 {
            limiter.charge_key(AddressKey::from(v4(1)), start);
        }
        assert!(limiter.peek_key(AddressKey::from(v4(1)), start).is_err(), "three failures empty the bucket");
        limiter.charge_key(AddressKey::from(v4(1)), start);
        let wait = limiter.peek_key(AddressKey::from(v4(1)), start).unwrap_err();
        assert_eq!(retry_after_seconds(wait), 2, "a failure that raced past the peek still costs its wait");
        assert!(limiter.peek_key(AddressKey::from(v4(2)), start).is_ok());
    }

    #[test]
    fn memory_stays_bounded_and_limited_addresses_stay_limited() {
        let limiter = RateLimiter::new(RATE);
        let now = Instant::now();
        for _ in 0..3 {
            limiter.check_at(v4(1), now).unwrap();
        }
        for n in 0..MAX_ADDRESSES as u32 + 100 {
            let address = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
            let _ = limiter.check_at(address, now);
        }
        assert!(limiter.buckets.lock().unwrap().len() <= MAX_ADDRESSES);
        assert!(limiter.check_at(v4(1), now).is_err(), "the flood must not free the limited address");
    }
}
