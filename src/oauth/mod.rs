//! The built-in OAuth 2.0 authorization server: the pages where a person signs in and allows a
//! client (`authorize`), and the endpoints clients call (`token`, `revoke`, metadata).
//! User info lives in `crate::oauth::userinfo`, beside the API it serves.

mod auth_codes;
mod auth_request;
mod authorize;
mod client_auth;
mod client_metadata;
pub mod client_names;
pub mod client_rules;
pub mod endpoints;
pub mod events;
mod metadata;
pub mod oauth_error;
mod page_error;
mod pages;
mod register;
mod revoke;
mod token;
pub mod userinfo;

use std::future::Future;
use std::net::IpAddr;

use warp::http::HeaderMap;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::AppState;
use crate::http::client_address::client_address;
use crate::http::request::path_prefix;
use crate::web::params::{self, Params};
use oauth_error::OAuthError;

pub use crate::web::throttle::MAX_FAILURES;
pub use auth_codes::CODE_TTL;
pub use client_metadata::ClientMetadataDocuments;
pub use endpoints::SCOPE;
pub use metadata::protected_resource_url;
/// The authorization pages' session cookie.
pub const COOKIE_NAME: &str = crate::web::browser_session::OAUTH.cookie_name;

/// How the OAuth endpoints read what a client sends (form or query parameters, client
/// credentials, the token request), before anything is looked up. Public so that the fuzz targets
/// in `fuzz/` drive the very code the endpoints run; a server needs none of it directly.
pub mod input {
    pub use super::client_auth::{Presented, presented};
    pub use super::oauth_error::OAuthError;
    pub use super::token::{CodeExchange, TokenRequest};
    pub use crate::web::params::Params;
}

/// All OAuth routes. They stay outside the API's CORS setting: the pages must accept form posts
/// from their own origin whatever `--cors-origin` says, and the machine endpoints take no cookies,
/// so any origin may call them (browser-based public clients need that).
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let pages = authorize::routes(state.clone());
    let token = warp::path!("api" / "oauth2" / "token").and(form_endpoint(state.clone(), token::token));
    let revoke = warp::path!("api" / "oauth2" / "revoke").and(form_endpoint(state.clone(), revoke::revoke));
    let register = register::route(state.clone());
    let machine_paths = path_prefix(endpoints::TOKEN)
        .or(path_prefix(endpoints::REVOKE))
        .unify()
        .or(path_prefix(endpoints::REGISTER))
        .unify()
        .or(path_prefix("/.well-known/"))
        .unify();
    let machine = token
        .or(revoke)
        .unify()
        .or(register)
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
    pages.or(machine_paths.and(machine)).unify()
}

/// A POST endpoint for clients: form parameters in, errors out as RFC 6749 JSON. The handler
/// gets the client's address for its budgets (failures count, see `client_auth` and `token`).
fn form_endpoint<H, F>(state: AppState, handler: H) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    H: Fn(AppState, IpAddr, HeaderMap, Result<Params, String>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response, OAuthError>> + Send + 'static,
{
    warp::post().and(client_address(&state.forwarding)).and(warp::header::headers_cloned()).and(params::form()).then(
        move |address, headers, form| {
            let answer = handler(state.clone(), address, headers, form);
            async move { answer.await.unwrap_or_else(|e| e.to_response()) }
        },
    )
}
