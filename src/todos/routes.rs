//! The todo API's routes. Path and method filters come first, so a wrong path is a 404 and a wrong
//! method a 405, never a 401; then each handler runs the chain (auth → quota → log): begin, parse
//! the input (or fail), run the operation, render.

use bytes::Bytes;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::model::{NewTodo, TodoPatch, parse_id};
use super::operations;
use super::query::ListQuery;
use crate::AppState;
use crate::chain::api_error::ApiError;
use crate::chain::outcome::Refusal;
use crate::chain::{Begun, call};
use crate::http::request::json_body;

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

/// The original demo's create, kept byte-compatible: `200` (not `201`) with the created todo.
async fn create_demo(call: Begun, body: Body) -> Answer {
    let call = call?.parse(body.and_then(|body| NewTodo::parse(&body)));
    let todo = call.run(StatusCode::OK, operations::create).await?;
    Ok(todo.json())
}

/// `201` with the todo and `Location: /api/todos/{id}`.
async fn create_todo(call: Begun, body: Body) -> Answer {
    let call = call?.parse(body.and_then(|body| NewTodo::parse(&body)));
    let created = call.run(StatusCode::CREATED, operations::create).await?;
    let location = HeaderValue::from_str(&format!("/api/todos/{}", created.value.id));
    let mut response = created.json();
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn list_todos(call: Begun, raw_query: String) -> Answer {
    let call = call?.parse(ListQuery::parse(&raw_query));
    let page = call.run(StatusCode::OK, operations::list).await?;
    Ok(page.json())
}

async fn get_todo(id: String, call: Begun) -> Answer {
    let call = call?.parse(parse_id(&id));
    let todo = call.run(StatusCode::OK, operations::get).await?;
    Ok(todo.json())
}

async fn update_todo(id: String, call: Begun, body: Body) -> Answer {
    let call = call?.parse(parse_id(&id).and_then(|id| Ok((id, TodoPatch::parse(&body?)?))));
    let todo = call.run(StatusCode::OK, operations::update).await?;
    Ok(todo.json())
}

async fn delete_todo(id: String, call: Begun) -> Answer {
    let call = call?.parse(parse_id(&id));
    let deleted = call.run(StatusCode::NO_CONTENT, operations::delete).await?;
    Ok(deleted.render(|()| Response::default()))
}
