//! The statements of the OAuth endpoints on `oauth_clients`: registering a client, finding it,
//! remembering a metadata-document client, noting its first authorization, keeping the clients
//! strangers create bounded, and the names a self-registered client may not pass for.

use std::collections::HashSet;

use rusqlite::{Connection, params};

use super::sql::Sql;
use super::{StoreError, Tx};
use crate::oauth::client_rules::{Client, NewClient, Registration, url_host};

/// Stores a client checked and drawn by [`NewClient::prepare`], registered at `now` (unix
/// seconds, the server's clock).
pub fn insert(tx: &Tx<'_>, client: &NewClient, now: i64) -> Result<(), StoreError> {
    let created_at = tx.now().timestamp();
    tx.run(
        &INSERT,
        &[
            &client.client_id,
            &client.secret_hash,
            &client.name,
            &client.redirect_uris_json,
            &client.call_limit,
            &client.registration.as_str(),
            &now,
            &created_at,
        ],
    )?;
    Ok(())
}

static INSERT: Sql = Sql::new(
    "INSERT INTO oauth_clients
       (client_id, secret_hash, name, redirect_uris, call_limit, call_window, registration, registered_at, created_at)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN CAST($5 AS BIGINT) IS NOT NULL THEN 'total' END, $6, $7, $8)",
);

pub fn find(tx: &Tx<'_>, client_id: &str) -> Result<Option<Client>, StoreError> {
    tx.row(&FIND, &[&client_id], |r| {
        let uris: String = r.get(3)?;
        Ok(Client {
            client_id: r.get(0)?,
            name: r.get(1)?,
            secret_hash: r.get(2)?,
            redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
            registration: Registration::from_stored(&r.get::<String>(4)?),
        })
    })
}

static FIND: Sql = Sql::new(
    "SELECT client_id, name, secret_hash, redirect_uris, registration FROM oauth_clients WHERE client_id = $1",
);

/// Records a client known by the URL of its Client ID Metadata Document, as its document says
/// now (`now`: unix seconds, the server's clock): a public client, with the server's default
/// limit unless the operator set one. Codes and tokens refer to clients, so such a client needs
/// its row too; it also shows in `client list`. The authorization pages store it only when they
/// issue it a code, so asking for pages stores nothing.
pub fn remember_metadata_document(
    tx: &Tx<'_>,
    client_id: &str,
    name: &str,
    redirect_uris: &[String],
    now: i64,
) -> Result<(), StoreError> {
    let uris = serde_json::to_string(redirect_uris).unwrap_or_else(|_| "[]".into());
    let created_at = tx.now().timestamp();
    tx.run(&REMEMBER_METADATA_DOCUMENT, &[&client_id, &name, &uris, &now, &created_at])?;
    Ok(())
}

static REMEMBER_METADATA_DOCUMENT: Sql = Sql::new(
    "INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, registration, registered_at, created_at)
     VALUES ($1, NULL, $2, $3, 'metadata-document', $4, $5)
     ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris
     WHERE oauth_clients.registration = 'metadata-document'",
);

/// Notes that the client completed an authorization (its first tokens were issued): from then on
/// the bound below never removes it.
pub fn mark_authorized(tx: &Tx<'_>, client_id: &str, now: i64) -> Result<(), StoreError> {
    tx.run(&MARK_AUTHORIZED, &[&client_id, &now])?;
    Ok(())
}

static MARK_AUTHORIZED: Sql =
    Sql::new("UPDATE oauth_clients SET authorized_at = $2 WHERE client_id = $1 AND authorized_at IS NULL");

/// A client that registered itself is kept at least this long, so a person who is still signing
/// in when a flood of registrations passes loses nothing.
pub const UNUSED_CLIENT_GRACE: i64 = 15 * 60;

/// The clients strangers can create and nobody has used: self-registered, never authorized,
/// holding no token (an operator's `token issue` can give one to any client) and no live code.
/// Everything is counted here, in SQL, so instances that share a database share the bound.
const UNUSED_CLIENTS: &str = "registration <> 'operator' AND authorized_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.client_id = oauth_clients.client_id)
    AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.client_id = oauth_clients.client_id AND c.expires_at > ?1)";

/// Removes the oldest unused clients beyond the newest `keep`, but none registered within
/// [`UNUSED_CLIENT_GRACE`] of `now`; at most `limit` of them. Returns how many went.
pub fn evict_unused(tx: &Tx<'_>, now: i64, keep: u32, limit: i64) -> Result<usize, StoreError> {
    Ok(evict_unused_on(tx.sqlite()?, now, keep, limit)?)
}

/// [`evict_unused`] on the writer's connection, for housekeeping.
pub(crate) fn evict_unused_on(conn: &Connection, now: i64, keep: u32, limit: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(&format!(
        "DELETE FROM oauth_clients WHERE client_id IN (
           SELECT client_id FROM (
             SELECT client_id, registered_at FROM oauth_clients WHERE {UNUSED_CLIENTS}
              ORDER BY registered_at DESC, client_id DESC LIMIT -1 OFFSET ?2)
            WHERE registered_at <= ?1 - {UNUSED_CLIENT_GRACE}
            LIMIT ?3)"
    ))?
    .execute(params![now, keep, limit])
}

/// Removes unused clients registered `older_than` seconds before `now` or earlier; at most
/// `limit` of them. Returns how many went. On the writer's connection, for housekeeping.
pub(crate) fn prune_unused_on(conn: &Connection, now: i64, older_than: i64, limit: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(&format!(
        "DELETE FROM oauth_clients WHERE client_id IN (
           SELECT client_id FROM oauth_clients WHERE {UNUSED_CLIENTS} AND registered_at <= ?1 - ?2 LIMIT ?3)"
    ))?
    .execute(params![now, older_than, limit])
}

/// The names a self-registered client may not pass for: every operator-registered client's, and
/// the host of every client known by its metadata document (`crate::oauth::client_names`).
pub fn protected_names(tx: &Tx<'_>) -> Result<HashSet<String>, StoreError> {
    let rows = tx.rows(&PROTECTED_NAMES, &[], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?;
    let mut names = HashSet::new();
    for (registration, value) in rows {
        if registration == "operator" {
            names.insert(value);
        } else if let Some(host) = url_host(&value) {
            names.insert(host.to_owned());
        }
    }
    Ok(names)
}

static PROTECTED_NAMES: Sql = Sql::new(
    "SELECT registration, CASE registration WHEN 'operator' THEN name ELSE client_id END
       FROM oauth_clients WHERE registration IN ('operator', 'metadata-document')",
);
