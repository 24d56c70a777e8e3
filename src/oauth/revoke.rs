//! Revocation: `POST /api/oauth2/revoke` (RFC 7009).

use std::net::IpAddr;

use warp::http::HeaderMap;
use warp::reply::Response;

use super::client_auth;
use super::oauth_error::{OAuthError, no_store};
use crate::AppState;
use crate::store::{Commit, tokens};
use crate::support::secrets::hash_secret;
use crate::web::params::Params;

/// Answers 200 whether or not the token existed (RFC 7009 2.2): a client learns nothing by probing.
pub async fn revoke(
    state: AppState,
    address: IpAddr,
    headers: HeaderMap,
    form: Result<Params, String>,
) -> Result<Response, OAuthError> {
    let params = form.map_err(OAuthError::invalid_request)?;
    let client = client_auth::authenticate(&state, address, &headers, &params).await?;
    let token = params.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let (token_hash, now) = (hash_secret(token), state.config.clock.now());
    // token_type_hint is only a hint (RFC 7009 2.1): the hash finds the token whatever its kind.
    state.store.write(Commit::OnOk, move |tx| tokens::revoke(tx, &token_hash, &client.client_id, now)).await?;
    Ok(no_store(Response::new(Default::default())))
}
