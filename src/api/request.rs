//! What a call through the API is logged with (its [`RequestLine`]), and its JSON body, read
//! safely.

use std::convert::Infallible;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use warp::Filter;
use warp::http::{HeaderValue, Method};

use super::error::ApiError;

/// Bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a call's log row records of its request: never a header but the user agent, so neither
/// the `Authorization` header nor a cookie can reach the log.
#[derive(Debug)]
pub struct RequestLine {
    pub method: Method,
    pub path: String,
    pub user_agent: Option<String>,
    pub started: Instant,
    pub request_id: RequestId,
}

impl RequestLine {
    /// A request starting now, with a new id.
    pub fn new(method: Method, path: String, user_agent: Option<String>) -> RequestLine {
        RequestLine { method, path, user_agent, started: Instant::now(), request_id: RequestId::next() }
    }

    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }
}

/// A per-process random prefix and a counter, shown as `prefix-counter` in hex: unique, cheap
/// (no allocation until it is written), and sortable within one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(u64);

impl RequestId {
    fn next() -> RequestId {
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        RequestId(COUNTER.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        static PREFIX: OnceLock<u32> = OnceLock::new();
        write!(f, "{:08x}-{:08x}", PREFIX.get_or_init(rand::random), self.0)
    }
}

/// The request line of whatever request comes; never rejects.
pub fn request_line() -> impl Filter<Extract = (RequestLine,), Error = Infallible> + Clone {
    // A User-Agent that is not text is logged as none rather than refusing the request.
    let user_agent = warp::header::optional::<String>("user-agent").or(warp::any().map(|| None)).unify();
    warp::method().and(warp::path::full()).and(user_agent).map(
        |method, path: warp::path::FullPath, user_agent: Option<String>| {
            RequestLine::new(method, path.as_str().to_owned(), user_agent)
        },
    )
}

/// Matches paths starting with `prefix` without consuming them. Scopes a wrapper such as
/// `warp::cors`, which otherwise answers preflights for every path before any path filter runs.
pub fn path_prefix(prefix: &'static str) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::path::full()
        .and_then(move |path: warp::path::FullPath| async move {
            if path.as_str().starts_with(prefix) { Ok(()) } else { Err(warp::reject::not_found()) }
        })
        .untuple_one()
}

/// The request body as JSON bytes, or why it is not acceptable: the content type must be JSON (or
/// absent), and the body at most [`MAX_BODY_BYTES`], checked against `Content-Length` first and
/// while streaming too. Never rejects: the handler decides when a body error is answered (after
/// auth, so a request without a valid token is a 401 whatever its body).
pub fn json_body() -> impl Filter<Extract = (Result<Bytes, ApiError>,), Error = warp::Rejection> + Clone {
    header_value("content-type").and(header_value("content-length")).and(warp::body::stream()).then(read_json_body)
}

/// One header's value, if sent (a cheap clone of the received bytes); never rejects.
fn header_value(name: &'static str) -> impl Filter<Extract = (Option<HeaderValue>,), Error = Infallible> + Clone {
    warp::header::value(name).map(Some).or(warp::any().map(|| None)).unify()
}

async fn read_json_body<S, B>(
    content_type: Option<HeaderValue>,
    content_length: Option<HeaderValue>,
    body: S,
) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    if let Some(content_type) = content_type
        && !is_json(content_type.to_str().unwrap_or(""))
    {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = content_length.and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let mut body = std::pin::pin!(body);
    let mut collected = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| ApiError::bad_request(format!("Could not read the request body: {e}")))?;
        if collected.len() + chunk.remaining() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            collected.extend_from_slice(part);
            let read = part.len();
            chunk.advance(read);
        }
    }
    Ok(collected.into())
}

/// `application/json`, any `+json` type, with or without parameters such as `charset`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json(""));
    }
}
