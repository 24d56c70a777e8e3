//! `POST /api/oauth2/token`: the `authorization_code` and `refresh_token` grants (RFC 6749 4.1.3,
//! 6; RFC 7636 4.6). Each grant runs as one store job, and the code or refresh token is spent by
//! one conditional statement in it (`store::codes::spend`, `store::tokens::spend_refresh`): a
//! request that gets anything wrong spends nothing, and of two racing right ones, on any number
//! of writers, one wins and the other is a replay.
//!
//! A GPT's backend exchanges every user's code and refreshes every user's token from a few
//! addresses, so nothing here counts requests: wrong client credentials count per address
//! (`client_auth`), and grants that are invalid, expired or replayed count per client and
//! address (`--bad-grant-rate`). A successful exchange or refresh costs nothing.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::auth_request::{our_resource, unknown_resource};
use super::client_auth;
use super::endpoints::{SCOPE, asks_only_our_scope};
use super::oauth_error::{OAuthError, no_store};
use crate::AppState;
use crate::chain::api_error::json_response;
use crate::http::rate_limit::ClientAtAddress;
use crate::oauth::client_rules::Client;
use crate::store::codes::{self, CodeRefusal, CodeSpend};
use crate::store::tokens::{self, Grant, NewPair, RefreshRefusal, RefreshSpend};
use crate::store::{Commit, Tx};
use crate::support::secrets::{hash_secret, pkce_s256, random_id};
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
    let request = TokenRequest::read(params)?;
    let config = &state.config;
    // Jobs may run twice: the clock, the new tokens and every hash are taken here, once.
    let now = config.clock.now();
    let pair = Arc::new(NewPair::new(now, config.access_token_ttl, config.refresh_token_ttl));
    let scope = match request {
        TokenRequest::Code(exchange) => {
            exchange_code(state, client.client_id.clone(), exchange, resource, now, pair.clone()).await?
        }
        TokenRequest::Refresh { refresh_token } => {
            refresh(state, client.client_id.clone(), &refresh_token, resource, now, pair.clone()).await?
        }
    };
    let issued = Issued {
        access_token: pair.access.token.clone(),
        token_type: "bearer",
        expires_in: config.access_token_ttl.as_secs(),
        refresh_token: pair.refresh.token.clone(),
        scope,
    };
    Ok((issued, client.client_id))
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
/// resource may be narrowed to one of ours. (The spending statements apply the same rule, so a
/// request that breaks it spends nothing.)
fn bound_resource(granted: Option<&str>, requested: Option<String>) -> Result<Option<String>, OAuthError> {
    match (granted, requested) {
        (Some(granted), Some(requested)) if granted != requested => Err(OAuthError::invalid_target(format!(
            "resource differs from the one this grant was made for ({granted})"
        ))),
        (granted, requested) => Ok(requested.or(granted.map(str::to_owned))),
    }
}

