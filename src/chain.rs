//! The filter chain every API call passes: auth → quota → log. The todo routes use it, and so
//! can your own endpoints (`examples/notes.rs`, served with [`crate::serve_with`]).
//!
//! A handler calls [`Call::begin`] (auth: a missing or malformed token is logged and answered), may
//! then [`Call::fail`] for a bad request, and finally runs its operation with [`Call::run_json`]
//! (or [`Call::run_and_render`], or [`Call::run`]). Each call is one job on the writer: the token
//! look-up, the quota check, the operation, the counter increment and the log row all run and
//! commit together, so however many calls race, exactly the limit succeed, an acknowledged call
//! is never missing from the counter or the log, and a call crosses to the database thread once.
//!
//! ```no_run
//! use gpt_todo::AppState;
//! use gpt_todo::chain::Call;
//! use gpt_todo::api::request::CallMeta;
//! use warp::http::StatusCode;
//! use warp::reply::Response;
//!
//! /// `GET /api/todo-count`: how many todos the caller has, counted against their quota.
//! async fn todo_count(state: AppState, meta: CallMeta) -> Response {
//!     let call = match Call::begin(&state, meta).await {
//!         Ok(call) => call,
//!         Err(refused) => return refused,
//!     };
//!     call.run_json(StatusCode::OK, |conn, caller| {
//!         let count: i64 =
//!             conn.query_row("SELECT count(*) FROM todos WHERE user_id = ?1", [&caller.user_id], |r| r.get(0))?;
//!         Ok(serde_json::json!({ "count": count }))
//!     })
//!     .await
//! }
//! ```
#![warn(missing_docs)]

use std::convert::Infallible;

use rusqlite::Connection;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use crate::AppState;
use crate::api::error::{ApiError, json_response};
use crate::api::request::CallMeta;
use crate::auth::{Caller, Claim};
use crate::calllog::{self, CallRecord};
use crate::db::{DbError, in_savepoint};
use crate::quota::{self, Plan, Usage};

/// One API call on its way through the chain, after its bearer token was read.
pub struct Call {
    state: AppState,
    meta: CallMeta,
    claim: Claim,
}

impl Call {
    /// The auth step, as far as it goes before the database: the bearer token is taken from the
    /// request (and, in remote mode, resolved to a caller). A built-in token is looked up inside
    /// the call's write job. On failure the outcome is already logged and the response is ready.
    pub async fn begin(state: &AppState, meta: CallMeta) -> Result<Call, Response> {
        Call::start(state, meta).await.map_err(|error| error_response(&error, None))
    }

    /// [`Call::begin`], with a refusal left for the caller to render (MCP answers in JSON-RPC).
    pub async fn start(state: &AppState, meta: CallMeta) -> Result<Call, ApiError> {
        match state.auth.claim(&meta.headers).await {
            Ok(claim) => Ok(Call { state: state.clone(), meta, claim }),
            Err(error) => {
                let record = CallRecord::new(meta, error.status().as_u16(), None, None, Some(error.log_message()));
                calllog::record_alone(&state.db, record).await;
                Err(error)
            }
        }
    }

    /// The request's headers, e.g. to read its body's `Content-Type`.
    pub fn headers(&self) -> &HeaderMap {
        &self.meta.headers
    }

    /// Answers a request that failed before reaching its operation (bad body, bad query), logged;
    /// an unknown token is still a 401, as auth comes first.
    pub async fn fail(self, error: ApiError) -> Response {
        let (error, usage) = self.refuse(error).await;
        error_response(&error, usage)
    }

    /// [`Call::fail`], with the refusal left for the caller to render.
    pub async fn refuse(self, error: ApiError) -> (ApiError, Option<Usage>) {
        let Call { state, meta, claim } = self;
        let (default, clock) = (state.config.default_plan(), state.config.clock.clone());
        // The step can only refuse, so the outcome has no success to handle.
        let outcome: Counted<Infallible> = conclude(&state, meta, claim, StatusCode::OK, move |conn, caller| {
            Ok(Err((error, Some(quota::standing(conn, caller, default, clock.now())?))))
        })
        .await;
        let Err(refusal) = outcome;
        refusal
    }

    /// Runs `op` like [`Call::run`] and answers its value as JSON with the `success` status and
    /// the usage headers.
    pub async fn run_json<T, Op>(self, success: StatusCode, op: Op) -> Response
    where
        T: serde::Serialize + Send + 'static,
        Op: FnOnce(&Connection, &Caller) -> Result<T, ApiError> + Send + 'static,
    {
        self.run_and_render(success, op, move |value| json_response(success, &value)).await
    }

