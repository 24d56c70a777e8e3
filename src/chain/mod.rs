//! The filter chain every API call passes: auth → quota → operation → log, as one writer job. The
//! todo routes use it, and so can your own endpoints (`examples/notes.rs`, served with
//! [`crate::serve_with`]).
//!
//! A route takes the [`call`] filter after its path and method (the request line and the auth
//! claim, or the 401 already logged) and, if it has a body, [`json_body`]; its handler then reads
//! top to bottom: begin (`call?`), parse the input (or fail), run the operation, render.
//!
//! The token look-up (built-in mode), the claim of the call's quota slot, the operation and the log
//! row all run and commit together as one store job, so however many calls race, exactly the
//! limit succeed, an acknowledged call is never missing from the counter or the log, and a call
//! crosses to the database once. A refusal at any step is logged and comes back as a
//! [`Refusal`], which renders itself. An operation answers with its value or an [`OpError`]: a
//! refusal of its own (`ApiError`, such as a 404) or the store's failure, which the chain never
//! mistakes for the other.
//!
//! ```no_run
//! use gpt_todo::AppState;
//! use gpt_todo::chain::outcome::Refusal;
//! use gpt_todo::chain::{Begun, call};
//! use gpt_todo::store::Value;
//! use warp::Filter;
//! use warp::http::StatusCode;
//! use warp::reply::Response;
//!
//! /// `GET /api/todo-count`: how many todos the caller has, counted against their quota.
//! async fn todo_count(call: Begun) -> Result<Response, Refusal> {
//!     let call = call?;
//!     let count = call
//!         .run(StatusCode::OK, |tx, caller| {
//!             let count = tx
//!                 .query_one("SELECT count(*) FROM todos WHERE user_id = $1", &[Value::from(caller.user_id.as_str())])?
//!                 .and_then(|row| row.integer(0))
//!                 .unwrap_or(0);
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
//! [`json_body`]: crate::http::request::json_body
#![warn(missing_docs)]

pub mod api_error;
pub mod auth_step;
pub mod caller;
pub mod log_step;
pub mod outcome;
pub mod quota_step;
pub mod remote_auth;

use std::convert::Infallible;
use std::sync::Arc;

use warp::Filter;
use warp::http::{HeaderMap, StatusCode};

use crate::AppState;
use crate::chain::api_error::ApiError;
use crate::chain::auth_step::{Caller, Claim};
use crate::chain::log_step::{self as calllog, CallRecord};
use crate::chain::outcome::{Done, Refusal};
use crate::http::request::{RequestLine, request_line};
use crate::quota::Usage;

use crate::store::{Commit, StoreError, Tx};

/// A call whose auth step has begun, or its refusal (already logged).
pub type Begun = Result<Call, Refusal>;

/// How a call's job ends: the operation done, or refused.
type Outcome<T> = Result<Done<T>, Refusal>;

/// What a step inside the job gives: the operation's value and the usage after it, or a refusal.
type StepOutcome<T> = Result<(T, Usage), Refusal>;

/// Why an operation did not give its value: it refused (a domain answer: the call is logged with
/// that error and not counted), or the store failed (the whole job is undone, and the call is
/// answered as the store's failure says: a `503` when the database is away). `?` turns either
/// into it.
#[derive(Debug)]
pub enum OpError {
    /// The operation's own answer, such as `ApiError::NotFound`.
    Refused(ApiError),
    /// The database's failure.
    Store(StoreError),
}

impl From<ApiError> for OpError {
    fn from(error: ApiError) -> OpError {
        OpError::Refused(error)
    }
}

impl From<StoreError> for OpError {
    fn from(error: StoreError) -> OpError {
        OpError::Store(error)
    }
}

