//! Errors of the todo API and how they become responses: `{"error": "<message>"}` with the right
//! status. The client gets the short message; the log gets the cause.
#![warn(missing_docs)]

use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use crate::store::StoreError;

/// The original demo's 429 message, word for word (docs/contract.md): GPTs built against it may
/// look for it.
pub const QUOTA_MESSAGE: &str = "You have reached the maximum number of free API calls.";

/// How long a client is asked to wait before retrying a write the database could not take.
pub const RETRY_WRITES_AFTER_SECONDS: u32 = 5;

/// Why an API call was not served; each becomes its status and `{"error": "<message>"}`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON or a bad field; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no `Authorization` header at all, answered with the bare challenge (RFC 6750 §3.1).
    /// The message is the original demo's, which GPTs built against it may look for.
    #[error("Missing Authorization header")]
    MissingToken,
    /// 401: a malformed, unknown, expired or revoked bearer token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 404: no such resource, or one of another user.
    #[error("Not found")]
    NotFound,
    /// 405: the path does not take this method.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 413: the body is larger than the limit (in bytes).
    #[error("Request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415: a body that is not JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// 408: the request body stopped arriving before it was complete.
    #[error("The request body stopped arriving; send it again")]
    RequestTimeout,
    /// 429: the caller's limit is reached ([`QUOTA_MESSAGE`]).
    #[error("{}", QUOTA_MESSAGE)]
    QuotaExceeded,
    /// The database cannot be written right now (a full disk, an I/O error): nothing of the call
    /// was kept, and trying again later may succeed.
    #[error("The database cannot be written right now ({0}); nothing was saved, try again shortly")]
    Unavailable(String),
    /// 500: a real server fault.
    #[error("{public}")]
    Internal {
        /// What the client is told.
        public: &'static str,
        /// What only the log gets.
        cause: String,
    },
}

impl ApiError {
    /// A 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }

    /// A 500 that tells the client `public` and the log `cause` too.
    pub fn internal(public: &'static str, cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal { public, cause: cause.to_string() }
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MissingToken | ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the call log records: the client's message, plus the cause of a server fault.
    pub fn log_message(&self) -> String {
        match self {
            ApiError::Internal { public, cause } => format!("{public}: {cause}"),
            other => other.to_string(),
        }
    }
}

/// The one way an API error becomes a response: `{"error": "<message>"}` with its status,
/// `WWW-Authenticate` on a 401 and `Retry-After` on a 503. A server fault's cause is logged here,
/// once, whichever route answered it.
impl Reply for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal { cause, .. } = &self {
            tracing::error!(%cause, "server fault in the API");
        }
        let mut response = json_response(self.status(), &serde_json::json!({ "error": self.to_string() }));
        if let Some(value) = self.bearer_challenge(r#"realm="gpt-todo""#).and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        if let ApiError::Unavailable(_) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_WRITES_AFTER_SECONDS));
        }
        response
    }
}

impl ApiError {
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3), `None` for other errors: `params`
    /// first (the realm, or for /mcp where its protected resource metadata is, RFC 9728 §5.1). A
    /// request that sent no credentials gets the bare challenge (RFC 6750 §3.1); one that sent a
    /// bad token also learns why.
    pub fn bearer_challenge(&self, params: &str) -> Option<String> {
        match self {
            ApiError::MissingToken => Some(format!("Bearer {params}")),
            ApiError::Unauthorized(reason) => {
                Some(format!(r#"Bearer {params}, error="invalid_token", error_description="{reason}""#))
            }
            _ => None,
        }
    }
}

/// The store's failure as the answer: a database that is away is a `503` (with `Retry-After`),
/// anything else a `500` whose cause only the log gets.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Unavailable(reason) => ApiError::Unavailable(reason),
            other => ApiError::internal("Database error", other),
        }
    }
}

/// A JSON response; serialising our own types cannot fail, so this never panics in practice.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| br#"{"error":"Response encoding failed"}"#.to_vec());
    let mut response = Response::new(bytes.into());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
