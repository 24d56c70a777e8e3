//! Per-address rate limits for the public endpoints that need no account to call (the sign-in
//! form, the token endpoint, dynamic client registration): a token bucket per client address,
//! kept in memory in a map of bounded size.
//!
//! A bucket holds up to `burst` requests and refills at `per_minute`; a request takes one, and an
//! empty bucket says how long until the next one. A restart forgets every bucket, which is fine
//! for a brake on abuse. IPv6 addresses share a bucket per /64: one host usually holds a whole
//! /64, so counting single addresses would give it billions of buckets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many addresses one limiter tracks at most.
const MAX_ADDRESSES: usize = 10_000;

/// How many requests an address may send: `burst` at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

/// The limits of each public endpoint.
impl Rate {
    /// Sign-in and sign-up posts: a person needs a few; a password guesser is slowed to 10 a minute.
    pub const SIGN_IN: Rate = Rate { burst: 10, every: Duration::from_secs(6) };
    /// Token requests: a GPT's servers refresh the tokens of all its users from a few addresses,
    /// so this is generous (120 a minute); it only bounds a flood.
    pub const TOKEN: Rate = Rate { burst: 60, every: Duration::from_millis(500) };
    /// Dynamic client registration (RFC 7591): an MCP client registers once, not every minute;
    /// 20 an hour.
    pub const REGISTRATION: Rate = Rate { burst: 20, every: Duration::from_secs(180) };

    fn refill_per_second(&self) -> f64 {
        1.0 / self.every.as_secs_f64()
    }
}

/// One limiter per public endpoint, each with its own buckets, shared by every request.
pub struct PublicLimits {
    pub sign_in: RateLimiter,
    pub token: RateLimiter,
    pub registration: RateLimiter,
}

impl Default for PublicLimits {
    fn default() -> PublicLimits {
        PublicLimits {
            sign_in: RateLimiter::new(Rate::SIGN_IN),
            token: RateLimiter::new(Rate::TOKEN),
            registration: RateLimiter::new(Rate::REGISTRATION),
        }
    }
}

pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<AddressKey, Bucket>>,
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
}

impl RateLimiter {
    pub fn new(rate: Rate) -> RateLimiter {
        RateLimiter { rate, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `address`'s bucket, or says how long until it may send one.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        self.check_at(address, Instant::now())
    }

    fn check_at(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let key = AddressKey::from(address);
        if !buckets.contains_key(&key) && buckets.len() >= MAX_ADDRESSES {
            make_room(&mut buckets, self.rate, now);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: f64::from(self.rate.burst), updated: now });
        bucket.refill(self.rate, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - bucket.tokens) / self.rate.refill_per_second();
        Err(Duration::from_secs_f64(wait.max(0.0)).max(Duration::from_secs(1)))
    }
}

/// Forgets the buckets that have refilled (an absent bucket is a full one, so nothing changes for
/// them); if every address is still limited, forgets the fullest one, whose address is the least
/// limited: an address being held back keeps its empty bucket.
fn make_room(buckets: &mut HashMap<AddressKey, Bucket>, rate: Rate, now: Instant) {
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