/// One API call on its way through the chain, after its bearer token was read; its caller is
/// resolved inside its job.
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
    /// token is looked up inside the call's job. A refusal is logged before it is returned.
    pub async fn begin(state: &AppState, line: RequestLine, headers: &HeaderMap) -> Begun {
        match state.auth.claim(headers).await {
            Ok(claim) => Ok(Call { state: state.clone(), line, claim }),
            Err(error) => {
                let request_id = line.request_id;
                let record = CallRecord::new(line, error.status().as_u16(), None, None, Some(error.log_message()));
                calllog::log_in_own_job(&state.store, record).await;
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
        let default = self.state.config.default_plan();
        // Nothing can succeed here, so no success status is ever logged.
        let outcome: Outcome<Infallible> = self
            .run_logged(StatusCode::OK, move |tx, caller| {
                let usage = quota_step::usage(tx, caller, default, tx.now().unix())?;
                Ok(Err(Refusal::new(error.clone(), Some(usage))))
            })
            .await;
        match outcome {
            Ok(done) => match done.value {},
            Err(refusal) => refusal,
        }
    }

    /// Runs `op` inside the quota: its slot is claimed first ([`quota_step::claim`]), refused with 429
    /// once the limit is reached. When `op` succeeds, its writes, the claim and the log row (with
    /// `success` as status) commit together; when it refuses, its writes and the claim are undone
    /// and only the refusal is logged (not counted).
    pub async fn run<T, Op>(self, success: StatusCode, op: Op) -> Result<Done<T>, Refusal>
    where
        T: Send + 'static,
        Op: Fn(&mut Tx<'_>, &Caller) -> Result<T, OpError> + Send + Sync + 'static,
    {
        let default = self.state.config.default_plan();
        self.run_logged(success, move |tx, caller| {
            // A refused operation leaves nothing behind, and is not counted.
            // The job's moment (one clock reading per call, taken before its job, which may run
            // again): the claim counts in the period the call arrived in, even for a call that
            // runs across midnight, and its log row and todo carry the same time.
            let now = tx.now().unix();
            tx.savepoint(|tx| {
                let after = match quota_step::claim(tx, caller, default, now)? {
                    Ok(usage) => usage,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                match op(tx, caller) {
                    Ok(value) => Ok(Ok((value, after))),
                    Err(OpError::Refused(error)) => {
                        let before = Usage { count: after.count.saturating_sub(1), ..after };
                        Ok(Err(Refusal::new(error, Some(before))))
                    }
                    // A statement the database refused for good (a constraint, an operator's
                    // trigger) is the call's logged 500, its savepoint undone. A failure that may
                    // pass (the database away, a lost race) undoes the whole job instead: it is
                    // answered as such, and on PostgreSQL the job is run again.
                    Err(OpError::Store(error)) if error.is_transient() => Err(error),
                    Err(OpError::Store(error)) => {
                        let before = Usage { count: after.count.saturating_sub(1), ..after };
                        Ok(Err(Refusal::new(ApiError::from(error), Some(before))))
                    }
                }
            })
        })
        .await
    }

    /// The call's one job: resolve the claim to a caller (a failure is the outcome), run `step`
    /// for that caller, write the log row (with `success` as status if `step` succeeds); the
    /// outcome comes back once all of it is committed, with the row's request id. If the
    /// database itself fails mid-way (`step` or the log row returns `Err`), the whole job is
    /// undone, so nothing is counted or kept that the caller was refused.
    async fn run_logged<T: Send + 'static>(
        self,
        success: StatusCode,
        step: impl Fn(&mut Tx<'_>, &Caller) -> Result<StepOutcome<T>, StoreError> + Send + Sync + 'static,
    ) -> Outcome<T> {
        let Call { state, line, claim } = self;
        let line = Arc::new(line);
        let logged = line.clone();
        let config = state.config.clone();
        let job = move |tx: &mut Tx<'_>| -> Result<(Option<Caller>, StepOutcome<T>), StoreError> {
            let resolved = claim.resolve(tx)?.and_then(|caller| {
                caller.check_audience(&line.path, config.public_url())?;
                Ok(caller)
            });
            let (caller, outcome) = match resolved {
                Ok(caller) => {
                    let outcome = step(tx, &caller)?;
                    (Some(caller), outcome)
                }
                Err(error) => (None, Err(Refusal::new(error, None))),
            };
            let (status, usage_count, error) = summary(success, &outcome);
            calllog::insert(tx, &line, status, caller.as_ref(), usage_count, error.as_deref())?;
            Ok((caller, outcome))
        };
        let written = state.store.write(Commit::OnOk, job).await;
        let line = Arc::try_unwrap(logged).unwrap_or_else(|shared| RequestLine::clone(&shared));
        let request_id = line.request_id;
        let outcome = match written {
            Ok((caller, outcome)) => {
                let (status, usage_count, error) = summary(success, &outcome);
                if matches!(&outcome, Err(refusal) if matches!(refusal.error, ApiError::QuotaExceeded)) {
                    crate::support::metrics::quota_refused();
                }
                calllog::trace(&CallRecord::new(line, status, caller, usage_count, error));
                outcome
            }
            Err(store_error) => Err(Refusal::new(ApiError::from(store_error), None)),
        };
        match outcome {
            Ok((value, usage)) => Ok(Done { value, status: success, usage, request_id }),
            Err(refusal) => Err(refusal.logged_as(request_id)),
        }
    }
}

/// What the log row says of an outcome: its status, the caller's count, the error's message.
fn summary<T>(success: StatusCode, outcome: &StepOutcome<T>) -> (u16, Option<u64>, Option<String>) {
    match outcome {
        Ok((_, usage)) => (success.as_u16(), Some(usage.count), None),
        Err(refusal) => {
            (refusal.error.status().as_u16(), refusal.usage.map(|u| u.count), Some(refusal.error.log_message()))
        }
    }
}

impl<I: Send + Sync + 'static> Parsed<I> {
    /// Runs `op` on the input, as [`Call::run`] does; a bad input is refused with its 4xx
    /// ([`Call::fail`]) and `op` does not run.
    pub async fn run<T, Op>(self, success: StatusCode, op: Op) -> Result<Done<T>, Refusal>
    where
        T: Send + 'static,
        Op: Fn(&mut Tx<'_>, &Caller, &I) -> Result<T, OpError> + Send + Sync + 'static,
    {
        match self.input {
            Ok(input) => self.call.run(success, move |tx, caller| op(tx, caller, &input)).await,
            Err(error) => Err(self.call.fail(error).await),
        }
    }
}
