//! The filter chain every todo API call passes: auth → quota → log.
//!
//! A handler calls [`Call::begin`] (auth; a 401 is logged and answered), may then [`Call::fail`]
//! for a bad request, and finally [`Call::run`] its operation: the quota check, the operation, the
//! counter increment and the log row all commit together in the writer's transaction, so an
//! acknowledged call is never missing from the counter or the log.

use rusqlite::Connection;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use crate::AppState;
use crate::auth::Caller;
use crate::calllog::{self, CallRecord};
use crate::error::ApiError;
use crate::quota::{self, Usage};
use crate::request::CallMeta;

pub struct Call {
    state: AppState,
    meta: CallMeta,
    caller: Caller,
}

impl Call {
    /// The auth step. On failure the outcome is already logged and the response is ready.
    pub async fn begin(state: &AppState, meta: CallMeta) -> Result<Call, Response> {
        match state.auth.authenticate(&meta.headers).await {
            Ok(caller) => Ok(Call { state: state.clone(), meta, caller }),
            Err(error) => Err(log_failure(state, meta, None, error).await),
        }
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.meta.headers
    }

    /// Answers a request that failed before reaching the database (bad body, bad query), logged.
    pub async fn fail(self, error: ApiError) -> Response {
        log_failure(&self.state, self.meta, Some(self.caller), error).await
    }

    /// Runs `op` inside the quota: refused with 429 once the limit is reached; when `op` succeeds
    /// its writes, the increment and the log row (with `success` as status) commit together; when
    /// it fails its writes are undone and only the failure is logged. Failures come back as ready
    /// responses carrying the usage headers.
    pub async fn run<T, Op>(self, success: StatusCode, op: Op) -> Result<(T, Usage), Response>
    where
        T: Send + 'static,
        Op: FnOnce(&Connection, &Caller) -> Result<T, ApiError> + Send + 'static,
    {
        let Call { state, meta, caller } = self;
        let default_limit = state.config.default_call_limit;
        let job = move |conn: &Connection| {
            let outcome = counted(conn, &caller, default_limit, op);
            let (status, usage_count, error) = match &outcome {
                Ok((_, usage)) => (success.as_u16(), Some(usage.count), None),
                Err((error, usage)) => (error.status().as_u16(), usage.map(|u| u.count), Some(error.log_message())),
            };
            let record = CallRecord { meta: &meta, status, caller: Some(&caller), usage_count, error };
            calllog::trace(&record);
            calllog::insert(conn, &record).map_err(|e| (ApiError::from(e), None))?;
            outcome
        };
        match state.db.writer.write(job).await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err((error, usage))) => Err(error_response(&error, usage)),
            Err(db_error) => Err(error_response(&ApiError::from(db_error), None)),
        }
    }
}

type Counted<T> = Result<(T, Usage), (ApiError, Option<Usage>)>;

/// Check, operate, increment, inside a savepoint so a failed operation leaves nothing behind.
fn counted<T>(
    conn: &Connection,
    caller: &Caller,
    default_limit: u64,
    op: impl FnOnce(&Connection, &Caller) -> Result<T, ApiError>,
) -> Counted<T> {
    let before = quota::standing(conn, caller, default_limit).map_err(|e| (ApiError::from(e), None))?;
    if before.count >= before.limit {
        return Err((ApiError::QuotaExceeded, Some(before)));
    }
    conn.execute_batch("SAVEPOINT op").map_err(|e| (ApiError::from(e), Some(before)))?;
    let result = op(conn, caller).and_then(|value| Ok((value, quota::increment(conn, caller)?)));
    match result {
        Ok((value, count)) => {
            conn.execute_batch("RELEASE op").map_err(|e| (ApiError::from(e), Some(before)))?;
            Ok((value, Usage { count, ..before }))
        }
        Err(error) => {
            conn.execute_batch("ROLLBACK TO op; RELEASE op").map_err(|e| (ApiError::from(e), Some(before)))?;
            Err((error, Some(before)))
        }
    }
}

/// Logs a call that never reached the quota step, and renders its error.
async fn log_failure(state: &AppState, meta: CallMeta, caller: Option<Caller>, error: ApiError) -> Response {
    let log_error = error.log_message();
    let status = error.status().as_u16();
    let default_limit = state.config.default_call_limit;
    let logged = state
        .db
        .writer
        .write(move |conn| -> rusqlite::Result<Option<Usage>> {
            let usage = caller.as_ref().map(|c| quota::standing(conn, c, default_limit)).transpose()?;
            let record = CallRecord {
                meta: &meta,
                status,
                caller: caller.as_ref(),
                usage_count: usage.map(|u| u.count),
                error: Some(log_error),
            };
            calllog::trace(&record);
            calllog::insert(conn, &record)?;
            Ok(usage)
        })
        .await;
    match logged {
        Ok(Ok(usage)) => error_response(&error, usage),
        Ok(Err(e)) => error_response(&ApiError::from(e), None),
        Err(e) => error_response(&ApiError::from(e), None),
    }
}

fn error_response(error: &ApiError, usage: Option<Usage>) -> Response {
    if let ApiError::Internal { cause, .. } = error {
        tracing::error!(%cause, "server fault in the todo API");
    }
    let mut response = error.to_response();
    if let Some(usage) = usage {
        usage.add_headers(&mut response);
    }
    response
}
