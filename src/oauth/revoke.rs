//! Revocation: `POST /api/oauth2/revoke` (RFC 7009), and revoking whole token families when a code
//! or a refresh token is replayed.

use rusqlite::{Connection, OptionalExtension, params};
use warp::http::HeaderMap;
use warp::reply::Response;

use super::client_auth;
use super::error::{OAuthError, no_store};
use super::params::Params;
use crate::AppState;
use crate::clock::unix_now;
use crate::secrets::hash_secret;

/// Answers 200 whether or not the token existed (RFC 7009 2.2): a client learns nothing by probing.
pub async fn revoke(state: AppState, headers: HeaderMap, form: Result<Params, String>) -> Result<Response, OAuthError> {
    let params = form.map_err(OAuthError::invalid_request)?;
    let client = client_auth::authenticate(&state, &headers, &params).await?;
    let token = params.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?.to_owned();
    // token_type_hint is only a hint (RFC 7009 2.1): the hash finds the token whatever its kind.
    state.db.writer.write(move |conn| revoke_token(conn, &token, &client.client_id)).await??;
    Ok(no_store(Response::new(Default::default())))
}

/// Revokes a token of `client_id`: an access token alone, a refresh token with its whole family
/// (the access tokens it produced go too; RFC 7009 2.1).
fn revoke_token(conn: &Connection, token: &str, client_id: &str) -> rusqlite::Result<()> {
    let found: Option<(String, String)> = conn
        .prepare_cached("SELECT kind, family_id FROM oauth_tokens WHERE token_hash = ?1 AND client_id = ?2")?
        .query_row(params![hash_secret(token), client_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match found {
        Some((kind, family_id)) if kind == "refresh" => revoke_family(conn, &family_id),
        Some(_) => {
            conn.prepare_cached(
                "UPDATE oauth_tokens SET revoked_at = ?1 WHERE token_hash = ?2 AND revoked_at IS NULL",
            )?
            .execute(params![unix_now(), hash_secret(token)])?;
            Ok(())
        }
        None => Ok(()),
    }
}

/// Revokes every token descending from the same grant.
pub fn revoke_family(conn: &Connection, family_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE oauth_tokens SET revoked_at = ?1 WHERE family_id = ?2 AND revoked_at IS NULL")?
        .execute(params![unix_now(), family_id])?;
    Ok(())
}

/// A replayed code: revokes everything that was issued from it (RFC 6749 4.1.2).
pub fn revoke_issued_by_code(conn: &Connection, code_hash: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE oauth_tokens SET revoked_at = ?1
          WHERE revoked_at IS NULL
            AND family_id IN (SELECT family_id FROM oauth_tokens WHERE code_hash = ?2)",
    )?
    .execute(params![unix_now(), code_hash])?;
    Ok(())
}
