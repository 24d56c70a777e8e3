//! The caller's standing against the quota, and the rate-limit headers every counted answer and
//! the 429 carry.

use warp::http::{HeaderValue, StatusCode, header};
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

/// The policy's name in `RateLimit-Policy` and `RateLimit`: the quota counts API calls.
const POLICY: &str = "calls";

impl Usage {
    /// Calls left in the current period.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.count)
    }

    /// Seconds until the period ends and the count starts again at 0; `None` for a total.
    pub fn resets_in(&self) -> Option<u64> {
        self.period.end().map(|end| end.saturating_sub(self.now).max(1) as u64)
    }

    /// The one place the rate-limit headers are built, for every counted answer and the 429:
    /// - `RateLimit-Policy: "calls";q=100;w=86400` and `RateLimit: "calls";r=42;t=3600`
    ///   (draft-ietf-httpapi-ratelimit-headers-10 §3, §4: a List of one String Item). A lifetime
    ///   total has no window and no quota ever comes back, so it has no `w` and no `t` (both
    ///   optional, §3.1, §4.1): `"calls";q=1000` and `"calls";r=999`. A month's `w` is the length
    ///   of the current month.
    /// - `RateLimit-Limit` and `RateLimit-Remaining`, the draft's earlier fields, which clients
    ///   written against it read.
    /// - `Retry-After` on a 429 in a window: the seconds until the window resets (RFC 9110
    ///   §10.2.3), equal to `t` as the draft asks (§6: not earlier than the reset).
    pub fn add_headers(&self, response: &mut Response) {
        let mut policy = format!("\"{POLICY}\";q={}", self.limit);
        let mut limit = format!("\"{POLICY}\";r={}", self.remaining());
        if let (Some(window), Some(resets_in)) = (self.period.length(), self.resets_in()) {
            policy.push_str(&format!(";w={window}"));
            limit.push_str(&format!(";t={resets_in}"));
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(resets_in));
            }
        }
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining()));
        // Digits, quotes and letters only: always a valid header value.
        if let Ok(policy) = HeaderValue::from_str(&policy) {
            headers.insert("ratelimit-policy", policy);
        }
        if let Ok(limit) = HeaderValue::from_str(&limit) {
            headers.insert("ratelimit", limit);
        }
    }
}

/// The headers a browser may read on a cross-origin answer (CORS `Access-Control-Expose-Headers`).
pub const HEADERS: [&str; 5] =
    ["ratelimit-limit", "ratelimit-remaining", "ratelimit-policy", "ratelimit", "retry-after"];
