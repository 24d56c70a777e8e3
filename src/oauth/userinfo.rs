//! `GET /api/oauth2/userinfo`: who a built-in access token belongs to, in the shape the original
//! GPT-Todo demo's auth middleware expects (`{id, cid, ...}`, docs/contract.md), so one gpt-todo can be another's `--userinfo-url`.
//! Not counted and not logged as an API call: it is part of the OAuth server.

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::AppState;
use crate::chain::api_error::{ApiError, json_response};
use crate::chain::auth_step::{Caller, bearer_token};
use crate::store::tokens;
use crate::support::secrets::hash_secret;

const PATH: &str = "/api/oauth2/userinfo";

pub fn route(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "oauth2" / "userinfo")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .then(move |headers| userinfo(state.clone(), headers))
}

async fn userinfo(state: AppState, headers: warp::http::HeaderMap) -> Response {
    let token_hash = match bearer_token(&headers) {
        Ok(token) => hash_secret(token),
        Err(error) => return error.into_response(),
    };
    let found = state.store.read(move |tx| tokens::find_access(tx, &token_hash)).await;
    // RFC 8707: a token bound to `/mcp` is for the MCP endpoint only; user info is the todo API's.
    let found = found.map(|owner| owner.map(Caller::from));
    if let Ok(Some(caller)) = &found
        && let Err(refused) = caller.check_audience(PATH, state.config.public_url())
    {
        return refused.into_response();
    }
    match found {
        Ok(Some(caller)) => json_response(
            StatusCode::OK,
            &serde_json::json!({
                "id": caller.user_id,
                "sub": caller.user_id,
                "cid": caller.client_id,
                "email": caller.email,
                "name": caller.name,
            }),
        ),
        Ok(None) => ApiError::Unauthorized("The access token is invalid, expired or revoked").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
