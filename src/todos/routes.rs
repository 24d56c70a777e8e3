//! The todo API's routes. Path and method filters come first, so a wrong path is a 404 and a wrong
//! method a 405, never a 401; then each handler runs the chain (auth → quota → log): begin, parse
//! the input (or fail), run the operation, render.

use bytes::Bytes;
use rusqlite::Connection;
use serde::Serialize;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::model::{NewTodo, TodoPatch, parse_id};
use super::query::{ListQuery, cursor};
use super::{Todo, store};
use crate::AppState;
use crate::api::error::ApiError;
use crate::api::outcome::Refusal;
use crate::api::request::json_body;
use crate::auth::Caller;
use crate::chain::{Begun, call};

/// A handler's answer: its response, or the refusal (already logged) that renders itself.
type Answer = Result<Response, Refusal>;
/// The request body, or why it cannot be taken (answered after auth).
type Body = Result<Bytes, ApiError>;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let call = call(state);
    // An absent query string is an empty one, not a rejection.
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let one = warp::path!("api" / "todos" / String);

    let demo = warp::path!("api" / "todo-demo").and(warp::post()).and(call.clone()).and(json_body());
    let list = warp::path!("api" / "todos").and(warp::get()).and(call.clone()).and(query);
    let create = warp::path!("api" / "todos").and(warp::post()).and(call.clone()).and(json_body());
    let read = one.and(warp::get()).and(call.clone());
    let update = one.and(warp::patch()).and(call.clone()).and(json_body());
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
        .map(Reply::into_response)
}

/// The reference's create: `200` with the created todo.
async fn create_demo(call: Begun, body: Body) -> Answer {
    let call = call?.parse(body.and_then(|body| NewTodo::parse(&body)));
    let todo = call.run(StatusCode::OK, insert).await?;
    Ok(todo.json())
}

/// `201` with the todo and `Location: /api/todos/{id}`.
async fn create_todo(call: Begun, body: Body) -> Answer {
    let call = call?.parse(body.and_then(|body| NewTodo::parse(&body)));
    let created = call.run(StatusCode::CREATED, insert).await?;
    let location = HeaderValue::from_str(&format!("/api/todos/{}", created.value.id));
    let mut response = created.json();
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// What both creates run: an insert owned by the caller; a failure has the reference's words.
fn insert(conn: &Connection, caller: &Caller, new: NewTodo) -> Result<Todo, ApiError> {
    store::insert(conn, &caller.user_id, &new).map_err(|e| ApiError::internal("Failed to create todo item", e))
}

/// `{"todos": [...], "nextCursor": ...}`: newest first; `nextCursor` is null on the last page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    todos: Vec<Todo>,
    next_cursor: Option<String>,
}

async fn list_todos(call: Begun, raw_query: String) -> Answer {
    let call = call?.parse(ListQuery::parse(&raw_query));
    let page = call.run(StatusCode::OK, list_page).await?;
    Ok(page.json())
}

fn list_page(conn: &Connection, caller: &Caller, query: ListQuery) -> Result<Page, ApiError> {
    // One row more than asked for tells whether another page follows.
    let mut todos = store::list(conn, &caller.user_id, &query, query.limit + 1)?;
    let next_cursor = (todos.len() > query.limit as usize).then(|| {
        todos.truncate(query.limit as usize);
        cursor::encode(todos.last().map_or(0, |todo| todo.id))
    });
    Ok(Page { todos, next_cursor })
}

async fn get_todo(id: String, call: Begun) -> Answer {
    let call = call?.parse(parse_id(&id));
    let op = |conn: &Connection, caller: &Caller, id| store::get(conn, &caller.user_id, id)?.ok_or(ApiError::NotFound);
    let todo = call.run(StatusCode::OK, op).await?;
    Ok(todo.json())
}

async fn update_todo(id: String, call: Begun, body: Body) -> Answer {
    let call = call?.parse(parse_id(&id).and_then(|id| Ok((id, TodoPatch::parse(&body?)?))));
    let op = |conn: &Connection, caller: &Caller, (id, patch): (i64, TodoPatch)| {
        store::update(conn, &caller.user_id, id, &patch)?.ok_or(ApiError::NotFound)
    };
    let todo = call.run(StatusCode::OK, op).await?;
    Ok(todo.json())
}

async fn delete_todo(id: String, call: Begun) -> Answer {
    let call = call?.parse(parse_id(&id));
    let op = |conn: &Connection, caller: &Caller, id| match store::delete(conn, &caller.user_id, id)? {
        true => Ok(()),
        false => Err(ApiError::NotFound),
    };
    let deleted = call.run(StatusCode::NO_CONTENT, op).await?;
    Ok(deleted.render(|()| Response::default()))
}
