//! RFC 6749 error responses of the machine-facing endpoints (token, revocation):
//! `{"error", "error_description"}`, never cached.

use std::time::Duration;

use warp::http::header::{CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::events::AuthEvent;
use crate::chain::api_error::{RETRY_WRITES_AFTER_SECONDS, json_response};
use crate::store::StoreError;

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// The client tried HTTP Basic: the 401 must carry a Basic challenge (RFC 6749 5.2).
    basic_challenge: bool,
    /// Logged with the client's address when the response goes out.
    event: Option<Box<AuthEvent>>,
    /// Seconds the client should wait before trying again (a 429's `Retry-After`).
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status,
            code,
            description: description.into(),
            basic_challenge: false,
            event: None,
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// RFC 8707 §2: the requested resource is not one this server issues tokens for.
    pub fn invalid_target(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_target", description)
    }

    /// RFC 7591 §3.2.2: the registration request's metadata is unacceptable.
    pub fn invalid_client_metadata(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_client_metadata", description)
    }

    /// RFC 7591 §3.2.2: a redirect URI is unacceptable.
    pub fn invalid_redirect_uri(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_redirect_uri", description)
    }

    pub fn with_status(self, status: StatusCode) -> OAuthError {
        OAuthError { status, ..self }
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", description)
    }

    pub fn invalid_client(description: impl Into<String>, basic_challenge: bool) -> OAuthError {
        OAuthError { basic_challenge, ..OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description) }
    }

    pub fn with_event(self, event: AuthEvent) -> OAuthError {
        OAuthError { event: Some(Box::new(event)), ..self }
    }

    /// The client's address has sent too many requests. RFC 6749 has no error code for that; its
    /// `temporarily_unavailable` (4.1.2.1) says "try again later", and the status and
    /// `Retry-After` say when (RFC 6585 4).
    pub fn too_many_requests(wait: Duration) -> OAuthError {
        let seconds = crate::http::rate_limit::retry_after_seconds(wait);
        let unit = if seconds == 1 { "second" } else { "seconds" };
        let description = format!("Too many requests from this address; try again in {seconds} {unit}");
        OAuthError {
            retry_after: Some(seconds),
            ..OAuthError::new(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", description)
        }
    }

    pub fn to_response(&self) -> Response {
        let body = serde_json::json!({ "error": self.code, "error_description": self.description });
        let mut response = no_store(json_response(self.status, &body));
        if self.basic_challenge {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="gpt-todo""#));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        match &self.event {
            Some(event) => AuthEvent::clone(event).attach(response),
            None => response,
        }
    }
}

/// A store failure, logged here, once: `503 temporarily_unavailable` with `Retry-After` when the
/// database cannot take work for now, else `500 server_error`.
impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> OAuthError {
        tracing::error!(error = %e, "OAuth endpoint database error");
        match e {
            // RFC 6749 §4.1.2.1 names this code for a server that cannot answer for now.
            StoreError::Unavailable(reason) => OAuthError {
                retry_after: Some(u64::from(RETRY_WRITES_AFTER_SECONDS)),
                ..OAuthError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    format!("The database cannot be written right now ({reason}); try again shortly"),
                )
            },
            _ => OAuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Database error"),
        }
    }
}

/// Responses carrying tokens or token errors must not be cached (RFC 6749 5.1).
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_told_in_the_number_it_takes() {
        assert!(OAuthError::too_many_requests(Duration::from_secs(1)).description.ends_with("in 1 second"));
        assert!(OAuthError::too_many_requests(Duration::from_secs(28)).description.ends_with("in 28 seconds"));
    }
}
