//! The todo API's routes. Path and method filters come first, so a wrong path is a 404 and a wrong
//! method a 405, never a 401; then each handler runs the chain (auth → quota → log).

use bytes::Buf;
use futures_util::Stream;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::model::NewTodo;
use super::store;
use crate::AppState;
use crate::chain::Call;
use crate::error::json_response;
use crate::request::{CallMeta, call_meta, read_json_body};

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    warp::path!("api" / "todo-demo")
        .and(warp::post())
        .and(with_state)
        .and(call_meta())
        .and(warp::body::stream())
        .then(create_demo)
}

/// The reference's create: `200` with the created todo.
async fn create_demo<S, B>(state: AppState, meta: CallMeta, body: S) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let call = match Call::begin(&state, meta).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    let new = match read_json_body(call.headers(), body).await.and_then(|bytes| NewTodo::parse(&bytes)) {
        Ok(new) => new,
        Err(error) => return call.fail(error).await,
    };
    match call.run(StatusCode::OK, move |conn, caller| Ok(store::insert(conn, &caller.user_id, &new)?)).await {
        Ok((todo, usage)) => {
            let mut response = json_response(StatusCode::OK, &todo);
            usage.add_headers(&mut response);
            response
        }
        Err(response) => response,
    }
}
