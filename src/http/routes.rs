//! The whole HTTP surface, and what answers warp's own rejections (unknown path, wrong method,
//! a refused CORS origin), logging those on `/api/*` like every other API outcome.

use std::net::IpAddr;

use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::AppState;
use crate::chain::api_error::{ApiError, RETRY_WRITES_AFTER_SECONDS, json_response};
use crate::chain::log_step::{self as calllog, CallRecord};
use crate::http::client_address::client_address;
use crate::http::request::{RequestLine, path_prefix, request_line};
use crate::http::route_table::allowed_methods;
use crate::oauth::events;

/// The whole HTTP surface: health check, OpenAPI document, OAuth server, the todo API.
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    routes_with(state, no_routes())
}

/// Extra routes that take no request.
pub(crate) fn no_routes() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
    warp::any().and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
}

/// The HTTP surface with `extra` API routes beside the todo API: they are tried after the todo
/// routes, under the same CORS rules, and a request no route takes gets the same logged JSON
/// 404 or 405. Each of `extra`'s handlers runs its own calls through [`crate::chain::Call`].
pub fn routes_with(
    state: AppState,
    extra: impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let health_state = state.clone();
    let healthz = warp::path!("healthz").and(warp::get()).map(move || healthz(&health_state));

    let openapi = crate::http::openapi::route(state.clone());

    let api =
        crate::todos::routes(state.clone()).or(extra).unify().or(crate::oauth::userinfo::route(state.clone())).unify();

    let api = path_prefix("/api/").and(api.with(cors(&state.config.cors_origins))).map(Reply::into_response);
    let app = healthz
        .or(openapi)
        .unify()
        .or(crate::oauth::routes(state.clone()))
        .unify()
        .or(crate::console::routes(state.clone()))
        .unify()
        .or(crate::mcp::route(state.clone()))
        .unify()
        .or(api)
        .unify()
        .recover(render_rejection)
        .unify();

    request_line().and(client_address(&state.forwarding)).and(app).then(
        move |line: RequestLine, client: IpAddr, mut response: Response| {
            // Every response carries an id (an API call's own, set by the chain, or this one), and
            // writes the OAuth event it may carry.
            line.request_id.tag(&mut response);
            crate::http::metrics::request(&line.path, response.status().as_u16(), line.started.elapsed());
            events::log_attached(&mut response, client, line.request_id);
            log_if_unmatched(state.clone(), line, response)
        },
    )
}

/// `ok`, or `degraded` with the reason while the database cannot be written (reads still work;
/// 503 so that a monitor checking the status alone notices).
fn healthz(state: &AppState) -> Response {
    match state.store.write_failure() {
        // Monitors and load balancers poll this: the answer is made once, not serialized each time.
        None => {
            let mut response = Response::new(bytes::Bytes::from_static(br#"{"status":"ok"}"#).into());
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Some(reason) => {
            let body = serde_json::json!({ "status": "degraded", "reason": format!("database writes fail: {reason}") });
            let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, &body);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_WRITES_AFTER_SECONDS));
            response
        }
    }
}

/// `warp::cors` answers preflights and adds the headers; with no `--cors-origin`, any origin.
fn cors(origins: &[String]) -> warp::cors::Cors {
    let builder = warp::cors()
        .allow_methods(["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers(["authorization", "content-type"])
        .expose_headers(crate::quota::HEADERS.into_iter().chain(["location"]))
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

async fn log_if_unmatched(state: AppState, line: RequestLine, mut response: Response) -> Response {
    let Some(Unmatched(error)) = response.extensions().get::<Unmatched>().cloned() else {
        return response;
    };
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = allowed_methods(&line.path)
    {
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if !line.path.starts_with("/api/") {
        return response;
    }
    let record = CallRecord::new(line, response.status().as_u16(), None, None, Some(error));
    calllog::log_in_own_job(&state.store, record).await;
    response
}
