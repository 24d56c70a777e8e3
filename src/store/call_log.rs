//! The call log's SQL: one `api_calls` row per `/api/*` (and MCP `tools/call`) outcome.

use super::sql::Sql;
use super::{StoreError, Tx};
use crate::support::ids::{ClientId, UserId};

/// One call as its row holds it: the request line, never the headers, so a token or a cookie
/// cannot reach the log.
pub struct CallRow<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub user_id: Option<&'a UserId>,
    pub client_id: Option<&'a ClientId>,
    /// The caller's counter after the call, when the caller is known.
    pub usage_count: Option<u64>,
    pub duration_ms: f64,
    pub request_id: &'a str,
    pub user_agent: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The MCP tool a `tools/call` ran.
    pub tool: Option<&'a str>,
}

static INSERT: Sql = Sql::new(
    "INSERT INTO api_calls (at, method, path, status, user_id, client_id, usage_count, duration_ms,
                            request_id, user_agent, error, tool)
     VALUES ($12, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
);

pub fn insert(tx: &Tx<'_>, row: &CallRow<'_>) -> Result<(), StoreError> {
    let (status, usage_count) = (i64::from(row.status), row.usage_count.map(|n| n as i64));
    let at = tx.now().timestamp();
    tx.run(
        &INSERT,
        &[
            &row.method,
            &row.path,
            &status,
            &row.user_id,
            &row.client_id,
            &usage_count,
            &row.duration_ms,
            &row.request_id,
            &row.user_agent,
            &row.error,
            &row.tool,
            &at,
        ],
    )?;
    Ok(())
}
