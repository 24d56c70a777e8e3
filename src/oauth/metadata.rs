//! Authorization server metadata (RFC 8414) at `/.well-known/oauth-authorization-server`, also at
//! `/.well-known/openid-configuration` where some clients look first. The issuer is the public URL.

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::auth_request::SCOPE;
use crate::AppState;
use crate::api::error::json_response;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let oauth = warp::path!(".well-known" / "oauth-authorization-server");
    let openid = warp::path!(".well-known" / "openid-configuration");
    oauth
        .or(openid)
        .unify()
        .and(warp::get())
        .map(move || json_response(StatusCode::OK, &metadata(state.config.public_url())))
}

fn metadata(issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/api/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/api/oauth2/token"),
        "revocation_endpoint": format!("{issuer}/api/oauth2/revoke"),
        "userinfo_endpoint": format!("{issuer}/api/oauth2/userinfo"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": [SCOPE],
        "authorization_response_iss_parameter_supported": true,
    })
}
