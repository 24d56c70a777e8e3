//! What an operator does to what exists after day one: disable or remove a user, rotate a
//! client's secret, revoke tokens, reset a counter. Each operation is a function on a store
//! transaction that returns an [`Outcome`], so the command line (`Store::write_now` on its own
//! connection) and the operator console (a `Store::write` job) share it; printing is the caller's
//! business.
//!
//! An operation's refusal (no such user, a name taken) is its value; its `Err` is only ever the
//! store's, so a job that failed in the database is never mistaken for a refusal.

pub mod audit_log;
pub mod call_filters;
pub mod counters;
pub mod manage_clients;
pub mod manage_users;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("no user with email {0}")]
    NoUser(String),
    #[error("no client with id {0}")]
    NoClient(String),
    /// The operation makes no sense for this row (a sentence for a person).
    #[error("{0}")]
    Refused(String),
    /// The store could not run or commit the operation; only ever made from a job's `Err`, once
    /// the job is over ([`settle`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type ManageResult<T> = Result<T, ManageError>;

/// What an operation in a store job gives: its value or its refusal, inside the store's result.
pub type Outcome<T> = Result<Result<T, ManageError>, StoreError>;

/// An operation's outcome once its job is over: the value, or why not (a refusal or the store's
/// failure).
pub fn settle<T>(outcome: Outcome<T>) -> ManageResult<T> {
    outcome?
}

/// The value of an [`Outcome`], or the refusal returned from the enclosing operation at once
/// (a store failure goes up with `?`).
macro_rules! or_refused {
    ($outcome:expr) => {
        match $outcome? {
            Ok(value) => value,
            Err(refused) => return Ok(Err(refused)),
        }
    };
}
pub(crate) use or_refused;
