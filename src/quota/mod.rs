//! The quota step. Every successful API call counts once against the caller's (user, client)
//! counter for the period now current. The limit in force is, first to last: the user's override
//! for that client (`user set-limit`), the client's own (`client set-limit`), the server default
//! (`--default-call-limit`, `--default-call-window`), so an unknown client is never unlimited.
//! Each has a window: the lifetime total, a UTC day or a UTC month.
//!
//! The claim of a call's slot is one conditional upsert ([`crate::store::quota::claim`]) inside
//! the operation's savepoint, with one clock reading for the call: however many requests race, on
//! however many writers, exactly `limit` succeed in each period, also across midnight, and a failed
//! operation gives its slot back.
#![warn(missing_docs)]

mod usage;
pub(crate) mod window;

pub use crate::store::quota::{plan, set_client_limit, set_user_limit};
pub use usage::{HEADERS, Usage};
pub use window::{Period, Window};

use crate::chain::api_error::ApiError;
use crate::chain::auth_step::Caller;
use crate::chain::outcome::Refusal;
use crate::store::{self, StoreError, Tx};

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
/// the limit in force. Claims the call's slot and gives the usage after it, or the 429 refusal
/// that carries the usage (and so the `Retry-After` of a window). A database failure is the outer
/// `Err`, never a refusal.
pub fn claim(tx: &Tx<'_>, caller: &Caller, default: Plan, now: i64) -> Result<Result<Usage, Refusal>, StoreError> {
    let period = current_period(tx, caller, default, now)?;
    let (limit, key) = (period.limit, period.period.key());
    let claimed = if limit == 0 { None } else { store::quota::claim(tx, caller, &key, limit)? };
    Ok(match claimed {
        Some(count) => Ok(Usage { count, ..period }),
        None => Err(Refusal::new(ApiError::QuotaExceeded, Some(Usage { count: limit, ..period }))),
    })
}

/// The caller's usage at `now`, without counting anything: for a call refused before its
/// operation.
pub fn usage(tx: &Tx<'_>, caller: &Caller, default: Plan, now: i64) -> Result<Usage, StoreError> {
    let period = current_period(tx, caller, default, now)?;
    let count = store::quota::count(tx, caller, &period.period.key())?;
    Ok(Usage { count, ..period })
}

/// The limit in force and its current period, with a count of 0 still to be filled in.
fn current_period(tx: &Tx<'_>, caller: &Caller, default: Plan, now: i64) -> Result<Usage, StoreError> {
    let (plan, _) = store::quota::limits(tx, caller)?.in_force(default);
    Ok(Usage { limit: plan.limit, count: 0, period: Period::containing(plan.window, now), now })
}
