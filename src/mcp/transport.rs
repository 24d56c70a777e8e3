//! The Streamable HTTP transport of MCP, stateless: one JSON-RPC message per POST, answered with
//! one `application/json` body (never an SSE stream, never an `Mcp-Session-Id`). Which protocol
//! revision a message speaks is read from the message itself:
//! - 2026-07-28 ("modern"): no handshake; every request carries `_meta` with its protocol version
//!   and client capabilities, mirrored in the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`
//!   headers, which must agree with the body.
//! - 2025-11-25 and 2025-06-18 ("legacy"): `initialize` negotiates the version, which the client
//!   then sends in `MCP-Protocol-Version` on every later request.
//!
//! Errors of the framing, the revision or the headers are JSON-RPC error objects with a 4xx;
//! nothing here reaches the database except through the token check and the tools.

use serde_json::{Map, Value, json};
use warp::Reply;
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::Response;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::chain::api_error::{ApiError, json_response};

pub const MODERN: &str = "2026-07-28";
/// Handshake-era revisions, newest first: `initialize` answers with the first when the client
/// asks for one not listed (2025-11-25, lifecycle: version negotiation).
pub const LEGACY: [&str; 2] = ["2025-11-25", "2025-06-18"];
pub const SUPPORTED: [&str; 3] = [MODERN, LEGACY[0], LEGACY[1]];

pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

// JSON-RPC 2.0 §5.1, and the MCP codes of 2026-07-28 (basic: error codes).
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const HEADER_MISMATCH: i64 = -32020;
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    Modern,
    Legacy(&'static str),
}

/// One JSON-RPC request (with an id) or notification (without).
#[derive(Debug)]
pub struct Message {
    pub id: Option<Value>,
    pub method: String,
    pub params: Map<String, Value>,
}

/// A JSON-RPC error, with the HTTP status it is sent with.
#[derive(Debug)]
pub struct RpcError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> RpcError {
        RpcError { status, code, message: message.into(), data: None }
    }

    pub fn invalid_request(message: impl Into<String>) -> RpcError {
        RpcError::new(StatusCode::BAD_REQUEST, INVALID_REQUEST, message)
    }

    fn header_mismatch(message: impl Into<String>) -> RpcError {
        RpcError::new(StatusCode::BAD_REQUEST, HEADER_MISMATCH, format!("Header mismatch: {}", message.into()))
    }

    fn unsupported_version(requested: Option<&str>) -> RpcError {
        let message = match requested {
            Some(version) => format!("Unsupported protocol version {version}; supported: {}", SUPPORTED.join(", ")),
            None => format!(
                "No MCP-Protocol-Version header (protocol 2025-03-26, which is not supported); supported: {}",
                SUPPORTED.join(", ")
            ),
        };
        RpcError {
            status: StatusCode::BAD_REQUEST,
            code: UNSUPPORTED_PROTOCOL_VERSION,
            message,
            data: Some(json!({ "supported": SUPPORTED, "requested": requested })),
        }
    }

    /// Reading the body failed before any JSON-RPC was seen (too large, wrong content type).
    pub fn from_body(error: &ApiError) -> RpcError {
        RpcError::new(error.status(), INVALID_REQUEST, error.to_string())
    }

    pub fn into_response(self, id: Option<&Value>) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = self.data {
            error["data"] = data;
        }
        // JSON-RPC §5: the id is null when it could not be read.
        json_response(
            self.status,
            &json!({ "jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": error }),
        )
    }
}