    /// Runs `op` like [`Call::run`] and turns its value into the answer with `render`, adding the
    /// usage headers; a refusal or failure is answered as [`Call::run`] says.
    pub async fn run_and_render<T, Op>(
        self,
        success: StatusCode,
        op: Op,
        render: impl FnOnce(T) -> Response,
    ) -> Response
    where
        T: Send + 'static,
        Op: FnOnce(&Connection, &Caller) -> Result<T, ApiError> + Send + 'static,
    {
        match self.run(success, op).await {
            Ok((value, usage)) => {
                let mut response = render(value);
                usage.add_headers(&mut response);
                response
            }
            Err(response) => response,
        }
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
        self.attempt(success, op).await.map_err(|(error, usage)| error_response(&error, usage))
    }

    /// [`Call::run`], with a refusal left for the caller to render.
    pub async fn attempt<T, Op>(self, success: StatusCode, op: Op) -> Counted<T>
    where
        T: Send + 'static,
        Op: FnOnce(&Connection, &Caller) -> Result<T, ApiError> + Send + 'static,
    {
        let Call { state, meta, claim } = self;
        let (default, clock) = (state.config.default_plan(), state.config.clock.clone());
        // One clock reading per call, taken on the writer: the check and the increment count in
        // the same period, even for a call that runs across midnight.
        conclude(&state, meta, claim, success, move |conn, caller| counted(conn, caller, default, clock.now(), op))
            .await
    }
}

/// A call's value and the usage after it, or its refusal and the usage as it stood.
pub type Counted<T> = Result<(T, Usage), (ApiError, Option<Usage>)>;

/// The call's one write job: resolve the claim to a caller (its failure is the outcome), run
/// `step` for that caller, write the log row; the caller is answered once all of it is committed.
/// If the database itself fails mid-way (the log row cannot be written, a savepoint cannot be
/// closed), the whole job is undone, so nothing is counted or kept that the caller was refused.
async fn conclude<T: Send + 'static>(
    state: &AppState,
    meta: CallMeta,
    claim: Claim,
    success: StatusCode,
    step: impl FnOnce(&Connection, &Caller) -> Result<Counted<T>, rusqlite::Error> + Send + 'static,
) -> Counted<T> {
    let state_config = state.config.clone();
    let job = move |conn: &Connection| -> Result<(CallRecord, Counted<T>), DbError> {
        let public_url = state_config.public_url();
        let resolved = claim.resolve(conn).and_then(|caller| {
            caller.check_audience(&meta.path, public_url)?;
            Ok(caller)
        });
        let (caller, outcome) = match resolved {
            Ok(caller) => {
                let outcome = step(conn, &caller)?;
                (Some(caller), outcome)
            }
            Err(error) => (None, Err((error, None))),
        };
        let (status, usage_count, error) = match &outcome {
            Ok((_, usage)) => (success.as_u16(), Some(usage.count), None),
            Err((error, usage)) => (error.status().as_u16(), usage.map(|u| u.count), Some(error.log_message())),
        };
        let record = CallRecord::new(meta, status, caller, usage_count, error);
        calllog::insert(conn, &record)?;
        Ok((record, outcome))
    };
    match state.db.write(job).await {
        Ok((record, outcome)) => {
            calllog::trace(&record);
            outcome
        }
        Err(db_error) => Err((ApiError::from(db_error), None)),
    }
}

/// Check, operate, increment, inside a savepoint so a failed operation leaves nothing behind.
/// The outer `Err` is a database failure that leaves the transaction in doubt.
fn counted<T>(
    conn: &Connection,
    caller: &Caller,
    default: Plan,
    now: i64,
    op: impl FnOnce(&Connection, &Caller) -> Result<T, ApiError>,
) -> Result<Counted<T>, rusqlite::Error> {
    let before = quota::standing(conn, caller, default, now)?;
    if before.count >= before.limit {
        return Ok(Err((ApiError::QuotaExceeded, Some(before))));
    }
    let done = in_savepoint(conn, || {
        op(conn, caller).and_then(|value| Ok((value, quota::increment(conn, caller, &before)?)))
    })?;
    Ok(match done {
        Ok((value, count)) => Ok((value, Usage { count, ..before })),
        Err(error) => Err((error, Some(before))),
    })
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
