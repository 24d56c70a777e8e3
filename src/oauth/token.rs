//! `POST /api/oauth2/token`: the `authorization_code` and `refresh_token` grants (RFC 6749 4.1.3,
//! 6; RFC 7636 4.6). Each grant runs as one writer job, so a code or refresh token is checked and
//! spent atomically: of two racing requests, one wins and the other is a replay.
//!
//! A GPT's backend exchanges every user's code and refreshes every user's token from a few
//! addresses, so nothing here counts requests: wrong client credentials count per address
//! (`client_auth`), and grants that are invalid, expired or replayed count per client and
//! address (`--bad-grant-rate`). A successful exchange or refresh costs nothing.

use std::net::IpAddr;
use std::time::Instant;

use rusqlite::Connection;
use serde::Serialize;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::auth_request::{our_resource, unknown_resource};
use super::client_auth;
use super::codes;
use super::endpoints::{SCOPE, asks_only_our_scope};
use super::error::{OAuthError, no_store};
use crate::AppState;
use crate::api::error::json_response;
use crate::clients::{self, Client};
use crate::clock::unix_now;
use crate::config::Config;
use crate::db::in_savepoint;
use crate::db::tokens::{self, Grant, Kind};
use crate::ids::UserId;
use crate::rate_limit::ClientAtAddress;
use crate::secrets::{hash_secret, pkce_s256_matches, random_id};
use crate::web::params::Params;

/// The token response (RFC 6749 5.1).
#[derive(Debug, Serialize)]
struct Issued {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    scope: String,
}

pub async fn token(
    state: AppState,
    address: IpAddr,
    headers: HeaderMap,
    form: Result<Params, String>,
) -> Result<Response, OAuthError> {
    let params = form.map_err(OAuthError::invalid_request)?;
    let grant_type = grant_type(&params)?;
    let client = client_auth::authenticate(&state, address, &headers, &params).await?;
    let bad_grants = ClientAtAddress::new(&client.client_id, address);
    state.limits.token.peek_key(bad_grants, Instant::now()).map_err(OAuthError::too_many_requests)?;
    let issued = grant(&state, client, &params).await;
    if issued.as_ref().is_err_and(|e| e.code == "invalid_grant") {
        state.limits.token.charge_key(bad_grants, Instant::now());
    }
    let (issued, client_id) = issued?;
    tracing::info!(%client_id, grant_type, "tokens issued");
    Ok(no_store(json_response(StatusCode::OK, &issued)))
}

/// Runs the request's grant for the authenticated `client`: the tokens, and whose they are.
async fn grant(state: &AppState, client: Client, params: &Params) -> Result<(Issued, String), OAuthError> {
    let resource = match params.get("resource") {
        Some(requested) => Some(
            our_resource(&state.config, requested)
                .ok_or_else(|| OAuthError::invalid_target(unknown_resource(state)))?,
        ),
        None => None,
    };
    let client_id = client.client_id.clone();
    let config = state.config.clone();
    let issued = match TokenRequest::read(params)? {
        TokenRequest::Code(exchange) => {
            // A replayed code's answer is an error, and the revocation it causes must stick.
            let exchange_code = move |conn: &Connection| exchange_code(conn, &config, &client, &exchange, resource);
            state.db.write_commit_even_on_err(exchange_code).await?
        }
        TokenRequest::Refresh { refresh_token } => {
            // The same for a replayed refresh token.
            let refresh = move |conn: &Connection| refresh(conn, &config, &client, &refresh_token, resource);
            state.db.write_commit_even_on_err(refresh).await?
        }
    };
    Ok((issued, client_id))
}

/// A token request's grant, as read from its parameters before anything is looked up.
#[derive(Debug)]
pub enum TokenRequest {
    Code(CodeExchange),
    Refresh { refresh_token: String },
}

