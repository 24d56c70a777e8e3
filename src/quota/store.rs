//! The quota's SQL: the limit in force with the current count (the hot path, one statement), the
//! increment, and setting limits for the admin commands.

use rusqlite::{Connection, params};

use super::{Limits, Period, Plan, Window};
use crate::auth::Caller;
use crate::ids::{ClientId, UserId};

/// The caller's own and their client's limits, and the counts of the periods that hold `now`:
/// primary-key look-ups in one statement. Which limit is in force, and so which count matters,
/// is decided by [`Limits::in_force`], the same rule the `usage` report applies.
pub fn limits_and_counts(conn: &Connection, caller: &Caller, now: i64) -> rusqlite::Result<(Limits, Counts)> {
    let day = Period::containing(Window::Day, now).key();
    let month = Period::containing(Window::Month, now).key();
    let mut statement = conn.prepare_cached(
        "SELECT o.call_limit, o.call_window, c.call_limit, c.call_window, usage.period, usage.count
           FROM (SELECT 1)
           LEFT JOIN api_limit_overrides o ON o.user_id = ?1 AND o.client_id = ?2
           LEFT JOIN oauth_clients c ON c.client_id = ?2
           LEFT JOIN api_usage usage
             ON usage.user_id = ?1 AND usage.client_id = ?2 AND usage.period IN ('total', ?3, ?4)",
    )?;
    let mut rows = statement.query(params![caller.user_id, caller.client_id, day, month])?;
    let mut limits = Limits::default();
    let mut counts = Counts::default();
    while let Some(row) = rows.next()? {
        limits = Limits { user: plan(row.get(0)?, row.get(1)?), client: plan(row.get(2)?, row.get(3)?) };
        if let (Some(period), Some(count)) = (row.get::<_, Option<String>>(4)?, row.get::<_, Option<i64>>(5)?) {
            counts.0.push((period, count.max(0) as u64));
        }
    }
    Ok((limits, counts))
}

/// A stored limit and window; a limit without a window is a total (as every limit was before
/// windows existed).
pub fn plan(limit: Option<i64>, window: Option<String>) -> Option<Plan> {
    let window = window.as_deref().and_then(Window::from_stored).unwrap_or(Window::Total);
    limit.map(|limit| Plan { limit: limit.max(0) as u64, window })
}

/// The counts found, by period key.
#[derive(Debug, Default)]
pub struct Counts(Vec<(String, u64)>);

impl Counts {
    pub fn of(&self, period: &Period) -> u64 {
        let key = period.key();
        self.0.iter().find(|(stored, _)| *stored == key).map_or(0, |(_, count)| *count)
    }
}

/// Counts one call in `period` and returns the new count.
pub fn increment(conn: &Connection, caller: &Caller, period: &Period) -> rusqlite::Result<u64> {
    let count: i64 = conn
        .prepare_cached(
            "INSERT INTO api_usage (user_id, client_id, period, count) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (user_id, client_id, period) DO UPDATE SET count = count + 1
             RETURNING count",
        )?
        .query_row(params![caller.user_id, caller.client_id, period.key()], |row| row.get(0))?;
    Ok(count as u64)
}

/// Sets a client's limit, or with `None` returns it to the server default. `false` when there is
/// no such client.
pub fn set_client_limit(conn: &Connection, client_id: &str, plan: Option<Plan>) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE oauth_clients SET call_limit = ?1, call_window = ?2 WHERE client_id = ?3",
        params![plan.map(|p| stored_limit(p.limit)), plan.map(|p| p.window.as_str()), client_id],
    )?;
    Ok(changed == 1)
}

/// Gives one user of a client a limit of their own, or with `None` removes it (the client's limit
/// applies again).
pub fn set_user_limit(
    conn: &Connection,
    user_id: &UserId,
    client_id: &ClientId,
    plan: Option<Plan>,
) -> rusqlite::Result<()> {
    match plan {
        Some(plan) => conn.execute(
            "INSERT INTO api_limit_overrides (user_id, client_id, call_limit, call_window) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, client_id) DO UPDATE SET call_limit = ?3, call_window = ?4",
            params![user_id, client_id, stored_limit(plan.limit), plan.window.as_str()],
        )?,
        None => conn.execute(
            "DELETE FROM api_limit_overrides WHERE user_id = ?1 AND client_id = ?2",
            params![user_id, client_id],
        )?,
    };
    Ok(())
}

/// SQLite integers are signed; a limit beyond them is as good as unlimited.
fn stored_limit(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
