//! The per-user-per-client call counters: reading them with the limit in force, and resetting them.

use super::{Outcome, or_refused};
use crate::quota::Plan;
use crate::store::{StoreError, Tx, accounts, usage_counters};

pub use crate::store::usage_counters::Counter;

/// The counters of `user` (an email or a user id, [`accounts::named`]) and `client`, each `None`
/// for all, newest period first; none for an email no user has.
pub fn counters(
    tx: &Tx<'_>,
    user: Option<&str>,
    client_id: Option<&str>,
    default: Plan,
    now: i64,
) -> Result<Vec<Counter>, StoreError> {
    let user_id = match user {
        Some(user) => match accounts::named(tx, user)? {
            Some(id) => Some(id),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    usage_counters::counters(tx, user_id.as_ref(), client_id, default, now)
}

/// Resets the counters of `user` (an email, or a user id of a remote user-info server), of one
/// client or of all; gives how many counters there were. The call log is not touched.
pub fn reset(tx: &Tx<'_>, user: &str, client_id: Option<&str>) -> Outcome<usize> {
    let user_id = or_refused!(super::manage_users::named(tx, user));
    Ok(Ok(usage_counters::reset(tx, &user_id, client_id)?))
}
