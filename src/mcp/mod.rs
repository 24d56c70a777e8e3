//! The MCP server at `POST /mcp`: ChatGPT apps and connectors, Claude and other MCP clients reach
//! the todo API here, signed in through the same OAuth server, counted by the same quota and
//! logged in the same call log. `transport` reads the JSON-RPC message and its protocol revision;
//! `tools` defines the tools and runs them through the chain; `resources` lists and reads the one
//! resource, the todo view of MCP Apps (`view`). This file is the route and the dispatch of
//! methods.

mod resources;
mod tools;
mod transport;
mod view;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::AppState;
use crate::chain::api_error::{ApiError, json_response};
use crate::chain::auth_step::{Caller, MCP_PATH};
use crate::chain::log_step::{self as calllog, CallRecord};
use crate::cli::config::{Config, check_origin};
use crate::http::request::{RequestLine, json_body, request_line};
use crate::oauth::{SCOPE, protected_resource_url};
pub use tools::Tool;
pub use transport::{LEGACY, MODERN, SUPPORTED};
use transport::{Message, Revision, RpcError};

const INSTRUCTIONS: &str = "gpt-todo keeps the signed-in user's todo list: list, read, create, update and delete \
    todos with these tools. Each tool call counts against the user's quota of calls for this app; when it is \
    used up, tool calls answer with an error saying so.";
/// How long clients may keep the tool list and the discovery result (2026-07-28, caching).
const CACHE_TTL_MS: u64 = 3_600_000;
const INTERNAL_ERROR: i64 = -32603;

pub fn route(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let cors = cors(&state.config);
    let with_state = warp::any().map(move || state.clone());
    let post = warp::post()
        .and(with_state)
        .and(request_line())
        .and(warp::header::headers_cloned())
        .and(json_body())
        .then(handle);
    // Streamable HTTP (2025-11-25, listening for messages from the server): a server without a
    // standalone SSE stream answers GET with 405, and DELETE too (it issues no session). Both are
    // answered inside the CORS wrapper, so that a browser client on an allowed origin reads the
    // 405 it expects instead of a CORS failure.
    let not_served = warp::get().or(warp::delete()).unify().map(method_not_allowed);
    // The CORS wrapper answers preflights and refuses a foreign Origin with 403 on every method.
    warp::path!("mcp").and(post.or(not_served).unify().with(cors)).map(Reply::into_response)
}

fn method_not_allowed() -> Response {
    let mut response =
        json_response(StatusCode::METHOD_NOT_ALLOWED, &json!({ "error": ApiError::MethodNotAllowed.to_string() }));
    if let Some(allow) = crate::http::route_table::allowed_methods(MCP_PATH) {
        response.headers_mut().insert(warp::http::header::ALLOW, warp::http::HeaderValue::from_static(allow));
    }
    response
}

/// Streamable HTTP, security: a browser page on another origin must not reach this endpoint
/// (DNS rebinding), so only the public URL's origin and the `--cors-origin`s may call it.
fn cors(config: &Config) -> warp::cors::Cors {
    let origins: Vec<&str> = std::iter::once(config.public_origin())
        .chain(config.cors_origins.iter().map(String::as_str))
        .filter(|origin| check_origin(origin).is_ok())
        .collect();
    warp::cors()
        .allow_origins(origins)
        .allow_methods(["POST", "GET", "DELETE"])
        .allow_headers(["authorization", "content-type", "accept", "mcp-protocol-version", "mcp-method", "mcp-name"])
        .expose_headers(["www-authenticate"])
        .max_age(600)
        .build()
}

async fn handle(state: AppState, mut line: RequestLine, headers: HeaderMap, body: Result<Bytes, ApiError>) -> Response {
    // warp takes `/mcp/` for `/mcp`: log and check it as the endpoint it is.
    if line.path != MCP_PATH {
        line.path = MCP_PATH.to_owned();
    }
    // The id of the call's log row, when the message is logged (a token refusal, a tool call).
    let request_id = line.request_id;
    let mut response = answer_message(&state, line, &headers, body).await;
    request_id.tag(&mut response);
    response
}

async fn answer_message(
    state: &AppState,
    line: RequestLine,
    headers: &HeaderMap,
    body: Result<Bytes, ApiError>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(error) => return RpcError::from_body(&error).into_response(None),
    };
    let message = match Message::parse(&body) {
        Ok(message) => message,
        Err((error, id)) => return error.into_response(id.as_ref()),
    };
    let revision = match message.revision(headers) {
        Ok(revision) => revision,
        Err(error) => return error.into_response(message.id.as_ref()),
    };
    let id = message.id.clone();
    match answer(state, line, headers, revision, message).await {
        Ok(Some(result)) => transport::result_response(id.as_ref(), revision, result),
        Ok(None) => transport::accepted(),
        Err(Refused::Rpc(error)) => error.into_response(id.as_ref()),
        Err(Refused::Token(error @ (ApiError::MissingToken | ApiError::Unauthorized(_)))) => {
            transport::unauthorized(error, &protected_resource_url(&state.config), SCOPE)
        }
        Err(Refused::Token(error)) => {
            tracing::error!(error = %error.log_message(), "MCP request failed");
            RpcError::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_ERROR, error.to_string())
                .into_response(id.as_ref())
        }
    }
}

/// Why a message gets no result: a JSON-RPC error, or its token (answered with HTTP 401).
enum Refused {
    Rpc(RpcError),
    Token(ApiError),
}

/// The methods both eras serve. The handshake (`initialize`, `ping`) is only in the older
/// revisions and `server/discover` only in 2026-07-28 (changelog 2 and 5).
const SHARED_METHODS: [&str; 6] =
    ["tools/list", "tools/call", "resources/list", "resources/read", "resources/templates/list", "prompts/list"];

