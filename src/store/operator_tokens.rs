//! The tokens an operator issues and revokes by hand (`token issue`, `token revoke`, a client's
//! "Revoke all its tokens"). Issuing goes through the OAuth token store's own `issue`.

use std::time::Duration;

use rusqlite::params;

use super::{StoreError, Tx};
use crate::db::tokens::{self, Grant, Kind};
use crate::ids::UserId;

/// Stores a new access token for `grant`, valid for `ttl`, and returns it.
pub fn issue_access(tx: &Tx<'_>, grant: &Grant<'_>, ttl: Duration) -> Result<String, StoreError> {
    Ok(tokens::issue(tx.sqlite(), Kind::Access, grant, ttl)?)
}

/// Revokes, as of `now`, the user's live access and refresh tokens, of one client or of all;
/// returns how many.
pub fn revoke_of_user(tx: &Tx<'_>, user_id: &UserId, client_id: Option<&str>, now: i64) -> Result<usize, StoreError> {
    Ok(tx
        .sqlite()
        .prepare_cached(
            "UPDATE oauth_tokens SET revoked_at = ?1
              WHERE user_id = ?2 AND (?3 IS NULL OR client_id = ?3) AND revoked_at IS NULL AND expires_at > ?1",
        )?
        .execute(params![now, user_id, client_id])?)
}

/// Revokes, as of `now`, every live token of the client, of every user; returns how many.
pub fn revoke_of_client(tx: &Tx<'_>, client_id: &str, now: i64) -> Result<usize, StoreError> {
    Ok(tx
        .sqlite()
        .prepare_cached(
            "UPDATE oauth_tokens SET revoked_at = ?1 WHERE client_id = ?2 AND revoked_at IS NULL AND expires_at > ?1",
        )?
        .execute(params![now, client_id])?)
}
