//! What every `/api/*` call carries through the chain, and reading its JSON body safely.

use std::convert::Infallible;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use warp::Filter;
use warp::http::{HeaderMap, Method, header};

use crate::api::error::ApiError;

/// Bodies above this are refused with 413 (SPEC: 64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct CallMeta {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub user_agent: Option<String>,
    pub started: Instant,
    /// The MCP tool a `tools/call` on /mcp runs; `None` on the REST API.
    pub tool: Option<&'static str>,
}

impl CallMeta {
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
            method,
            path: path.as_str().to_owned(),
            headers: HeaderMap::new(),
            user_agent,
            started: Instant::now(),
            tool: None,
        },
    )
}

/// A per-process random prefix and a counter: unique, cheap, and sortable within one run. Given
/// when a call is logged, so the ids of logged calls follow each other.
pub fn next_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(rand::random);
    format!("{prefix:08x}-{:08x}", COUNTER.fetch_add(1, Ordering::Relaxed))
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