impl Message {
    /// JSON-RPC 2.0 §4 and MCP basic (requests): an object with `"jsonrpc": "2.0"`, a string
    /// `method`, an id that is a string or an integer (never null), object `params`.
    pub fn parse(body: &[u8]) -> Result<Message, (RpcError, Option<Value>)> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| (RpcError::new(StatusCode::BAD_REQUEST, PARSE_ERROR, format!("Parse error: {e}")), None))?;
        let mut fields = match value {
            Value::Object(fields) => fields,
            // Batches were dropped in 2025-06-18 and are not in any revision served here.
            Value::Array(_) => {
                return Err((
                    RpcError::invalid_request("Batch requests are not supported: send one JSON-RPC message per POST"),
                    None,
                ));
            }
            _ => return Err((RpcError::invalid_request("The body must be a JSON-RPC request object"), None)),
        };
        let id = match fields.remove("id") {
            None => None,
            Some(id @ Value::String(_)) => Some(id),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n)),
            Some(_) => return Err((RpcError::invalid_request("id must be a string or an integer"), None)),
        };
        let refuse = |message: &str| Err((RpcError::invalid_request(message), id.clone()));
        if fields.get("jsonrpc") != Some(&Value::from("2.0")) {
            return refuse("jsonrpc must be \"2.0\"");
        }
        let method = match fields.remove("method") {
            Some(Value::String(method)) => method,
            None if fields.contains_key("result") || fields.contains_key("error") => {
                return refuse("This server sends no requests, so it takes no JSON-RPC responses");
            }
            _ => return refuse("method must be a string"),
        };
        let params = match fields.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(params)) => params,
            Some(_) => return refuse("params must be an object"),
        };
        Ok(Message { id, method, params })
    }

    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }

    fn meta(&self) -> Option<&Map<String, Value>> {
        self.params.get("_meta").and_then(Value::as_object)
    }

    /// The revision this message speaks, with the headers checked against the body.
    pub fn revision(&self, headers: &HeaderMap) -> Result<Revision, RpcError> {
        let header_version = header_text(headers, PROTOCOL_VERSION_HEADER)?;
        let Some(body_version) = self.meta().and_then(|meta| meta.get(META_VERSION)) else {
            if self.method == "initialize" {
                return self.handshake_revision();
            }
            // A handshake-era request: the version negotiated earlier, in the header.
            return match header_version.as_deref() {
                Some(MODERN) => Err(RpcError::new(
                    StatusCode::BAD_REQUEST,
                    INVALID_PARAMS,
                    format!("Requests of protocol {MODERN} carry params._meta[\"{META_VERSION}\"]"),
                )),
                Some(version) => LEGACY
                    .into_iter()
                    .find(|v| *v == version)
                    .map(Revision::Legacy)
                    .ok_or_else(|| RpcError::unsupported_version(Some(version))),
                None => Err(RpcError::unsupported_version(None)),
            };
        };
        // From here on the message speaks the per-request era, `initialize` included: under
        // 2026-07-28 that method does not exist, so it gets the 404 of an unknown method.
        let Some(body_version) = body_version.as_str() else {
            return Err(RpcError::new(
                StatusCode::BAD_REQUEST,
                INVALID_PARAMS,
                format!("{META_VERSION} must be a string"),
            ));
        };
        // 2026-07-28, Streamable HTTP, protocol version header: the header MUST match the body's
        // version (400, HeaderMismatch). That comes first: only a request whose two sources of
        // truth agree is asked whether its version is one this server implements.
        match header_version.as_deref() {
            Some(version) if version == body_version => {}
            Some(other) => {
                return Err(RpcError::header_mismatch(format!(
                    "MCP-Protocol-Version header value '{other}' does not match body value '{body_version}'"
                )));
            }
            None => return Err(RpcError::header_mismatch("the MCP-Protocol-Version header is missing")),
        }
        if body_version != MODERN {
            return Err(RpcError::unsupported_version(Some(body_version)));
        }
        self.check_modern_headers(headers)?;
        // 2026-07-28, basic (_meta): a request without its client capabilities is malformed.
        if !self.meta().and_then(|meta| meta.get(META_CAPABILITIES)).is_some_and(Value::is_object) {
            return Err(RpcError::new(
                StatusCode::BAD_REQUEST,
                INVALID_PARAMS,
                format!("params._meta[\"{META_CAPABILITIES}\"] must be an object"),
            ));
        }
        Ok(Revision::Modern)
    }

    /// 2025-11-25, lifecycle (initialization): `initialize` names the version the client wants
    /// in `params.protocolVersion`; the server answers with it if it supports it, else with its
    /// latest. The handshake itself carries no version header. Without a version there is
    /// nothing to negotiate: the request is malformed (-32602).
    fn handshake_revision(&self) -> Result<Revision, RpcError> {
        let Some(requested) = self.params.get("protocolVersion").and_then(Value::as_str) else {
            return Err(RpcError::new(
                StatusCode::BAD_REQUEST,
                INVALID_PARAMS,
                format!(
                    "initialize needs params.protocolVersion, the protocol version the client speaks (one of {})",
                    LEGACY.join(", ")
                ),
            ));
        };
        Ok(Revision::Legacy(LEGACY.into_iter().find(|v| *v == requested).unwrap_or(LEGACY[0])))
    }

    /// 2026-07-28, Streamable HTTP, server validation: the `Mcp-Method` and `Mcp-Name` headers
    /// mirror the body, so that intermediaries routing on them see what the server runs.
    fn check_modern_headers(&self, headers: &HeaderMap) -> Result<(), RpcError> {
        match header_text(headers, METHOD_HEADER)? {
            Some(method) if method == self.method => {}
            Some(method) => {
                return Err(RpcError::header_mismatch(format!(
                    "Mcp-Method header value '{method}' does not match body value '{}'",
                    self.method
                )));
            }
            None => return Err(RpcError::header_mismatch("the Mcp-Method header is missing")),
        }
        let named = match self.method.as_str() {
            "tools/call" | "prompts/get" => self.params.get("name"),
            "resources/read" => self.params.get("uri"),
            _ => return Ok(()),
        };
        let body_name = named.and_then(Value::as_str).unwrap_or("");
        match header_text(headers, NAME_HEADER)?.map(|value| decode_sentinel(&value)) {
            Some(Ok(name)) if name == body_name => Ok(()),
            Some(Ok(name)) => Err(RpcError::header_mismatch(format!(
                "Mcp-Name header value '{name}' does not match body value '{body_name}'"
            ))),
            Some(Err(())) => Err(RpcError::header_mismatch("the Mcp-Name header's base64 value is malformed")),
            None => Err(RpcError::header_mismatch("the Mcp-Name header is missing")),
        }
    }
}

