//! The whole HTTP surface, and what answers warp's own rejections (unknown path, wrong method,
//! a refused CORS origin), logging those on `/api/*` like every other API outcome.

use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::AppState;
use crate::api::error::{ApiError, json_response};
use crate::api::request::{CallMeta, path_prefix, request_line};
use crate::calllog::{self, CallRecord};

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" })));

    let openapi = crate::openapi::route(state.clone());

    let api = crate::todos::routes(state.clone()).or(crate::userinfo::route(state.clone())).unify();

    let api = path_prefix("/api/").and(api.with(cors(&state.config.cors_origins))).map(Reply::into_response);
    let app = healthz
        .or(openapi)
        .unify()
        .or(crate::oauth::routes(state.clone()))
        .unify()
        .or(crate::mcp::route(state.clone()))
        .unify()
        .or(api)
        .unify()
        .recover(render_rejection)
        .unify();

    request_line().and(app).then(move |meta, response| log_if_unmatched(state.clone(), meta, response))
}

/// `warp::cors` answers preflights and adds the headers; with no `--cors-origin`, any origin.
fn cors(origins: &[String]) -> warp::cors::Cors {
    let builder = warp::cors()
        .allow_methods(["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers(["authorization", "content-type"])
        .expose_headers(["ratelimit-limit", "ratelimit-remaining", "location"])
        .max_age(600);
    let builder = if origins.is_empty() {
        builder.allow_any_origin()
    } else {
        builder.allow_origins(origins.iter().map(String::as_str))
    };
    builder.build()
}

/// Marks a response made from a rejection: no handler ran, so nothing has logged it yet.
#[derive(Clone)]
struct Unmatched(String);

/// Turns warp's own rejections into JSON errors; anything else is passed on, not made a 500.
async fn render_rejection(rejection: Rejection) -> Result<Response, Rejection> {
    let (status, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, ApiError::NotFound.to_string())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, ApiError::MethodNotAllowed.to_string())
    } else if let Some(refused) = rejection.find::<warp::cors::CorsForbidden>() {
        (StatusCode::FORBIDDEN, format!("CORS request refused: {refused}"))
    } else {
        return Err(rejection);
    };
    let mut response = json_response(status, &serde_json::json!({ "error": message }));
    response.extensions_mut().insert(Unmatched(message));
    Ok(response)
}

/// The methods a path answers, for the `Allow` header a 405 must carry (RFC 9110).
fn allowed_methods(path: &str) -> Option<&'static str> {
    match path {
        "/healthz" | "/openapi.json" | "/api/oauth2/userinfo" => Some("GET"),
        "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => Some("GET"),
        "/api/oauth2/authorize" => Some("GET, POST"),
        "/api/oauth2/token" | "/api/oauth2/revoke" | "/api/oauth2/register" => Some("POST"),
        "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp" => Some("GET"),
        // Streamable HTTP (2026-07-28): GET and DELETE of the MCP endpoint are 405.
        crate::auth::MCP_PATH => Some("POST"),
        _ => crate::todos::allowed_methods(path),
    }
}

async fn log_if_unmatched(state: AppState, meta: CallMeta, mut response: Response) -> Response {
    let Some(Unmatched(error)) = response.extensions().get::<Unmatched>().cloned() else {
        return response;
    };
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = allowed_methods(&meta.path)
    {
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if !meta.path.starts_with("/api/") {
        return response;
    }
    let record = CallRecord::new(meta, response.status().as_u16(), None, None, Some(error));
    calllog::record_alone(&state.db, record).await;
    response
}
