//! The quota step. Every successful API call counts once against the caller's (user, client)
//! counter for the period now current. The limit in force is, first to last: the user's override
//! for that client (`user set-limit`), the client's own (`client set-limit`), the server default
//! (`--default-call-limit`, `--default-call-window`), so an unknown client is never unlimited.
//! Each has a window: the lifetime total, a UTC day or a UTC month.
//!
//! The check, the operation and the increment run in one transaction on the single writer, with
//! one clock reading for the call, so however many requests race, exactly `limit` succeed in each
//! period, also across midnight.
#![warn(missing_docs)]

mod store;
mod window;

use rusqlite::Connection;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

pub use store::{plan, set_client_limit, set_user_limit};
pub use window::{Period, Window};

use crate::auth::Caller;

/// A limit and the window it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Calls allowed in each period of the window.
    pub limit: u64,
    /// How long a period lasts: the lifetime, a UTC day or a UTC month.
    pub window: Window,
}

/// The limits that may apply to one user of one client, before the server default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// The user's override for this client (`user set-limit`).
    pub user: Option<Plan>,
    /// The client's own (`client set-limit`, `client add --call-limit`).
    pub client: Option<Plan>,
}

/// Whose limit is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetBy {
    /// The user's override for the client.
    User,
    /// The client's own limit.
    Client,
    /// The server's `--default-call-limit` and `--default-call-window`.
    Server,
}

impl SetBy {
    /// How the `usage` report names it.
    pub fn as_str(self) -> &'static str {
        match self {
            SetBy::User => "user",
            SetBy::Client => "client",
            SetBy::Server => "server default",
        }
    }
}

impl Limits {
    /// The user's override beats the client's limit, which beats the server's default.
    pub fn in_force(&self, default: Plan) -> (Plan, SetBy) {
        match (self.user, self.client) {
            (Some(user), _) => (user, SetBy::User),
            (None, Some(client)) => (client, SetBy::Client),
            (None, None) => (default, SetBy::Server),
        }
    }
}

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

/// The caller's standing at `now`, before the call is counted: one indexed read.
pub fn standing(conn: &Connection, caller: &Caller, default: Plan, now: i64) -> rusqlite::Result<Usage> {
    let (limits, counts) = store::limits_and_counts(conn, caller, now)?;
    let (plan, _) = limits.in_force(default);
    let period = Period::containing(plan.window, now);
    Ok(Usage { limit: plan.limit, count: counts.of(&period), period, now })
}

/// Counts one call in the period `usage` was taken in, and returns the new count.
pub fn increment(conn: &Connection, caller: &Caller, usage: &Usage) -> rusqlite::Result<u64> {
    store::increment(conn, caller, &usage.period)
}
