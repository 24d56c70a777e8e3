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
mod usage;
mod window;

use rusqlite::Connection;

pub use store::{plan, set_client_limit, set_user_limit};
pub use usage::{HEADERS, Usage};
pub use window::{Period, Window};

use crate::api::error::ApiError;
use crate::api::outcome::Refusal;
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

/// The quota rule: a call may go ahead while the caller's count in the current period is below
/// the limit in force. Gives the usage before the call, or the 429 refusal that carries it (and so
/// the `Retry-After` of a window). A database failure while reading is a refusal without usage.
pub fn check(conn: &Connection, caller: &Caller, default: Plan, now: i64) -> Result<Usage, Refusal> {
    let before = usage(conn, caller, default, now).map_err(|e| Refusal::new(ApiError::from(e), None))?;
    if before.count >= before.limit {
        return Err(Refusal::new(ApiError::QuotaExceeded, Some(before)));
    }
    Ok(before)
}

/// The caller's usage at `now`, before the call is counted: one indexed read.
pub fn usage(conn: &Connection, caller: &Caller, default: Plan, now: i64) -> rusqlite::Result<Usage> {
    let (limits, counts) = store::limits_and_counts(conn, caller, now)?;
    let (plan, _) = limits.in_force(default);
    let period = Period::containing(plan.window, now);
    Ok(Usage { limit: plan.limit, count: counts.of(&period), period, now })
}

/// Counts one call in the period `usage` was taken in, and returns the new count.
pub fn increment(conn: &Connection, caller: &Caller, usage: &Usage) -> rusqlite::Result<u64> {
    store::increment(conn, caller, &usage.period)
}
