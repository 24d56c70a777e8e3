//! What every `/api/*` call carries through the chain, and reading its JSON body safely.
#![warn(missing_docs)]

use std::convert::Infallible;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method, header};
use warp::reply::Response;

use crate::api::error::ApiError;
use crate::server::BodyStalled;

/// Bodies above this are refused with 413 (SPEC: 64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of a request's path and User-Agent the call log stores and prints. Anyone may send
/// them (a 404 or a 401 is logged too), so whole ones would let a stranger fill the disk.
pub const MAX_LOGGED_BYTES: usize = 512;
/// Ends a logged text that was cut; a request path is ASCII, so it cannot end like this itself.
pub const CUT_MARK: &str = "…";

/// What the chain knows of a request: its line for the log, and its headers for the auth step.
#[derive(Debug)]
pub struct CallMeta {
    /// Given when the request arrives; the response's `X-Request-Id` and the log row carry it.
    pub request_id: String,
    /// The HTTP method.
    pub method: Method,
    /// The path, without the query string.
    pub path: String,
    /// The request's headers (empty for a request no route takes).
    pub headers: HeaderMap,
    /// `User-Agent`, when it is text.
    pub user_agent: Option<String>,
    /// When the request arrived, for the logged duration.
    pub started: Instant,
    /// The MCP tool a `tools/call` on /mcp runs; `None` on the REST API.
    pub tool: Option<&'static str>,
}

impl CallMeta {
    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }
}

/// Extracts the call's metadata, headers included; never rejects.
pub fn call_meta() -> impl Filter<Extract = (CallMeta,), Error = Infallible> + Clone {
    request_line().and(warp::header::headers_cloned()).map(|meta: CallMeta, headers| CallMeta { headers, ..meta })
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

/// What the log row of a request that no route takes needs (a 404 or 405 under `/api/`), without
/// copying its headers: every request passes here, most of them on to a route's own [`call_meta`].
pub fn request_line() -> impl Filter<Extract = (CallMeta,), Error = Infallible> + Clone {
    // A User-Agent that is not text is logged as none rather than refusing the request.
    let user_agent = warp::header::optional::<String>("user-agent").or(warp::any().map(|| None)).unify();
    warp::method().and(warp::path::full()).and(user_agent).map(
        |method, path: warp::path::FullPath, user_agent: Option<String>| CallMeta {
            request_id: next_request_id(),
            method,
            path: clip(path.as_str()),
            headers: HeaderMap::new(),
            user_agent: user_agent.as_deref().map(clip),
            started: Instant::now(),
            tool: None,
        },
    )
}

/// `text` if it fits in [`MAX_LOGGED_BYTES`], else as much of it as fits (cut on a character
/// boundary) followed by [`CUT_MARK`].
pub fn clip(text: &str) -> String {
    if text.len() <= MAX_LOGGED_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_LOGGED_BYTES - CUT_MARK.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT_MARK}", &text[..end])
}

/// A per-process random prefix and a counter: unique, cheap, and sortable within one run.
pub fn next_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(rand::random);
    format!("{prefix:08x}-{:08x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Sets `X-Request-Id` on a response that has none yet, so a user reporting a problem can quote
/// the id an operator finds in the log (`gpt-todo logs`, or the server's log lines).
pub fn tag_request_id(response: &mut Response, request_id: &str) {
    if !response.headers().contains_key(REQUEST_ID)
        && let Ok(value) = HeaderValue::from_str(request_id)
    {
        response.headers_mut().insert(REQUEST_ID, value);
    }
}

/// The header that carries a call's request id, the same id as its log row.
pub const REQUEST_ID: &str = "x-request-id";

/// The request's JSON body, read by [`read_json_body`]; its error (wrong type, too large) is kept
/// for the handler to answer after auth, so a request without a valid token is a 401 first.
pub fn json_body() -> impl Filter<Extract = (Result<Bytes, ApiError>,), Error = warp::Rejection> + Clone {
    warp::header::headers_cloned()
        .and(warp::body::stream())
        .then(|headers: HeaderMap, body| async move { read_json_body(&headers, body).await })
}

/// Reads a JSON request body: the content type must be JSON (or absent), and the body at most
/// [`MAX_BODY_BYTES`], checked against `Content-Length` first and while streaming too.
pub async fn read_json_body<S, B>(headers: &HeaderMap, body: S) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    if let Some(content_type) = headers.get(header::CONTENT_TYPE)
        && !is_json(content_type.to_str().unwrap_or(""))
    {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let mut body = std::pin::pin!(body);
    let mut collected = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            if BodyStalled::caused(&e) {
                ApiError::RequestTimeout
            } else {
                ApiError::bad_request(format!("Could not read the request body: {e}"))
            }
        })?;
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
    use super::{CUT_MARK, MAX_LOGGED_BYTES, clip, is_json};

    #[test]
    fn long_texts_are_clipped_on_a_character_boundary_and_marked() {
        assert_eq!(clip("/api/todos"), "/api/todos");
        let exact = "a".repeat(MAX_LOGGED_BYTES);
        assert_eq!(clip(&exact), exact);
        let long = "é".repeat(MAX_LOGGED_BYTES);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_LOGGED_BYTES, "{} bytes", clipped.len());
        assert!(clipped.ends_with(CUT_MARK));
        assert!(clipped.trim_end_matches(CUT_MARK).chars().all(|c| c == 'é'));
    }

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
