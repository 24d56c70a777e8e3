//! The quota's rules: limits, their windows and periods, and the usage a call is told about.
//! The limit in force is, first to last: the user's override for that client (`user set-limit`),
//! the client's own (`client set-limit`), the server default (`--default-call-limit`,
//! `--default-call-window`), so an unknown client is never unlimited. Each has a window: the
//! lifetime total, a UTC day or a UTC month.
//!
//! The chain's quota step (`chain::quota_step`) applies them; the store keeps the counters
//! (`store::quota`).
#![warn(missing_docs)]

mod usage;
pub(crate) mod window;

pub use usage::{HEADERS, Usage};
pub use window::{Period, Window};

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
