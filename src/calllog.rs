//! The log step: one `api_calls` row and one tracing line per `/api/*` outcome. A record holds
//! the request line, never the headers, so a token or a cookie cannot reach the log.

use rusqlite::{Connection, params};

use crate::api::request::RequestLine;
use crate::auth::Caller;
use crate::db::{Db, DbError};

pub struct CallRecord {
    pub line: RequestLine,
    pub status: u16,
    pub caller: Option<Caller>,
    /// The caller's counter after the call, when the caller is known.
    pub usage_count: Option<u64>,
    pub error: Option<String>,
}

impl CallRecord {
    pub fn new(
        line: RequestLine,
        status: u16,
        caller: Option<Caller>,
        usage_count: Option<u64>,
        error: Option<String>,
    ) -> CallRecord {
        CallRecord { line, status, caller, usage_count, error }
    }
}

pub fn insert(conn: &Connection, record: &CallRecord) -> rusqlite::Result<()> {
    let line = &record.line;
    conn.prepare_cached(
        "INSERT INTO api_calls (method, path, status, user_id, client_id, usage_count, duration_ms,
                                request_id, user_agent, error, tool)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        line.method.as_str(),
        line.path,
        record.status,
        record.caller.as_ref().map(|c| &c.user_id),
        record.caller.as_ref().map(|c| &c.client_id),
        record.usage_count.map(|n| n as i64),
        line.elapsed_ms(),
        line.request_id.to_string(),
        line.user_agent,
        record.error,
        line.tool,
    ])?;
    Ok(())
}

/// Logs a call that ends before any database work of its own (a refused token, a path no route
/// takes) in a writer job of its own: the row, then the line. If even the row cannot be written,
/// the call is still answered as it was going to be; the failure goes to the log.
pub async fn log_in_own_job(db: &Db, record: CallRecord) {
    let status = record.status;
    match db.write(move |conn| Ok::<_, DbError>(insert(conn, &record).map(|()| record)?)).await {
        Ok(record) => trace(&record),
        Err(e) => tracing::error!(status, error = %e, "could not log an API call"),
    }
}

/// The tracing line, written once the call is committed, off the writer thread.
pub fn trace(record: &CallRecord) {
    let line = &record.line;
    tracing::info!(
        request_id = %line.request_id,
        method = %line.method,
        path = %line.path,
        tool = line.tool,
        status = record.status,
        user_id = record.caller.as_ref().map(|c| c.user_id.as_str()),
        client_id = record.caller.as_ref().map(|c| c.client_id.as_str()),
        usage = record.usage_count.map(|n| n as i64),
        duration_ms = line.elapsed_ms(),
        error = record.error.as_deref(),
        "api call"
    );
}
