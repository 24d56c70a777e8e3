//! The todo API's routes. Path and method filters come first, so a wrong path is a 404 and a wrong
//! method a 405, never a 401; then each handler runs the chain (auth → quota → log).

use bytes::Buf;
use futures_util::Stream;
use rusqlite::Connection;
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::model::{NewTodo, TodoPatch, parse_id};
use super::query::ListQuery;
use super::{Todo, operations};
use crate::AppState;
use crate::api::error::{ApiError, json_response};
use crate::api::request::{CallMeta, call_meta, read_json_body, tag_request_id};
use crate::auth::Caller;
use crate::chain::Call;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let call = with_state.and(call_meta());
    // An absent query string is an empty one, not a rejection.
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();

    let demo = warp::path!("api" / "todo-demo").and(warp::post()).and(call.clone()).and(warp::body::stream());
    let list = warp::path!("api" / "todos").and(warp::get()).and(call.clone()).and(query);
    let create = warp::path!("api" / "todos").and(warp::post()).and(call.clone()).and(warp::body::stream());
    let one = warp::path!("api" / "todos" / String);
    let read = one.and(warp::get()).and(call.clone());
    let update = one.and(warp::patch()).and(call.clone()).and(warp::body::stream());
    let delete = one.and(warp::delete()).and(call);

    demo.then(create_demo)
        .or(list.then(list_todos))
        .unify()
        .or(create.then(create_todo))
        .unify()
        .or(read.then(get_todo))
        .unify()
        .or(update.then(update_todo))
        .unify()
        .or(delete.then(delete_todo))
        .unify()
}

/// The methods a todo API path answers, for the `Allow` header of a 405 (RFC 9110).
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    match path.strip_prefix("/api/")? {
        "todo-demo" => Some("POST"),
        "todos" => Some("GET, POST"),
        rest => {
            rest.strip_prefix("todos/").filter(|id| !id.is_empty() && !id.contains('/')).map(|_| "GET, PATCH, DELETE")
        }
    }
}

/// The reference's create: `200` with the created todo.
async fn create_demo<S, B>(state: AppState, meta: CallMeta, body: S) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf + Send,
{
    create(state, meta, body, StatusCode::OK, |todo| json_response(StatusCode::OK, &todo)).await
}

async fn list_todos(state: AppState, meta: CallMeta, raw_query: String) -> Response {
    let input = async |_: &HeaderMap| ListQuery::parse(&raw_query);
    let op = operations::list;
    handle(state, meta, input, StatusCode::OK, op, |page| json_response(StatusCode::OK, &page)).await
}

/// `201` with the todo and `Location: /api/todos/{id}`.
async fn create_todo<S, B>(state: AppState, meta: CallMeta, body: S) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf + Send,
{
    let render = |todo: Todo| {
        let mut response = json_response(StatusCode::CREATED, &todo);
        if let Ok(location) = HeaderValue::from_str(&format!("/api/todos/{}", todo.id)) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    };
    create(state, meta, body, StatusCode::CREATED, render).await
}

/// What both creates share: the body rules of SPEC, and an insert owned by the caller.
async fn create<S, B>(
    state: AppState,
    meta: CallMeta,
    body: S,
    success: StatusCode,
    render: impl FnOnce(Todo) -> Response,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf + Send,
{
    let input = async |headers: &HeaderMap| NewTodo::parse(&read_json_body(headers, body).await?);
    handle(state, meta, input, success, operations::create, render).await
}

async fn get_todo(id: String, state: AppState, meta: CallMeta) -> Response {
    let input = async |_: &HeaderMap| parse_id(&id);
    handle(state, meta, input, StatusCode::OK, operations::get, |todo| json_response(StatusCode::OK, &todo)).await
}

async fn update_todo<S, B>(id: String, state: AppState, meta: CallMeta, body: S) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf + Send,
{
    let input = async |headers: &HeaderMap| {
        let id = parse_id(&id)?;
        Ok((id, TodoPatch::parse(&read_json_body(headers, body).await?)?))
    };
    handle(state, meta, input, StatusCode::OK, operations::update, |todo| json_response(StatusCode::OK, &todo)).await
}

async fn delete_todo(id: String, state: AppState, meta: CallMeta) -> Response {
    let input = async |_: &HeaderMap| parse_id(&id);
    let render = |()| {
        let mut response = Response::default();
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
    };
    handle(state, meta, input, StatusCode::NO_CONTENT, operations::delete, render).await
}

/// One call through the chain: auth; then the request's `input` (path, query or body), whose
/// failure is answered with its 4xx and logged but not counted; then `op` under the quota, whose
/// value `render` turns into the `success` response, with the usage headers.
async fn handle<I, T>(
    state: AppState,
    meta: CallMeta,
    input: impl AsyncFnOnce(&HeaderMap) -> Result<I, ApiError>,
    success: StatusCode,
    op: impl FnOnce(&Connection, &Caller, I) -> Result<T, ApiError> + Send + 'static,
    render: impl FnOnce(T) -> Response,
) -> Response
where
    I: Send + 'static,
    T: Send + 'static,
{
    let request_id = meta.request_id.clone();
    let mut response = async {
        let call = match Call::begin(&state, meta).await {
            Ok(call) => call,
            Err(response) => return response,
        };
        let input = match input(call.headers()).await {
            Ok(input) => input,
            Err(error) => return call.fail(error).await,
        };
        call.run_and_render(success, move |conn, caller| op(conn, caller, input), render).await
    }
    .await;
    // The id of this call's log row (the outer filter's own id is for requests no route takes).
    tag_request_id(&mut response, &request_id);
    response
}