/// Spends a code and issues its tokens, in one job. A code that was already spent is a replay:
/// the tokens it gave are revoked. That revocation is part of the job's `Ok` outcome (a refusal
/// travels in the value), so it commits under [`Commit::OnOk`] while the answer is an error; a
/// `StoreError` undoes the whole job, spend included.
async fn exchange_code(
    state: &AppState,
    client_id: String,
    exchange: CodeExchange,
    requested_resource: Option<String>,
    now: i64,
    pair: Arc<NewPair>,
) -> Result<String, OAuthError> {
    let code_hash = hash_secret(&exchange.code);
    // RFC 7636 4.6: the S256 of the verifier; one that is not a verifier (4.1) matches no challenge.
    let verifier_s256 =
        exchange.code_verifier.as_deref().map(|v| if is_verifier(v) { pkce_s256(v) } else { String::new() });
    let (family_id, authorized_at) = (random_id(), state.config.clock.now());
    let requested = requested_resource.clone();
    let exchanging_for = client_id.clone();
    let job = move |tx: &mut Tx<'_>| {
        let spend = CodeSpend {
            code_hash: &code_hash,
            client_id: &exchanging_for,
            redirect_uri: &exchange.redirect_uri,
            verifier_s256: verifier_s256.as_deref(),
            requested_resource: requested.as_deref(),
            now,
        };
        let code = match codes::spend(tx, &spend)? {
            Ok(code) => code,
            Err(CodeRefusal::Replayed) => {
                tokens::revoke_issued_by_code(tx, &code_hash, now)?;
                return Ok(Err(CodeRefusal::Replayed));
            }
            Err(refusal) => return Ok(Err(refusal)),
        };
        let grant = Grant {
            user_id: &code.user_id,
            client_id: &code.client_id,
            scope: &code.scope,
            family_id: &family_id,
            code_hash: Some(&code_hash),
            resource: requested.as_deref().or(code.resource.as_deref()),
        };
        // From now on the client completed an authorization, and no bound on unused clients removes it.
        crate::store::clients::mark_authorized(tx, &exchanging_for, authorized_at)?;
        tokens::issue_pair(tx, &pair, &grant)?;
        Ok(Ok(code.scope))
    };
    let refusal = match state.store.write(Commit::OnOk, job).await? {
        Ok(scope) => return Ok(scope),
        Err(refusal) => refusal,
    };
    let invalid = || OAuthError::invalid_grant("The authorization code is invalid, expired or already used");
    Err(match refusal {
        CodeRefusal::Invalid => invalid(),
        CodeRefusal::Replayed => {
            tracing::warn!(%client_id, "authorization code replayed; revoked its tokens");
            invalid()
        }
        CodeRefusal::UserDisabled => user_disabled(),
        CodeRefusal::OtherRedirectUri => {
            OAuthError::invalid_grant("redirect_uri differs from the one in the authorization request")
        }
        CodeRefusal::WrongVerifier => OAuthError::invalid_grant("code_verifier does not match the code_challenge"),
        CodeRefusal::UnexpectedVerifier => {
            OAuthError::invalid_grant("code_verifier sent, but the authorization request had no challenge")
        }
        CodeRefusal::OtherResource { granted } => {
            bound_resource(Some(&granted), requested_resource).err().unwrap_or_else(invalid)
        }
    })
}

/// RFC 7636 4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Rotates a refresh token and issues the new pair, in one job (`tokens::rotate_refresh`).
/// Presenting one that was already rotated means two parties hold it: the whole family is
/// revoked, committed as the job's `Ok` outcome like a replayed code's revocation.
async fn refresh(
    state: &AppState,
    client_id: String,
    refresh_token: &str,
    requested_resource: Option<String>,
    now: i64,
    pair: Arc<NewPair>,
) -> Result<String, OAuthError> {
    let token_hash = hash_secret(refresh_token);
    let requested = requested_resource.clone();
    let rotating_for = client_id.clone();
    let job = move |tx: &mut Tx<'_>| {
        let spend = RefreshSpend {
            token_hash: &token_hash,
            client_id: &rotating_for,
            requested_resource: requested.as_deref(),
            now,
        };
        Ok(tokens::rotate_refresh(tx, &spend, &pair)?.map(|spent| spent.scope))
    };
    let refusal = match state.store.write(Commit::OnOk, job).await? {
        Ok(scope) => return Ok(scope),
        Err(refusal) => refusal,
    };
    let invalid = || OAuthError::invalid_grant("The refresh token is invalid, expired or revoked");
    Err(match refusal {
        RefreshRefusal::Invalid => invalid(),
        RefreshRefusal::Replayed { .. } => {
            tracing::warn!(%client_id, "rotated refresh token reused; revoked its family");
            invalid()
        }
        RefreshRefusal::UserDisabled => user_disabled(),
        RefreshRefusal::OtherResource { granted } => {
            bound_resource(Some(&granted), requested_resource).err().unwrap_or_else(invalid)
        }
    })
}

/// An operator disabled the user: no new tokens (their old ones already stopped working).
fn user_disabled() -> OAuthError {
    OAuthError::invalid_grant("The user's account is disabled")
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
