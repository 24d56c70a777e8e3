//! The quota step. Every successful API call counts once against the caller's (user, client)
//! counter for the period now current, under the limit in force ([`crate::quota`]).
//!
//! The claim of a call's slot is one conditional upsert ([`crate::store::quota::claim`]) inside
//! the operation's savepoint, with one clock reading for the call: however many requests race, on
//! however many writers, exactly `limit` succeed in each period, also across midnight, and a failed
//! operation gives its slot back.

use super::api_error::ApiError;
use super::auth_step::Caller;
use super::outcome::Refusal;
use crate::quota::{Period, Plan, Usage};
use crate::store::{self, StoreError, Tx};

/// The quota rule: a call may go ahead while the caller's count in the current period is below
/// the limit in force. Claims the call's slot and gives the usage after it, or the 429 refusal
/// that carries the usage (and so the `Retry-After` of a window). A database failure is the outer
/// `Err`, never a refusal.
pub fn claim(tx: &Tx<'_>, caller: &Caller, default: Plan, now: i64) -> Result<Result<Usage, Refusal>, StoreError> {
    let period = current_period(tx, caller, default, now)?;
    let (limit, key) = (period.limit, period.period.key());
    let claimed =
        if limit == 0 { None } else { store::quota::claim(tx, &caller.user_id, &caller.client_id, &key, limit)? };
    Ok(match claimed {
        Some(count) => Ok(Usage { count, ..period }),
        None => Err(Refusal::new(ApiError::QuotaExceeded, Some(Usage { count: limit, ..period }))),
    })
}

/// The caller's usage at `now`, without counting anything: for a call refused before its
/// operation.
pub fn usage(tx: &Tx<'_>, caller: &Caller, default: Plan, now: i64) -> Result<Usage, StoreError> {
    let period = current_period(tx, caller, default, now)?;
    let count = store::quota::count(tx, &caller.user_id, &caller.client_id, &period.period.key())?;
    Ok(Usage { count, ..period })
}

/// The limit in force and its current period, with a count of 0 still to be filled in.
fn current_period(tx: &Tx<'_>, caller: &Caller, default: Plan, now: i64) -> Result<Usage, StoreError> {
    let (plan, _) = store::quota::limits(tx, &caller.user_id, &caller.client_id)?.in_force(default);
    Ok(Usage { limit: plan.limit, count: 0, period: Period::containing(plan.window, now), now })
}
