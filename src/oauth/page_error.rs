//! How a step of the authorization pages ends early, so the page handlers can use `?`: a page
//! already made for the person (an error page, or the redirect back to the client), or a store
//! failure, which is logged here, once: a 503 "try again shortly" page when the database cannot
//! take work for now, else the same "Something went wrong" page.

use std::fmt::Display;

use warp::http::header::RETRY_AFTER;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use super::pages;
use crate::chain::api_error::RETRY_WRITES_AFTER_SECONDS;
use crate::store::StoreError;

pub enum PageError {
    /// The answer is ready: the request was refused with a page or a redirect.
    Answered(Response),
    /// The database cannot take work for now (a full disk, an I/O error): a 503 page with
    /// `Retry-After`; only the log gets the cause.
    Unavailable(String),
    /// The server could not finish the step; only the log gets the cause.
    Server(String),
}

impl PageError {
    /// A server fault with this cause.
    pub fn server(cause: impl Display) -> PageError {
        PageError::Server(cause.to_string())
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        match e {
            StoreError::Unavailable(reason) => PageError::Unavailable(reason),
            other => PageError::server(other),
        }
    }
}

/// For the steps still on the `Db` (sessions and sign-in, until they move to the store).
impl From<crate::store::sqlite::DbError> for PageError {
    fn from(e: crate::store::sqlite::DbError) -> PageError {
        StoreError::from(e).into()
    }
}

impl Reply for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Answered(response) => response,
            PageError::Unavailable(cause) => {
                tracing::error!(error = %cause, "authorization page: the database is unavailable");
                let mut page = pages::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Please try again shortly",
                    "The server cannot save this step right now. Please try again in a few seconds.",
                );
                page.headers_mut().insert(RETRY_AFTER, HeaderValue::from(RETRY_WRITES_AFTER_SECONDS));
                page
            }
            PageError::Server(cause) => {
                tracing::error!(error = %cause, "authorization page failed");
                pages::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not finish this step. Please try again.",
                )
            }
        }
    }
}
