//! What a call through the API is logged with (its [`RequestLine`]), and its JSON body, read
//! safely.
#![warn(missing_docs)]

use std::convert::Infallible;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use warp::Filter;
use warp::http::header::Entry;
use warp::http::{HeaderName, HeaderValue, Method};
use warp::reply::Response;

use crate::chain::api_error::ApiError;
use crate::http::server::BodyStalled;

/// Bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of a request's path and User-Agent the call log stores and prints. Anyone may send
/// them (a 404 or a 401 is logged too), so whole ones would let a stranger fill the disk.
pub const MAX_LOGGED_BYTES: usize = 512;
/// Ends a logged text that was cut; a request path is ASCII, so it cannot end like this itself.
pub const CUT_MARK: &str = "…";

/// What a call's log row records of its request. It holds no header but the user agent, so
/// neither the `Authorization` header nor a cookie can reach the log: the headers stay with the
/// auth step.
#[derive(Debug, Clone)]
pub struct RequestLine {
    /// Given when the line is read; the response's `X-Request-Id` and the log row carry it.
    pub request_id: RequestId,
    /// The HTTP method.
    pub method: Method,
    /// The path, without the query string, clipped to [`MAX_LOGGED_BYTES`].
    pub path: String,
    /// `User-Agent`, when it is text, clipped to [`MAX_LOGGED_BYTES`].
    pub user_agent: Option<String>,
    /// When the request arrived, for the logged duration.
    pub started: Instant,
    /// The MCP tool a `tools/call` on /mcp runs (named in its body); `None` on the REST API.
    pub tool: Option<&'static str>,
}

impl RequestLine {
    /// A request arriving now, with a new id; `path` and `user_agent` are clipped for the log.
    pub fn new(method: Method, path: &str, user_agent: Option<&str>) -> RequestLine {
        RequestLine {
            request_id: RequestId::next(),
            method,
            path: clip(path),
            user_agent: user_agent.map(clip),
            started: Instant::now(),
            tool: None,
        }
    }

    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }
}

/// A per-process random prefix and a counter, written `prefix-counter` in hex: unique, cheap (no
/// allocation until it is written), and sortable within one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(u64);

impl RequestId {
    fn next() -> RequestId {
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        RequestId(COUNTER.fetch_add(1, Ordering::Relaxed))
    }

    /// Sets `X-Request-Id` on a response that has none yet, so a user reporting a problem can
    /// quote the id an operator finds in the log (`gpt-todo logs`, or the server's log lines).
    pub fn tag(self, response: &mut Response) {
        if let Entry::Vacant(slot) = response.headers_mut().entry(&REQUEST_ID_HEADER)
            && let Ok(value) = HeaderValue::from_str(self.hex().as_str())
        {
            slot.insert(value);
        }
    }

    /// `prefix-counter`, each in at least 8 hex digits. Written by hand rather than with `write!`:
    /// every response and every log row carries one.
    fn hex(self) -> Hex {
        static PREFIX: OnceLock<u32> = OnceLock::new();
        let mut hex = Hex { text: [0; Hex::CAPACITY], len: 0 };
        hex.push(u64::from(*PREFIX.get_or_init(rand::random)));
        hex.text[hex.len] = b'-';
        hex.len += 1;
        hex.push(self.0);
        hex
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

/// A request id's text, on the stack.
struct Hex {
    text: [u8; Hex::CAPACITY],
    len: usize,
}

impl Hex {
    /// A 32-bit prefix, the dash and a 64-bit counter.
    const CAPACITY: usize = 8 + 1 + 16;

    /// Appends `n` in lower-case hex, zero-padded to 8 digits (as `{:08x}`).
    fn push(&mut self, n: u64) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let digits = (16 - n.leading_zeros() as usize / 4).max(8);
        for shift in (0..digits).rev() {
            self.text[self.len] = DIGITS[(n >> (4 * shift)) as usize & 0xf];
            self.len += 1;
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits, letters and a dash were written.
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

/// The header that carries a call's request id, the same id as its log row.
pub const REQUEST_ID: &str = "x-request-id";
/// [`REQUEST_ID`] as a header name, made once rather than parsed for every response.
static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static(REQUEST_ID);

/// The line of whatever request comes, with a new id; never rejects.
pub fn request_line() -> impl Filter<Extract = (RequestLine,), Error = Infallible> + Clone {
    // A User-Agent that is not text is logged as none rather than refusing the request.
    let user_agent = warp::header::optional::<String>("user-agent").or(warp::any().map(|| None)).unify();
    warp::method().and(warp::path::full()).and(user_agent).map(
        |method, path: warp::path::FullPath, user_agent: Option<String>| {
            RequestLine::new(method, path.as_str(), user_agent.as_deref())
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
/// while streaming too. Its error is kept for the handler to answer after auth, so a request
/// without a valid token is a 401 whatever its body.
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
    use super::{CUT_MARK, MAX_LOGGED_BYTES, RequestId, clip, is_json};

    #[test]
    fn request_ids_are_a_prefix_and_a_counter_in_hex() {
        let id = |n| RequestId(n).to_string();
        let prefix = &id(1)[..9];
        assert_eq!(id(1), format!("{prefix}00000001"));
        assert_eq!(id(0xabc_def0), format!("{prefix}0abcdef0"));
        assert_eq!(id(u64::MAX), format!("{prefix}ffffffffffffffff"));
        assert!(prefix.ends_with('-') && prefix[..8].bytes().all(|b| b.is_ascii_hexdigit()), "{prefix}");
    }

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
