//! How a call through the chain ends, as named values: [`Done`] (the operation's value, the status
//! it was logged with and the caller's usage after it) or [`Refusal`] (the error, with the usage
//! when the caller is known). Each becomes its response in one place, with the rate-limit headers
//! and the `X-Request-Id` of the call's log row.
#![warn(missing_docs)]

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::api_error::{ApiError, json_response};
use crate::http::request::RequestId;
use crate::quota::Usage;

/// A call whose operation succeeded: committed, counted and logged with `status`.
#[derive(Debug)]
pub struct Done<T> {
    /// What the operation gave.
    pub value: T,
    /// The success status, given once: the log row has it and the response is sent with it.
    pub status: StatusCode,
    /// The caller's usage after the call was counted.
    pub usage: Usage,
    /// The id of the call's log row.
    pub request_id: RequestId,
}

impl<T> Done<T> {
    /// The response: `render` makes its body (and any headers of its own) from the value; the
    /// status the call was logged with, the usage headers and the request id are set here, so
    /// they always agree with the log.
    pub fn render(self, render: impl FnOnce(T) -> Response) -> Response {
        let mut response = render(self.value);
        *response.status_mut() = self.status;
        self.usage.add_headers(&mut response);
        self.request_id.tag(&mut response);
        response
    }

    /// The value as the JSON body.
    pub fn json(self) -> Response
    where
        T: Serialize,
    {
        let status = self.status;
        self.render(|value| json_response(status, &value))
    }
}

/// A call that was refused or failed, already logged; nothing it tried to write was kept.
#[derive(Debug)]
pub struct Refusal {
    /// Why; its status and message are the answer.
    pub error: ApiError,
    /// The caller's usage, when the caller is known (auth passed).
    pub usage: Option<Usage>,
    /// The id of the call's log row, once it is logged.
    pub request_id: Option<RequestId>,
}

impl Refusal {
    /// A refusal not logged yet: the chain logs it and gives it the log row's id.
    pub fn new(error: ApiError, usage: Option<Usage>) -> Refusal {
        Refusal { error, usage, request_id: None }
    }

    /// The same refusal, with the id of the log row that recorded it.
    pub(crate) fn logged_as(self, request_id: RequestId) -> Refusal {
        Refusal { request_id: Some(request_id), ..self }
    }
}

impl Reply for Refusal {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(usage) = self.usage {
            usage.add_headers(&mut response);
        }
        if let Some(request_id) = self.request_id {
            request_id.tag(&mut response);
        }
        response
    }
}