impl TokenRequest {
    pub fn read(params: &Params) -> Result<TokenRequest, OAuthError> {
        if grant_type(params)? == "authorization_code" {
            return Ok(TokenRequest::Code(CodeExchange::from_params(params)?));
        }
        let refresh_token = required(params, "refresh_token")?.to_owned();
        check_scope(params.get("scope"))?;
        Ok(TokenRequest::Refresh { refresh_token })
    }
}

/// The grant types this server supports (checked before the client is, as before any other field).
fn grant_type(params: &Params) -> Result<&str, OAuthError> {
    let grant_type = params.get("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::unsupported_grant_type("Supported: authorization_code, refresh_token"));
    }
    Ok(grant_type)
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, OAuthError> {
    params.get(name).ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

/// A refresh may ask for the same scope or less; there is only one.
fn check_scope(requested: Option<&str>) -> Result<(), OAuthError> {
    match requested {
        Some(scope) if !asks_only_our_scope(scope) => {
            Err(OAuthError::invalid_scope(format!("The only scope is '{SCOPE}'")))
        }
        _ => Ok(()),
    }
}

#[derive(Debug)]
pub struct CodeExchange {
    pub code: String,
    pub redirect_uri: String,
    pub code_verifier: Option<String>,
}

impl CodeExchange {
    fn from_params(params: &Params) -> Result<CodeExchange, OAuthError> {
        Ok(CodeExchange {
            code: required(params, "code")?.to_owned(),
            redirect_uri: required(params, "redirect_uri")?.to_owned(),
            code_verifier: params.get("code_verifier").map(str::to_owned),
        })
    }
}

/// The resource the new tokens are bound to. RFC 8707 §2.2: a token request may name the
/// resource again, and must not name another than the grant was for; a grant made for no
/// resource may be narrowed to one of ours.
fn bound_resource(granted: Option<&str>, requested: Option<String>) -> Result<Option<String>, OAuthError> {
    match (granted, requested) {
        (Some(granted), Some(requested)) if granted != requested => Err(OAuthError::invalid_target(format!(
            "resource differs from the one this grant was made for ({granted})"
        ))),
        (granted, requested) => Ok(requested.or(granted.map(str::to_owned))),
    }
}

/// Spends a code. A code that was already spent is a replay: the tokens it gave are revoked
/// (this job's writes commit even though the answer is an error).
fn exchange_code(
    conn: &Connection,
    config: &Config,
    client: &Client,
    exchange: &CodeExchange,
    requested_resource: Option<String>,
) -> Result<Issued, OAuthError> {
    let invalid = || OAuthError::invalid_grant("The authorization code is invalid, expired or already used");
    let code = codes::find(conn, &exchange.code)?.ok_or_else(invalid)?;
    if code.client_id.as_str() != client.client_id {
        return Err(invalid());
    }
    if code.used {
        tracing::warn!(client_id = %client.client_id, "authorization code replayed; revoking its tokens");
        tokens::revoke_issued_by_code(conn, &code.code_hash)?;
        return Err(invalid());
    }
    if code.expires_at <= unix_now() {
        return Err(invalid());
    }
    refuse_disabled(conn, &code.user_id)?;
    if code.redirect_uri != exchange.redirect_uri {
        return Err(OAuthError::invalid_grant("redirect_uri differs from the one in the authorization request"));
    }
    match (&code.code_challenge, &exchange.code_verifier) {
        (Some(challenge), Some(verifier)) if is_verifier(verifier) && pkce_s256_matches(verifier, challenge) => {}
        (Some(_), _) => return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent, but the authorization request had no challenge",
            ));
        }
        // Authorization requests of public clients always carry a challenge; this is a confidential one.
        (None, None) => {}
    }
    let resource = bound_resource(code.resource.as_deref(), requested_resource)?;
    let grant = Grant {
        user_id: &code.user_id,
        client_id: &code.client_id,
        scope: &code.scope,
        family_id: &random_id(),
        code_hash: Some(&code.code_hash),
        resource: resource.as_deref(),
    };
    // Spending the code and issuing its tokens happen together or not at all; from now on the
    // client completed an authorization, and no bound on unused clients removes it.
    Ok(in_savepoint(conn, || {
        codes::mark_used(conn, &code.code_hash)?;
        clients::mark_authorized(conn, &client.client_id, config.clock.now())?;
        issue_pair(conn, config, &grant)
    })??)
}

