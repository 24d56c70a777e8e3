//! Discovery documents. Authorization server metadata (RFC 8414) at
//! `/.well-known/oauth-authorization-server`, also at `/.well-known/openid-configuration` where
//! some clients look first; the issuer is the public URL. Protected resource metadata (RFC 9728)
//! for the MCP endpoint at `/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1: the
//! well-known segment goes between the host and the resource's path), and the same document at
//! `/.well-known/oauth-protected-resource`, where clients that ignore the path look.

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::endpoints::{EndpointUrls, SCOPE};
use crate::AppState;
use crate::chain::api_error::json_response;
use crate::cli::config::Config;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let oauth = warp::path!(".well-known" / "oauth-authorization-server");
    let openid = warp::path!(".well-known" / "openid-configuration");
    let server_state = state.clone();
    let server = oauth
        .or(openid)
        .unify()
        .and(warp::get())
        .map(move || json_response(StatusCode::OK, &authorization_server(&server_state.config)));
    let resource = warp::path!(".well-known" / "oauth-protected-resource" / "mcp")
        .or(warp::path!(".well-known" / "oauth-protected-resource"))
        .unify()
        .and(warp::get())
        .map(move || json_response(StatusCode::OK, &protected_resource(&state.config)));
    server.or(resource).unify()
}

/// Where a 401 from /mcp points clients (RFC 9728 §5.1, `resource_metadata`).
pub fn protected_resource_url(config: &Config) -> String {
    format!("{}/.well-known/oauth-protected-resource/mcp", config.public_url())
}

fn protected_resource(config: &Config) -> serde_json::Value {
    serde_json::json!({
        "resource": config.mcp_resource(),
        "authorization_servers": [config.public_url()],
        "scopes_supported": [SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": "gpt-todo",
        "resource_documentation": format!("{}/openapi.json", config.public_url()),
    })
}

fn authorization_server(config: &Config) -> serde_json::Value {
    let issuer = config.public_url();
    let urls = EndpointUrls::under(issuer);
    let mut metadata = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "revocation_endpoint": urls.revoke,
        "userinfo_endpoint": urls.userinfo,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": [SCOPE],
        "authorization_response_iss_parameter_supported": true,
        // draft-ietf-oauth-client-id-metadata-document §4: https URLs as client ids.
        "client_id_metadata_document_supported": config.client_metadata_documents,
    });
    if config.dynamic_registration {
        metadata["registration_endpoint"] = urls.register.into();
    }
    metadata
}
