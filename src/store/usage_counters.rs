//! The per-user-per-client call counters (`api_usage`) as operators see them: each with the limit
//! in force for its pair, and resetting them. (Claiming a call against a counter is the quota's.)

use rusqlite::params;
use serde::Serialize;

use super::{StoreError, Tx};
use crate::quota::{Limits, Period, Plan};
use crate::support::ids::UserId;

/// One counter: a (user, client) pair's count in one period, and the limit in force for the pair.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counter {
    pub user_id: String,
    pub email: Option<String>,
    pub client_id: String,
    /// The window the period belongs to.
    pub window: String,
    pub period: String,
    pub count: i64,
    /// Whether this is the period the server checks now (against the limit in force).
    pub current: &'static str,
    pub limit: i64,
    pub limit_window: String,
    pub limit_set_by: &'static str,
    /// Calls left, for the current period only.
    pub remaining: Option<i64>,
}

/// The counters of `user_id` and `client_id`, each `None` for all, newest period first. The limit
/// in force and whether a row's period is the one checked now are worked out with the server's
/// own rule (`quota::Limits::in_force`).
pub fn counters(
    tx: &Tx<'_>,
    user_id: Option<&UserId>,
    client_id: Option<&str>,
    default: Plan,
    now: i64,
) -> Result<Vec<Counter>, StoreError> {
    let mut stmt = tx.sqlite()?.prepare_cached(
        "SELECT user_id, (SELECT email FROM users WHERE id = user_id), client_id, period, count,
                (SELECT call_limit FROM api_limit_overrides o WHERE o.user_id = u.user_id AND o.client_id = u.client_id),
                (SELECT call_window FROM api_limit_overrides o WHERE o.user_id = u.user_id AND o.client_id = u.client_id),
                (SELECT call_limit FROM oauth_clients c WHERE c.client_id = u.client_id),
                (SELECT call_window FROM oauth_clients c WHERE c.client_id = u.client_id)
           FROM api_usage u
          WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR client_id = ?2)
          ORDER BY user_id, client_id, period DESC",
    )?;
    let rows = stmt.query_map(params![user_id, client_id], |r| {
        let limits =
            Limits { user: super::quota::plan(r.get(5)?, r.get(6)?), client: super::quota::plan(r.get(7)?, r.get(8)?) };
        let (plan, set_by) = limits.in_force(default);
        let period: String = r.get(3)?;
        let count: i64 = r.get(4)?;
        let current = Period::containing(plan.window, now).key() == period;
        Ok(Counter {
            user_id: r.get(0)?,
            email: r.get(1)?,
            client_id: r.get(2)?,
            window: Period::window_of_key(&period).to_string(),
            period,
            count,
            current: if current { "yes" } else { "no" },
            limit: i64::try_from(plan.limit).unwrap_or(i64::MAX),
            limit_window: plan.window.to_string(),
            limit_set_by: set_by.as_str(),
            remaining: current.then(|| plan.limit.saturating_sub(count.max(0) as u64) as i64),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the counters of `user_id`, of one client or of all; returns how many there were.
pub fn reset(tx: &Tx<'_>, user_id: &UserId, client_id: Option<&str>) -> Result<usize, StoreError> {
    Ok(tx
        .sqlite()?
        .prepare_cached("DELETE FROM api_usage WHERE user_id = ?1 AND (?2 IS NULL OR client_id = ?2)")?
        .execute(params![user_id, client_id])?)
}
