//! Built-in mode: access tokens issued by this server, stored only as SHA-256 hashes.

use rusqlite::{Connection, OptionalExtension, params};

use super::Caller;
use crate::clock::unix_now;
use crate::secrets::hash_secret;

/// The caller an access token stands for, if it exists, has not expired and is not revoked.
pub fn find_access_token(conn: &Connection, token: &str) -> rusqlite::Result<Option<Caller>> {
    find_access_token_by_hash(conn, &hash_secret(token))
}

pub fn find_access_token_by_hash(conn: &Connection, token_hash: &str) -> rusqlite::Result<Option<Caller>> {
    conn.prepare_cached(
        "SELECT t.user_id, t.client_id, u.email, u.name, t.resource
           FROM oauth_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash = ?1 AND t.kind = 'access'
            AND t.revoked_at IS NULL AND t.expires_at > ?2",
    )?
    .query_row(params![token_hash, unix_now()], |row| {
        Ok(Caller {
            user_id: row.get(0)?,
            client_id: row.get(1)?,
            email: row.get(2)?,
            name: row.get(3)?,
            resource: row.get(4)?,
        })
    })
    .optional()
}
