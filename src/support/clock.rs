//! Wall-clock time as unix seconds, the form expiry times are stored in, and the server's [`Clock`]
//! for the quota windows, which tests can set.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The time the quota step counts calls at. The server runs on the system clock; a test gives it
/// a [`Clock::manual`] one and moves it with [`Clock::set`] (clones share the time), or a
/// [`Clock::ticking`] one, to count calls across midnight UTC without waiting for it.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Manual>>);

struct Manual {
    time: AtomicI64,
    /// Seconds each reading moves the clock on.
    tick: i64,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `unix_seconds` until it is set.
    pub fn manual(unix_seconds: i64) -> Clock {
        Clock::ticking(unix_seconds, 0)
    }

    /// A clock that starts at `unix_seconds` and moves on `tick` seconds with every reading: the
    /// calls that race through a test see time pass one by one, whatever order they run in.
    pub fn ticking(unix_seconds: i64, tick: i64) -> Clock {
        Clock(Some(Arc::new(Manual { time: AtomicI64::new(unix_seconds), tick })))
    }

    /// Moves a manual clock (and every clone of it); the system clock ignores this.
    pub fn set(&self, unix_seconds: i64) {
        if let Some(manual) = &self.0 {
            manual.time.store(unix_seconds, Ordering::SeqCst);
        }
    }

    /// Now, in unix seconds.
    pub fn now(&self) -> i64 {
        match &self.0 {
            Some(manual) => manual.time.fetch_add(manual.tick, Ordering::SeqCst),
            None => unix_now(),
        }
    }

    /// Now, in unix milliseconds (a manual clock's seconds, times 1000).
    pub fn now_millis(&self) -> i64 {
        match &self.0 {
            Some(manual) => manual.time.fetch_add(manual.tick, Ordering::SeqCst).saturating_mul(1000),
            None => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0),
        }
    }

    /// Now as the database stores a moment: RFC 3339 in UTC with milliseconds
    /// (`2026-12-02T08:03:12.345Z`), as SQLite's `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` wrote it.
    /// Every timestamp gpt-todo writes comes from here, so a test that sets the clock sets them all.
    pub fn timestamp(&self) -> String {
        timestamp_of_millis(self.now_millis())
    }
}

/// `unix_millis` as [`Clock::timestamp`] writes it.
pub fn timestamp_of_millis(unix_millis: i64) -> String {
    use super::calendar::{civil_from_days, push_digits};
    let (seconds, millis) = (unix_millis.div_euclid(1000), unix_millis.rem_euclid(1000) as u32);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400) as u32);
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(24);
    push_digits(&mut out, year.clamp(0, 9999) as u32, 4);
    for (separator, value, digits) in [
        ('-', month, 2),
        ('-', day, 2),
        ('T', second_of_day / 3600, 2),
        (':', second_of_day / 60 % 60, 2),
        (':', second_of_day % 60, 2),
        ('.', millis, 3),
    ] {
        out.push(separator);
        push_digits(&mut out, value, digits);
    }
    out.push('Z');
    out
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(manual) => write!(f, "Clock::ticking({}, {})", manual.time.load(Ordering::SeqCst), manual.tick),
            None => f.write_str("Clock::system()"),
        }
    }
}
