//! Authorization codes: random, stored only as a hash, bound to the client, the redirect URI and
//! the PKCE challenge, valid for [`CODE_TTL`], usable once.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::auth_request::AuthRequest;
use crate::clock::unix_now;
use crate::ids::{ClientId, UserId};
use crate::secrets::{hash_secret, random_secret};

pub const CODE_TTL: Duration = Duration::from_secs(5 * 60);
const CODE_PREFIX: &str = "gtac_";

/// Stores a new code for `user_id` and the client's request, and returns it.
pub fn issue(conn: &Connection, request: &AuthRequest, user_id: &UserId, scope: &str) -> rusqlite::Result<String> {
    let code = random_secret(CODE_PREFIX);
    let now = unix_now();
    conn.prepare_cached(
        "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, expires_at, resource)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        hash_secret(&code),
        request.client.client_id,
        user_id,
        request.redirect_uri,
        scope,
        request.code_challenge,
        now + CODE_TTL.as_secs() as i64,
        request.resource,
    ])?;
    Ok(code)
}

/// A stored code, as the token endpoint checks it.
pub struct StoredCode {
    pub code_hash: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
    pub used: bool,
    pub resource: Option<String>,
}

pub fn find(conn: &Connection, code: &str) -> rusqlite::Result<Option<StoredCode>> {
    conn.prepare_cached(
        "SELECT code_hash, client_id, user_id, redirect_uri, scope, code_challenge, expires_at, used_at IS NOT NULL,
                resource
           FROM oauth_codes WHERE code_hash = ?1",
    )?
    .query_row([hash_secret(code)], |r| {
        Ok(StoredCode {
            code_hash: r.get(0)?,
            client_id: r.get(1)?,
            user_id: r.get(2)?,
            redirect_uri: r.get(3)?,
            scope: r.get(4)?,
            code_challenge: r.get(5)?,
            expires_at: r.get(6)?,
            used: r.get(7)?,
            resource: r.get(8)?,
        })
    })
    .optional()
}

pub fn mark_used(conn: &Connection, code_hash: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE oauth_codes SET used_at = ?1 WHERE code_hash = ?2")?
        .execute(params![unix_now(), code_hash])?;
    Ok(())
}