/// A header as text; one that is not visible ASCII is a malformed header (a 400, not ignored).
fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, RpcError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|text| Some(text.trim().to_owned()))
            .map_err(|_| RpcError::header_mismatch(format!("the {name} header contains invalid characters"))),
    }
}

/// 2026-07-28, Streamable HTTP, value encoding: `=?base64?<base64 of UTF-8>?=` carries a value
/// that is not plain ASCII; anything else is the value itself.
fn decode_sentinel(value: &str) -> Result<String, ()> {
    match value.strip_prefix("=?base64?").and_then(|rest| rest.strip_suffix("?=")) {
        Some(encoded) => STANDARD.decode(encoded).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or(()),
        None => Ok(value.to_owned()),
    }
}

/// A JSON-RPC result. 2026-07-28 results carry `resultType` and the server's identity in `_meta`
/// (basic: per-response protocol fields); older revisions get the result as they define it.
pub fn result_response(id: Option<&Value>, revision: Revision, mut result: Value) -> Response {
    if revision == Revision::Modern
        && let Some(fields) = result.as_object_mut()
    {
        fields.insert("resultType".into(), "complete".into());
        let meta = fields.entry("_meta").or_insert_with(|| json!({}));
        meta["io.modelcontextprotocol/serverInfo"] = server_info();
    }
    json_response(
        StatusCode::OK,
        &json!({ "jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "result": result }),
    )
}

/// `202 Accepted` with no body: the answer to a notification (Streamable HTTP, sending messages).
pub fn accepted() -> Response {
    let mut response = Response::default();
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

pub fn server_info() -> Value {
    json!({ "name": "gpt-todo", "title": "gpt-todo", "version": env!("CARGO_PKG_VERSION") })
}

/// A 401 that tells an MCP client where to sign in (MCP authorization, RFC 9728 §5.1): the
/// protected resource metadata's URL and the scope to ask for.
pub fn unauthorized(error: ApiError, resource_metadata: &str, scope: &str) -> Response {
    let params = format!(r#"resource_metadata="{resource_metadata}", scope="{scope}""#);
    let challenge = error.bearer_challenge(&params);
    let mut response = error.into_response();
    if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (header::HeaderName::from_static(name), HeaderValue::from_str(value).unwrap()))
            .collect()
    }

    fn message(body: Value) -> Message {
        Message::parse(body.to_string().as_bytes()).unwrap()
    }

    fn modern_call(name: &str) -> Message {
        message(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": {},
            "_meta": {META_VERSION: MODERN, META_CAPABILITIES: {}}}}))
    }

    #[test]
    fn framing_errors_are_json_rpc_errors() {
        let code = |body: &str| Message::parse(body.as_bytes()).unwrap_err().0.code;
        assert_eq!(code("{"), PARSE_ERROR);
        assert_eq!(code("[]"), INVALID_REQUEST);
        assert_eq!(code("5"), INVALID_REQUEST);
        assert_eq!(code(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#), INVALID_REQUEST);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#), INVALID_REQUEST);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#), INVALID_REQUEST);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":5}"#), INVALID_REQUEST);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#), INVALID_REQUEST);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#), INVALID_REQUEST);
        assert!(
            Message::parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap().is_notification()
        );
    }

    #[test]
    fn revisions_and_their_headers() {
        let init = message(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}),
        );
        assert_eq!(init.revision(&HeaderMap::new()).unwrap(), Revision::Legacy("2025-06-18"));
        let old = message(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2024-11-05"}}),
        );
        assert_eq!(old.revision(&HeaderMap::new()).unwrap(), Revision::Legacy("2025-11-25"));
        let list = message(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
        assert_eq!(
            list.revision(&headers(&[("mcp-protocol-version", "2025-11-25")])).unwrap(),
            Revision::Legacy("2025-11-25")
        );
        assert_eq!(list.revision(&HeaderMap::new()).unwrap_err().code, UNSUPPORTED_PROTOCOL_VERSION);
        assert_eq!(
            list.revision(&headers(&[("mcp-protocol-version", "1999-01-01")])).unwrap_err().code,
            UNSUPPORTED_PROTOCOL_VERSION
        );
        assert_eq!(list.revision(&headers(&[("mcp-protocol-version", MODERN)])).unwrap_err().code, INVALID_PARAMS);

        let good = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "get_todo")];
        assert_eq!(modern_call("get_todo").revision(&headers(&good)).unwrap(), Revision::Modern);
        let encoded = format!("=?base64?{}?=", STANDARD.encode("get_todo"));
        let base64 = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", encoded.as_str())];
        assert_eq!(modern_call("get_todo").revision(&headers(&base64)).unwrap(), Revision::Modern);
        for bad in [
            &good[..2],
            &[good[0], good[1], ("mcp-name", "delete_todo")][..],
            &[good[0], ("mcp-method", "tools/list"), good[2]][..],
            &[("mcp-protocol-version", "2025-11-25"), good[1], good[2]][..],
            &good[1..],
        ] {
            assert_eq!(modern_call("get_todo").revision(&headers(bad)).unwrap_err().code, HEADER_MISMATCH, "{bad:?}");
        }
        let future = message(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {META_VERSION: "2099-01-01"}}}),
        );
        let future_headers = [("mcp-protocol-version", "2099-01-01"), ("mcp-method", "tools/list")];
        let error = future.revision(&headers(&future_headers)).unwrap_err();
        assert_eq!((error.code, error.status), (UNSUPPORTED_PROTOCOL_VERSION, StatusCode::BAD_REQUEST));
        assert_eq!(error.data.unwrap()["supported"], json!(SUPPORTED));
        // Header and body disagree: that is the mismatch, whether or not the body's version exists.
        for header in [MODERN, "2025-11-25"] {
            let error = future.revision(&headers(&[("mcp-protocol-version", header)])).unwrap_err();
            assert_eq!((error.code, error.status), (HEADER_MISMATCH, StatusCode::BAD_REQUEST), "{header}");
        }
        assert_eq!(future.revision(&HeaderMap::new()).unwrap_err().code, HEADER_MISMATCH);
        // initialize is a handshake only without the per-request _meta; with it, the message is a
        // 2026-07-28 request (for a method that revision does not have). Without a version it is
        // malformed.
        let modern_init = message(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"_meta": {META_VERSION: MODERN, META_CAPABILITIES: {}}}}));
        let init_headers = [("mcp-protocol-version", MODERN), ("mcp-method", "initialize")];
        assert_eq!(modern_init.revision(&headers(&init_headers)).unwrap(), Revision::Modern);
        assert_eq!(modern_init.revision(&HeaderMap::new()).unwrap_err().code, HEADER_MISMATCH);
        for bare in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize"}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 2025}}),
        ] {
            let error = message(bare).revision(&HeaderMap::new()).unwrap_err();
            assert_eq!((error.code, error.status), (INVALID_PARAMS, StatusCode::BAD_REQUEST));
        }
        let no_capabilities = message(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {META_VERSION: MODERN}}}),
        );
        let list_headers = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/list")];
        assert_eq!(no_capabilities.revision(&headers(&list_headers)).unwrap_err().code, INVALID_PARAMS);
    }
}
