//! The filter chain every API call passes: auth → quota → operation → log, as one writer job. The
//! todo routes use it, and so can your own endpoints (`examples/notes.rs`, served with
//! [`crate::serve_with`]).
//!
//! A route takes the [`call`] filter after its path and method (the request line and the auth
//! claim, or the 401 already logged) and, if it has a body, [`json_body`]; its handler then reads
//! top to bottom: begin (`call?`), parse the input (or fail), run the operation, render.
//!
//! The token look-up (built-in mode), the quota check, the operation, the counter increment and
//! the log row all run and commit together on the writer, so however many calls race, exactly the
//! limit succeed, an acknowledged call is never missing from the counter or the log, and a call
//! crosses to the database thread once. A refusal at any step is logged and comes back as a
//! [`Refusal`], which renders itself.
//!
//! ```no_run
//! use gpt_todo::AppState;
//! use gpt_todo::api::outcome::Refusal;
//! use gpt_todo::chain::{Begun, call};
//! use warp::Filter;
//! use warp::http::StatusCode;
//! use warp::reply::Response;
//!
//! /// `GET /api/todo-count`: how many todos the caller has, counted against their quota.
//! async fn todo_count(call: Begun) -> Result<Response, Refusal> {
//!     let call = call?;
//!     let count = call
//!         .run(StatusCode::OK, |conn, caller| {
//!             let count: i64 =
//!                 conn.query_row("SELECT count(*) FROM todos WHERE user_id = ?1", [&caller.user_id], |r| r.get(0))?;
//!             Ok(serde_json::json!({ "count": count }))
//!         })
//!         .await?;
//!     Ok(count.json())
//! }
//!
//! fn route(state: AppState) -> impl Filter<Extract = (Result<Response, Refusal>,), Error = warp::Rejection> + Clone {
//!     warp::path!("api" / "todo-count").and(warp::get()).and(call(state)).then(todo_count)
//! }
//! ```
//!
//! [`json_body`]: crate::api::request::json_body
#![warn(missing_docs)]

use std::convert::Infallible;

use rusqlite::Connection;
use warp::Filter;
use warp::http::{HeaderMap, StatusCode};

use crate::AppState;
use crate::api::error::ApiError;
use crate::api::outcome::{Done, Refusal};
use crate::api::request::{RequestLine, request_line};
use crate::auth::{Caller, Claim};
use crate::calllog::{self, CallRecord};
use crate::db::{DbError, in_savepoint};
use crate::quota::{self, Usage};

/// A call whose auth step has begun, or its refusal (already logged).
pub type Begun = Result<Call, Refusal>;

/// How a call's job ends: the operation done, or refused.
type Outcome<T> = Result<Done<T>, Refusal>;

/// What a step inside the job gives: the operation's value and the usage after it, or a refusal.
type StepOutcome<T> = Result<(T, Usage), Refusal>;

/// One API call on its way through the chain, after its bearer token was read; its caller is
/// resolved inside its write job.
pub struct Call {
    state: AppState,
    line: RequestLine,
    claim: Claim,
}

/// A call with its request's input read: the value an operation takes, or why the request is bad.
pub struct Parsed<I> {
    call: Call,
    input: Result<I, ApiError>,
}

/// The call of the request being routed, with a request line (and id) of its own. Put it after the
/// path and method filters, so that a wrong path is a 404 and a wrong method a 405, never a 401.
/// Never rejects.
pub fn call(state: AppState) -> impl Filter<Extract = (Begun,), Error = Infallible> + Clone {
    request_line().and(warp::header::headers_cloned()).then(move |line, headers: HeaderMap| {
        let state = state.clone();
        async move { Call::begin(&state, line, &headers).await }
    })
}

impl Call {
    /// The auth step, as far as it goes before the database: the bearer token is taken from the
    /// headers (and, in remote mode, resolved to a caller); the headers go no further. A built-in
    /// token is looked up inside the call's write job. A refusal is logged before it is returned.
    pub async fn begin(state: &AppState, line: RequestLine, headers: &HeaderMap) -> Begun {
        match state.auth.claim(headers).await {
            Ok(claim) => Ok(Call { state: state.clone(), line, claim }),
            Err(error) => {
                let request_id = line.request_id;
                let record = CallRecord::new(line, error.status().as_u16(), None, None, Some(error.log_message()));
                calllog::log_in_own_job(&state.db, record).await;
                Err(Refusal::new(error, None).logged_as(request_id))
            }
        }
    }

    /// Takes the request's input: its parsed path, query or body, or the error that makes the
    /// request bad (answered by [`Parsed::run`] without running the operation).
    pub fn parse<I>(self, input: Result<I, ApiError>) -> Parsed<I> {
        Parsed { call: self, input }
    }

