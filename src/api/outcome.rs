//! How a call through the chain ends, as named values: [`Done`] (the operation's value, its
//! status and the caller's usage after it) or [`Refusal`] (the error, with the usage when the
//! caller is known). Each becomes its response in one place, with the rate-limit headers.

use serde::Serialize;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use super::error::{ApiError, json_response};

/// The caller's standing against the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub limit: u64,
    pub count: u64,
}

impl Usage {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.count)
    }

    /// `RateLimit-Limit` / `RateLimit-Remaining` (the IETF draft's names). The quota is a total,
    /// not a window, so there is no reset time and no `Retry-After`.
    pub fn add_headers(&self, response: &mut Response) {
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining()));
    }
}

/// A call whose operation succeeded: committed, counted and logged with `status`.
#[derive(Debug)]
pub struct Done<T> {
    pub value: T,
    pub status: StatusCode,
    pub usage: Usage,
}

impl<T> Done<T> {
    /// The response: `render` makes its body (and any headers of its own) from the value; the
    /// status the call was logged with and the usage headers are set here, so they always agree.
    pub fn render(self, render: impl FnOnce(T) -> Response) -> Response {
        let mut response = render(self.value);
        *response.status_mut() = self.status;
        self.usage.add_headers(&mut response);
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
    pub error: ApiError,
    /// The caller's usage, when the caller is known (auth passed).
    pub usage: Option<Usage>,
}

impl Refusal {
    pub fn new(error: ApiError, usage: Option<Usage>) -> Refusal {
        Refusal { error, usage }
    }
}

impl Reply for Refusal {
    fn into_response(self) -> Response {
        if let ApiError::Internal { cause, .. } = &self.error {
            tracing::error!(%cause, "server fault in the todo API");
        }
        let mut response = self.error.to_response();
        if let Some(usage) = self.usage {
            usage.add_headers(&mut response);
        }
        response
    }
}