/// 2026-07-28, caching: the results that carry `ttlMs` and `cacheScope`.
const CACHEABLE: [&str; 6] =
    ["server/discover", "tools/list", "resources/list", "resources/read", "resources/templates/list", "prompts/list"];

fn serves(revision: Revision, method: &str) -> bool {
    SHARED_METHODS.contains(&method)
        || match revision {
            Revision::Modern => method == "server/discover",
            Revision::Legacy(_) => matches!(method, "initialize" | "ping"),
        }
}

/// The result of one message (`None` for a notification), once its token is checked. Only
/// `tools/call` is an API call (counted and logged); the other methods need a valid token too.
async fn answer(
    state: &AppState,
    line: RequestLine,
    headers: &HeaderMap,
    revision: Revision,
    message: Message,
) -> Result<Option<Value>, Refused> {
    let method = message.method.as_str();
    if message.is_notification() {
        // Streamable HTTP: an accepted notification is a 202 without a body, whatever it says.
        authenticate(state, line, headers).await?;
        return Ok(None);
    }
    if !serves(revision, method) {
        // 2026-07-28, Streamable HTTP: an unknown method is a 404 with -32601. Handshake-era
        // clients treat a 404 as a lost session, so they get the error with a 200.
        let status = if revision == Revision::Modern { StatusCode::NOT_FOUND } else { StatusCode::OK };
        return Err(Refused::Rpc(RpcError::new(
            status,
            transport::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )));
    }
    if method == "tools/call" {
        let (tool, arguments) = match tool_call(message.params) {
            Ok(call) => call,
            Err(error) => {
                authenticate(state, line, headers).await?;
                return Err(Refused::Rpc(error));
            }
        };
        return tools::call(state, line, headers, tool, arguments).await.map(Some).map_err(Refused::Token);
    }
    authenticate(state, line, headers).await?;
    let mut result = match method {
        "initialize" => json!({
            "protocolVersion": match revision { Revision::Legacy(version) => version, Revision::Modern => MODERN },
            "capabilities": capabilities(),
            "serverInfo": transport::server_info(),
            "instructions": INSTRUCTIONS,
        }),
        "server/discover" => json!({
            "supportedVersions": SUPPORTED,
            "capabilities": capabilities(),
            "instructions": INSTRUCTIONS,
        }),
        // One list for every client, whatever it can render: the `_meta` of the tools that have a
        // view means nothing to a host without MCP Apps, and the list stays cacheable as public.
        "tools/list" => json!({ "tools": Tool::ALL.map(Tool::definition) }),
        "resources/list" => resources::list(),
        "resources/templates/list" => resources::templates(),
        "resources/read" => resources::read(&message.params).map_err(Refused::Rpc)?,
        "prompts/list" => json!({ "prompts": [] }),
        _ => json!({}), // ping
    };
    if revision == Revision::Modern && CACHEABLE.contains(&method) {
        // Nothing cacheable here holds a user's data (the view is the same page for everyone).
        result["ttlMs"] = CACHE_TTL_MS.into();
        result["cacheScope"] = "public".into();
    }
    Ok(Some(result))
}

/// What the server offers, the same in `initialize` and `server/discover`.
/// - `resources`: the todo view. `prompts`: none, but `prompts/list` answers (an empty list with
///   caching hints, for clients that list every kind), and a server that answers prompts
///   declares them (2026-07-28, prompts: capabilities).
/// - `extensions`: MCP Apps (SEP-2133, negotiation: each side declares what it supports; the view
///   is used only where the host declares the extension too). The server does not narrow its tool
///   list to hosts that declare it (the SHOULD of MCP Apps 2026-01-26, server behavior), because
///   that list is cached as public: `_meta.ui` is simply ignored by hosts without the extension.
fn capabilities() -> Value {
    json!({
        "tools": { "listChanged": false },
        "resources": { "listChanged": false },
        "prompts": { "listChanged": false },
        "extensions": { view::EXTENSION: {} },
    })
}

/// `tools/call` params: a known tool's `name`, and `arguments` as an object (absent: none).
fn tool_call(mut params: Map<String, Value>) -> Result<(Tool, Map<String, Value>), RpcError> {
    let invalid = |message: String| RpcError::new(StatusCode::OK, transport::INVALID_PARAMS, message);
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("params.name must be a tool's name".into()))?;
    let tool = Tool::named(name).ok_or_else(|| {
        let names: Vec<&str> = Tool::ALL.iter().map(|tool| tool.name()).collect();
        invalid(format!("Unknown tool: {name}. The tools are {}", names.join(", ")))
    })?;
    match params.remove("arguments") {
        None | Some(Value::Null) => Ok((tool, Map::new())),
        Some(Value::Object(arguments)) => Ok((tool, arguments)),
        Some(_) => Err(invalid("params.arguments must be an object".into())),
    }
}

/// The token check of a method that is not an API call: the token must be valid and bound to
/// this endpoint. A refusal is logged like any 401 of the API.
async fn authenticate(state: &AppState, line: RequestLine, headers: &HeaderMap) -> Result<Caller, Refused> {
    let public_url = state.config.public_url().to_owned();
    let checked = async {
        let claim = state.auth.claim(headers).await?;
        let caller = state.store.read(move |tx| claim.resolve(tx)).await??;
        caller.check_audience(MCP_PATH, &public_url)?;
        Ok::<Caller, ApiError>(caller)
    }
    .await;
    if let Err(error) = &checked {
        let record = CallRecord::new(line, error.status().as_u16(), None, None, Some(error.log_message()));
        calllog::log_in_own_job(&state.store, record).await;
    }
    checked.map_err(Refused::Token)
}
