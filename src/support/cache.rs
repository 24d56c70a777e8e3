//! A small in-memory cache of answers from other servers (remote user info, Client ID Metadata
//! Documents), keyed by a string, each entry fresh for a time its reader decides. Its size is
//! bounded: when full, expired entries go, and if none have, the oldest half.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<V> {
    capacity: usize,
    entries: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(capacity: usize) -> TtlCache<V> {
        TtlCache { capacity, entries: Mutex::new(HashMap::new()) }
    }

    /// The value for `key`, if it is younger than `ttl(value)`.
    pub fn get(&self, key: &str, ttl: impl Fn(&V) -> Duration) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (value, at) = entries.get(key)?;
        (at.elapsed() < ttl(value)).then(|| value.clone())
    }

    /// Stores `value`; `longest_ttl` tells which entries are surely expired when room is needed.
    pub fn insert(&self, key: String, value: V, longest_ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, at)| at.elapsed() < longest_ttl);
        }
        if entries.len() >= self.capacity {
            let mut ages: Vec<Instant> = entries.values().map(|(_, at)| *at).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            entries.retain(|_, (_, at)| *at > cutoff);
        }
        entries.insert(key, (value, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_memory_stays_bounded() {
        let cache = TtlCache::new(10);
        cache.insert("a".into(), 1, Duration::from_secs(60));
        assert_eq!(cache.get("a", |_| Duration::from_secs(60)), Some(1));
        assert_eq!(cache.get("a", |_| Duration::ZERO), None);
        for i in 0..25 {
            cache.insert(i.to_string(), i, Duration::from_secs(60));
        }
        let held = cache.entries.lock().unwrap().len();
        assert!(held <= 10, "{held} entries");
    }
}
