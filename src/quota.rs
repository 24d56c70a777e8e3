//! The quota step. Every successful todo API call counts once against the caller's (user, client)
//! counter; the limit is the client's `call_limit`, else the server default, so an unknown client
//! is never unlimited. The check, the operation and the increment run in one transaction on the
//! single writer, so however many requests race, exactly `limit` succeed.

use rusqlite::{Connection, OptionalExtension, params};
use warp::http::HeaderValue;
use warp::reply::Response;

use crate::auth::Caller;

/// The caller's standing after a call.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub limit: u64,
    pub count: u64,
}

impl Usage {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.count)
    }

    /// `RateLimit-Limit` / `RateLimit-Remaining` (the IETF draft's names). The quota is a total,
    /// not a window, so there is no reset time and no `Retry-After`.
    pub fn add_headers(&self, response: &mut Response) {
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining()));
    }
}

/// The caller's limit and count as they stand, before any new call is counted.
pub fn standing(conn: &Connection, caller: &Caller, default_limit: u64) -> rusqlite::Result<Usage> {
    Ok(Usage { limit: limit_for(conn, &caller.client_id, default_limit)?, count: current(conn, caller)? })
}

pub fn limit_for(conn: &Connection, client_id: &str, default_limit: u64) -> rusqlite::Result<u64> {
    let own: Option<Option<i64>> = conn
        .prepare_cached("SELECT call_limit FROM oauth_clients WHERE client_id = ?1")?
        .query_row([client_id], |row| row.get(0))
        .optional()?;
    Ok(own.flatten().map_or(default_limit, |n| n.max(0) as u64))
}

pub fn current(conn: &Connection, caller: &Caller) -> rusqlite::Result<u64> {
    let count: Option<i64> = conn
        .prepare_cached("SELECT count FROM api_usage WHERE user_id = ?1 AND client_id = ?2")?
        .query_row(params![caller.user_id, caller.client_id], |row| row.get(0))
        .optional()?;
    Ok(count.unwrap_or(0) as u64)
}

/// Counts one call and returns the new count.
pub fn increment(conn: &Connection, caller: &Caller) -> rusqlite::Result<u64> {
    let count: i64 = conn
        .prepare_cached(
            "INSERT INTO api_usage (user_id, client_id, count) VALUES (?1, ?2, 1)
             ON CONFLICT (user_id, client_id) DO UPDATE SET count = count + 1
             RETURNING count",
        )?
        .query_row(params![caller.user_id, caller.client_id], |row| row.get(0))?;
    Ok(count as u64)
}
