//! The caller's standing against the quota, and the rate-limit headers every counted answer and
//! the 429 carry.

use bytes::BytesMut;
use warp::http::{HeaderName, HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::window::Period;

/// The caller's standing: the limit in force, and the count in its current period.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// The limit in force.
    pub limit: u64,
    /// Calls counted in the current period.
    pub count: u64,
    /// The current period of the limit's window.
    pub period: Period,
    /// When the standing was taken (unix seconds), for the time left in the period.
    pub now: i64,
}

impl Usage {
    /// Calls left in the current period.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.count)
    }

    /// Seconds until the period ends and the count starts again at 0; `None` for a total.
    pub fn resets_in(&self) -> Option<u64> {
        self.period.end().map(|end| end.saturating_sub(self.now).max(1) as u64)
    }

    /// The one place the rate-limit headers are built, for every counted answer and the 429 (the
    /// policy's name, `calls`, says that the quota counts API calls):
    /// - `RateLimit-Policy: "calls";q=100;w=86400` and `RateLimit: "calls";r=42;t=3600`
    ///   (draft-ietf-httpapi-ratelimit-headers-10 §3, §4: a List of one String Item). A lifetime
    ///   total has no window and no quota ever comes back, so it has no `w` and no `t` (both
    ///   optional, §3.1, §4.1): `"calls";q=1000` and `"calls";r=999`. A month's `w` is the length
    ///   of the current month.
    /// - `RateLimit-Limit` and `RateLimit-Remaining`, the draft's earlier fields, which clients
    ///   written against it read.
    /// - `Retry-After` on a 429 in a window: the seconds until the window resets (RFC 9110
    ///   §10.2.3), equal to `t` as the draft asks (§6: not earlier than the reset).
    ///
    /// They are on every counted answer, so their values are written by hand into one buffer (one
    /// allocation for all four, no `format!`), and their names are made once.
    pub fn add_headers(&self, response: &mut Response) {
        let window = self.period.length().zip(self.resets_in());
        if let Some((_, resets_in)) = window
            && response.status() == StatusCode::TOO_MANY_REQUESTS
        {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(resets_in));
        }
        let remaining = self.remaining();
        let mut values = Values(BytesMut::with_capacity(96));
        let limit = values.number(self.limit);
        let remaining_value = values.number(remaining);
        values.push(POLICY_PREFIX);
        values.push_number(self.limit);
        if let Some((length, _)) = window {
            values.push(b";w=");
            values.push_number(length as u64);
        }
        let policy = values.value();
        values.push(STANDING_PREFIX);
        values.push_number(remaining);
        if let Some((_, resets_in)) = window {
            values.push(b";t=");
            values.push_number(resets_in);
        }
        let standing = values.value();
        let headers = response.headers_mut();
        for (name, value) in NAMES.iter().zip([limit, remaining_value, policy, standing]) {
            // Digits, quotes and letters only: always a valid header value.
            if let Some(value) = value {
                headers.insert(name, value);
            }
        }
    }
}

/// `RateLimit-Policy`'s and `RateLimit`'s values up to their first number.
const POLICY_PREFIX: &[u8] = b"\"calls\";q=";
const STANDING_PREFIX: &[u8] = b"\"calls\";r=";

/// The names of [`HEADERS`] but `Retry-After`, in the order [`Usage::add_headers`] fills them.
static NAMES: [HeaderName; 4] = [
    HeaderName::from_static(HEADERS[0]),
    HeaderName::from_static(HEADERS[1]),
    HeaderName::from_static(HEADERS[2]),
    HeaderName::from_static(HEADERS[3]),
];

/// Header values written one after the other into one buffer, each split off when complete.
struct Values(BytesMut);

impl Values {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Appends `n` in decimal.
    fn push_number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[start..]);
    }

    /// What was pushed since the last value, as a value.
    fn value(&mut self) -> Option<HeaderValue> {
        HeaderValue::from_maybe_shared(self.0.split().freeze()).ok()
    }

    /// `n` as a value of its own.
    fn number(&mut self, n: u64) -> Option<HeaderValue> {
        self.push_number(n);
        self.value()
    }
}

/// The headers a browser may read on a cross-origin answer (CORS `Access-Control-Expose-Headers`).
pub const HEADERS: [&str; 5] =
    ["ratelimit-limit", "ratelimit-remaining", "ratelimit-policy", "ratelimit", "retry-after"];
