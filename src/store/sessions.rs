//! The `oauth_sessions` table: which browser is signed in as whom. A row holds the hash of a
//! session cookie (`web::session` makes the cookie and its hash), never the cookie itself.

use rusqlite::{OptionalExtension, params};

use super::{StoreError, Tx};
use crate::support::ids::UserId;

/// Who is signed in on a browser.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
}

/// The enabled user whose unexpired session has this hash at `now`.
pub fn signed_in(tx: &Tx<'_>, session_hash: &str, now: i64) -> Result<Option<SignedIn>, StoreError> {
    Ok(tx
        .sqlite()?
        .prepare_cached(
            "SELECT u.id, u.email, u.name, u.is_admin FROM oauth_sessions s JOIN users u ON u.id = s.user_id
              WHERE s.session_hash = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL",
        )?
        .query_row(params![session_hash, now], |r| {
            Ok(SignedIn { user_id: r.get(0)?, email: r.get(1)?, name: r.get(2)?, is_admin: r.get(3)? })
        })
        .optional()?)
}

/// Stores a session of `user_id` until `expires_at` (unix seconds). Expired sessions are deleted
/// by housekeeping.
pub fn start(tx: &Tx<'_>, session_hash: &str, user_id: &UserId, expires_at: i64) -> Result<(), StoreError> {
    tx.sqlite()?
        .prepare_cached("INSERT INTO oauth_sessions (session_hash, user_id, expires_at) VALUES (?1, ?2, ?3)")?
        .execute(params![session_hash, user_id, expires_at])?;
    Ok(())
}

/// Ends the session with this hash (signing out).
pub fn end(tx: &Tx<'_>, session_hash: &str) -> Result<(), StoreError> {
    tx.sqlite()?.prepare_cached("DELETE FROM oauth_sessions WHERE session_hash = ?1")?.execute([session_hash])?;
    Ok(())
}

/// Signs the user out of every browser.
pub fn end_all_of(tx: &Tx<'_>, user_id: &UserId) -> Result<(), StoreError> {
    tx.sqlite()?.prepare_cached("DELETE FROM oauth_sessions WHERE user_id = ?1")?.execute([user_id])?;
    Ok(())
}
