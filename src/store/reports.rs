//! The figures of the console's pages, read from the call-log rollups with the few rows not yet
//! rolled up (the views `api_calls_by_hour` and `api_calls_by_day`, so they stay current) and the
//! token table: calls per hour and outcome, totals, the top clients and users, and each client's
//! and user's use.

use std::collections::HashMap;

use rusqlite::params;

use super::{StoreError, Tx};

/// `(hour, outcome, calls)` rows by hour from `first_hour` (`2026-11-30T14`) on.
pub fn calls_per_hour(tx: &Tx<'_>, first_hour: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
    outcome_rows(tx, "SELECT hour, outcome, calls FROM api_calls_by_hour WHERE hour >= ?1", first_hour)
}

/// `(day, outcome, calls)` rows from `first_day` (`2026-11-30`) on. They read the rows by hour: at
/// most 96 a day, where those by day have one per user, client and outcome (about 1,200 a day in
/// the bench's data).
pub fn calls_per_day(tx: &Tx<'_>, first_day: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
    outcome_rows(
        tx,
        "SELECT substr(hour, 1, 10), outcome, sum(calls) FROM api_calls_by_hour WHERE hour >= ?1 GROUP BY 1, 2",
        first_day,
    )
}

fn outcome_rows(tx: &Tx<'_>, sql: &str, since: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
    let mut stmt = tx.sqlite()?.prepare_cached(sql)?;
    let rows = stmt.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `(outcome, calls)` ever.
pub fn calls_per_outcome(tx: &Tx<'_>) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = tx.sqlite()?.prepare_cached("SELECT outcome, sum(calls) FROM api_calls_by_hour GROUP BY outcome")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The five clients with the most calls since `day`: `(client id, name, calls)`.
pub fn top_clients(tx: &Tx<'_>, day: &str) -> Result<Vec<(String, String, u64)>, StoreError> {
    top(
        tx,
        "SELECT d.client_id, coalesce(c.name, ''), sum(d.calls) FROM api_calls_by_day d
           LEFT JOIN oauth_clients c ON c.client_id = d.client_id
          WHERE d.day >= ?1 AND d.client_id <> '' GROUP BY d.client_id ORDER BY 3 DESC LIMIT 5",
        day,
    )
}

/// The five users with the most calls since `day`: `(user id, email or else id, calls)`.
pub fn top_users(tx: &Tx<'_>, day: &str) -> Result<Vec<(String, String, u64)>, StoreError> {
    top(
        tx,
        "SELECT d.user_id, coalesce(u.email, d.user_id), sum(d.calls) FROM api_calls_by_day d
           LEFT JOIN users u ON u.id = d.user_id
          WHERE d.day >= ?1 AND d.user_id <> '' GROUP BY d.user_id ORDER BY 3 DESC LIMIT 5",
        day,
    )
}

fn top(tx: &Tx<'_>, sql: &str, since: &str) -> Result<Vec<(String, String, u64)>, StoreError> {
    let mut stmt = tx.sqlite()?.prepare_cached(sql)?;
    let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A client's use: its calls since `day`, and its tokens live at `now`.
pub fn client_use(tx: &Tx<'_>, client_id: &str, day: &str, now: i64) -> Result<(u64, u64), StoreError> {
    let conn = tx.sqlite()?;
    let calls: i64 = conn
        .prepare_cached("SELECT coalesce(sum(calls), 0) FROM api_calls_by_day WHERE client_id = ?1 AND day >= ?2")?
        .query_row(params![client_id, day], |r| r.get(0))?;
    let tokens: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM oauth_tokens WHERE client_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        )?
        .query_row(params![client_id, now], |r| r.get(0))?;
    Ok((calls.max(0) as u64, tokens.max(0) as u64))
}

/// Calls per user id since `day`.
pub fn calls_per_user(tx: &Tx<'_>, day: &str) -> Result<HashMap<String, u64>, StoreError> {
    let mut stmt = tx
        .sqlite()?
        .prepare_cached("SELECT user_id, sum(calls) FROM api_calls_by_day WHERE day >= ?1 GROUP BY user_id")?;
    let rows = stmt.query_map([day], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