    /// Refuses a request that is bad before its operation (bad body, bad query): logged, not
    /// counted, with the caller's usage. An unknown token is still a 401, as auth comes first.
    pub async fn fail(self, error: ApiError) -> Refusal {
        let (default, clock) = (self.state.config.default_plan(), self.state.config.clock.clone());
        // Nothing can succeed here, so no success status is ever logged.
        let outcome: Outcome<Infallible> = self
            .run_logged(StatusCode::OK, move |conn, caller| {
                Ok(Err(Refusal::new(error, Some(quota::usage(conn, caller, default, clock.now())?))))
            })
            .await;
        match outcome {
            Ok(done) => match done.value {},
            Err(refusal) => refusal,
        }
    }

    /// Runs `op` inside the quota ([`quota::check`]): refused with 429 once the limit is reached.
    /// When `op` succeeds, its writes, the counter increment and the log row (with `success` as
    /// status) commit together; when it fails, its writes are undone and only the failure is
    /// logged (not counted).
    pub async fn run<T, Op>(self, success: StatusCode, op: Op) -> Result<Done<T>, Refusal>
    where
        T: Send + 'static,
        Op: FnOnce(&Connection, &Caller) -> Result<T, ApiError> + Send + 'static,
    {
        let (default, clock) = (self.state.config.default_plan(), self.state.config.clock.clone());
        self.run_logged(success, move |conn, caller| {
            // One clock reading per call, taken on the writer: the check and the increment count
            // in the same period, even for a call that runs across midnight.
            let before = match quota::check(conn, caller, default, clock.now()) {
                Ok(usage) => usage,
                Err(refusal) => return Ok(Err(refusal)),
            };
            // A failed operation leaves nothing behind, and is not counted.
            let done = in_savepoint(conn, || {
                let value = op(conn, caller)?;
                Ok((value, quota::increment(conn, caller, &before)?))
            })?;
            Ok(match done {
                Ok((value, count)) => Ok((value, Usage { count, ..before })),
                Err(error) => Err(Refusal::new(error, Some(before))),
            })
        })
        .await
    }

    /// The call's one write job: resolve the claim to a caller (a failure is the outcome), run
    /// `step` for that caller, write the log row (with `success` as status if `step` succeeds);
    /// the outcome comes back once all of it is committed, with the row's request id. If the
    /// database itself fails mid-way (`step` or the log row returns `Err`), the whole job is
    /// undone, so nothing is counted or kept that the caller was refused.
    async fn run_logged<T: Send + 'static>(
        self,
        success: StatusCode,
        step: impl FnOnce(&Connection, &Caller) -> Result<StepOutcome<T>, DbError> + Send + 'static,
    ) -> Outcome<T> {
        let Call { state, line, claim } = self;
        let request_id = line.request_id;
        let config = state.config.clone();
        let job = move |conn: &Connection| -> Result<(CallRecord, StepOutcome<T>), DbError> {
            let resolved = claim.resolve(conn).and_then(|caller| {
                caller.check_audience(&line.path, config.public_url())?;
                Ok(caller)
            });
            let (caller, outcome) = match resolved {
                Ok(caller) => {
                    let outcome = step(conn, &caller)?;
                    (Some(caller), outcome)
                }
                Err(error) => (None, Err(Refusal::new(error, None))),
            };
            let (status, usage_count, error) = match &outcome {
                Ok((_, usage)) => (success.as_u16(), Some(usage.count), None),
                Err(refusal) => {
                    (refusal.error.status().as_u16(), refusal.usage.map(|u| u.count), Some(refusal.error.log_message()))
                }
            };
            let record = CallRecord::new(line, status, caller, usage_count, error);
            calllog::insert(conn, &record)?;
            Ok((record, outcome))
        };
        let outcome = match state.db.write(job).await {
            Ok((record, outcome)) => {
                calllog::trace(&record);
                outcome
            }
            Err(db_error) => Err(Refusal::new(ApiError::from(db_error), None)),
        };
        match outcome {
            Ok((value, usage)) => Ok(Done { value, status: success, usage, request_id }),
            Err(refusal) => Err(refusal.logged_as(request_id)),
        }
    }
}

impl<I: Send + 'static> Parsed<I> {
    /// Runs `op` on the input, as [`Call::run`] does; a bad input is refused with its 4xx
    /// ([`Call::fail`]) and `op` does not run.
    pub async fn run<T, Op>(self, success: StatusCode, op: Op) -> Result<Done<T>, Refusal>
    where
        T: Send + 'static,
        Op: FnOnce(&Connection, &Caller, I) -> Result<T, ApiError> + Send + 'static,
    {
        match self.input {
            Ok(input) => self.call.run(success, move |conn, caller| op(conn, caller, input)).await,
            Err(error) => Err(self.call.fail(error).await),
        }
    }
}
