//! The tokens an operator revokes by hand (`token revoke`, a client's "Revoke all its tokens").
//! (`token issue` is `store::tokens::issue`.)

use super::sql::Sql;
use super::{StoreError, Tx};
use crate::support::ids::UserId;

/// Revokes, as of `now`, the user's live access and refresh tokens, of one client or of all;
/// returns how many.
pub fn revoke_of_user(tx: &Tx<'_>, user_id: &UserId, client_id: Option<&str>, now: i64) -> Result<usize, StoreError> {
    Ok(tx.run(&REVOKE_OF_USER, &[&now, user_id, &client_id])? as usize)
}

static REVOKE_OF_USER: Sql = Sql::new(
    "UPDATE oauth_tokens SET revoked_at = $1
      WHERE user_id = $2 AND (CAST($3 AS TEXT) IS NULL OR client_id = $3) AND revoked_at IS NULL AND expires_at > $1",
);

/// Revokes, as of `now`, every live token of the client, of every user; returns how many.
pub fn revoke_of_client(tx: &Tx<'_>, client_id: &str, now: i64) -> Result<usize, StoreError> {
    Ok(tx.run(&REVOKE_OF_CLIENT, &[&now, &client_id])? as usize)
}

static REVOKE_OF_CLIENT: Sql =
    Sql::new("UPDATE oauth_tokens SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL AND expires_at > $1");