/// RFC 7636 4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Rotates a refresh token. Presenting one that was already rotated means two parties hold it:
/// the whole family is revoked.
fn refresh(
    conn: &Connection,
    config: &Config,
    client: &Client,
    refresh_token: &str,
    requested_resource: Option<String>,
) -> Result<Issued, OAuthError> {
    let invalid = || OAuthError::invalid_grant("The refresh token is invalid, expired or revoked");
    let token_hash = hash_secret(refresh_token);
    let stored = tokens::find_refresh(conn, &token_hash)?.ok_or_else(invalid)?;
    if stored.client_id.as_str() != client.client_id || stored.revoked {
        return Err(invalid());
    }
    if stored.rotated {
        tracing::warn!(client_id = %client.client_id, "rotated refresh token reused; revoking its family");
        tokens::revoke_family(conn, &stored.family_id)?;
        return Err(invalid());
    }
    if stored.expires_at <= unix_now() {
        return Err(invalid());
    }
    refuse_disabled(conn, &stored.user_id)?;
    let resource = bound_resource(stored.resource.as_deref(), requested_resource)?;
    let grant = Grant {
        user_id: &stored.user_id,
        client_id: &stored.client_id,
        scope: &stored.scope,
        family_id: &stored.family_id,
        code_hash: stored.code_hash.as_deref(),
        resource: resource.as_deref(),
    };
    Ok(in_savepoint(conn, || {
        tokens::mark_rotated(conn, &token_hash)?;
        issue_pair(conn, config, &grant)
    })??)
}

/// An operator disabled the user: no new tokens (their old ones already stopped working).
fn refuse_disabled(conn: &Connection, user_id: &UserId) -> Result<(), OAuthError> {
    if crate::store::accounts::is_disabled(&crate::store::Tx::sqlite_at(conn, &crate::clock::Clock::system()), user_id)?
    {
        return Err(OAuthError::invalid_grant("The user's account is disabled"));
    }
    Ok(())
}

fn issue_pair(conn: &Connection, config: &Config, grant: &Grant) -> rusqlite::Result<Issued> {
    Ok(Issued {
        access_token: tokens::issue(conn, Kind::Access, grant, config.access_token_ttl)?,
        token_type: "bearer",
        expires_in: config.access_token_ttl.as_secs(),
        refresh_token: tokens::issue(conn, Kind::Refresh, grant, config.refresh_token_ttl)?,
        scope: grant.scope.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_shape_follows_rfc7636() {
        assert!(is_verifier(&"a".repeat(43)));
        assert!(is_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn a_token_request_may_repeat_or_narrow_the_resource_but_not_change_it() {
        let mcp = "https://t.example/mcp";
        assert_eq!(bound_resource(Some(mcp), None).unwrap().as_deref(), Some(mcp));
        assert_eq!(bound_resource(Some(mcp), Some(mcp.into())).unwrap().as_deref(), Some(mcp));
        assert_eq!(bound_resource(None, Some(mcp.into())).unwrap().as_deref(), Some(mcp));
        assert_eq!(bound_resource(None, None).unwrap(), None);
        assert_eq!(bound_resource(Some(mcp), Some("https://t.example".into())).unwrap_err().code, "invalid_target");
    }

    #[test]
    fn refresh_scope_may_only_be_ours() {
        assert!(check_scope(None).is_ok());
        assert!(check_scope(Some("todos")).is_ok());
        assert_eq!(check_scope(Some("todos admin")).unwrap_err().code, "invalid_scope");
    }
}
