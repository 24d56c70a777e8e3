//! The log step: one `api_calls` row and one tracing line per `/api/*` outcome. A record holds
//! the request line, never the headers, so a token or a cookie cannot reach the log.

use crate::chain::auth_step::Caller;
use crate::http::request::RequestLine;
use crate::store::call_log::{self, CallRow};
use crate::store::{Commit, Store, StoreError, Tx};

/// One call's outcome as the log keeps it.
pub struct CallRecord {
    /// The request line (never the headers).
    pub line: RequestLine,
    /// The status the call was answered with.
    pub status: u16,
    /// Who called, once auth passed.
    pub caller: Option<Caller>,
    /// The caller's counter after the call, when the caller is known.
    pub usage_count: Option<u64>,
    /// Why the call failed, for the log (never a secret).
    pub error: Option<String>,
}

impl CallRecord {
    /// A record of these parts.
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

/// Writes the row of one call, in the transaction of the call's own job.
pub fn insert(
    tx: &Tx<'_>,
    line: &RequestLine,
    status: u16,
    caller: Option<&Caller>,
    usage_count: Option<u64>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let request_id = line.request_id.to_string();
    call_log::insert(
        tx,
        &CallRow {
            method: line.method.as_str(),
            path: &line.path,
            status,
            user_id: caller.map(|c| &c.user_id),
            client_id: caller.map(|c| &c.client_id),
            usage_count,
            duration_ms: line.elapsed_ms(),
            request_id: &request_id,
            user_agent: line.user_agent.as_deref(),
            error,
            tool: line.tool,
        },
    )
}

/// Logs a call that ends before any database work of its own (a refused token, a path no route
/// takes) in a writer job of its own: the row, then the line. If even the row cannot be written,
/// the call is still answered as it was going to be; the failure goes to the log.
pub async fn log_in_own_job(store: &Store, record: CallRecord) {
    let record = std::sync::Arc::new(record);
    let row = record.clone();
    let job = move |tx: &mut Tx<'_>| {
        insert(tx, &row.line, row.status, row.caller.as_ref(), row.usage_count, row.error.as_deref())
    };
    match store.write(Commit::OnOk, job).await {
        Ok(()) => trace(&record),
        Err(e) => tracing::error!(status = record.status, error = %e, "could not log an API call"),
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
