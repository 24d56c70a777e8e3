//! The built-in OAuth 2.0 authorization server: the pages where a person signs in and allows a
//! client (`authorize`), and the endpoints clients call (`token`, `revoke`, metadata).
//! User info lives in `crate::userinfo`, beside the API it serves.

mod auth_request;
mod authorize;
mod client_auth;
mod codes;
mod error;
mod metadata;
mod pages;
mod params;
mod revoke;
mod session;
mod throttle;
mod token;

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::AppState;

pub use auth_request::SCOPE;
pub use codes::CODE_TTL;
pub use session::COOKIE_NAME;
pub use throttle::MAX_FAILURES;

/// All OAuth routes. They stay outside the API's CORS setting: the pages must accept form posts
/// from their own origin whatever `--cors-origin` says, and the machine endpoints take no cookies,
/// so any origin may call them (browser-based public clients need that).
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let pages = authorize::routes(state.clone(), Arc::new(throttle::Throttle::default()));
    let machine = token::route(state.clone())
        .or(revoke::route(state.clone()))
        .unify()
        .or(metadata::routes(state))
        .unify()
        .with(
            warp::cors()
                .allow_any_origin()
                .allow_methods(["GET", "POST"])
                .allow_headers(["authorization", "content-type"])
                .max_age(600),
        )
        .map(Reply::into_response);
    pages.or(machine).unify()
}
