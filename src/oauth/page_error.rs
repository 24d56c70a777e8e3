//! How a step of the authorization pages ends early, so the page handlers can use `?`: a page
//! already made for the person (an error page, or the redirect back to the client), or a server
//! fault, which is logged here, once, and shown as the same "Something went wrong" page.

use std::fmt::Display;

use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::pages;
use crate::db::DbError;

pub enum PageError {
    /// The answer is ready: the request was refused with a page or a redirect.
    Answered(Response),
    /// The server could not finish the step; only the log gets the cause.
    Server(String),
}

impl PageError {
    /// A server fault with this cause.
    pub fn server(cause: impl Display) -> PageError {
        PageError::Server(cause.to_string())
    }
}

impl From<DbError> for PageError {
    fn from(e: DbError) -> PageError {
        PageError::server(e)
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> PageError {
        PageError::server(e)
    }
}

impl Reply for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Answered(response) => response,
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
