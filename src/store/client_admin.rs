//! What an operator reads and changes on the OAuth clients (`client …`, the console's client
//! pages): the list, a unique operator name, the name, redirect URIs, limits and secret, removal.
//! Registering and finding a client are `store::clients`'s; a client's limit has one writer,
//! `store::quota::set_client_limit`.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::sql::Sql;
use super::{StoreError, Tx};
use crate::quota::Limits;
use crate::support::ids::UserId;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSummary {
    pub client_id: String,
    pub name: String,
    /// `confidential` (has a secret) or `public` (PKCE only).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `None`: the server's `--default-call-limit`.
    pub call_limit: Option<i64>,
    /// `total`, `day` or `month`; `None` with the server's default limit (`--default-call-window`).
    pub call_window: Option<String>,
    pub redirect_uris: Vec<String>,
    /// How the client came to be known: `operator` (`client add`), `dynamic` (RFC 7591) or
    /// `metadata-document` (its id is the URL of its Client ID Metadata Document).
    pub registered_by: String,
    pub created_at: String,
}

const SUMMARY: &str = "SELECT client_id, name, secret_hash IS NULL, call_limit, redirect_uris, created_at, call_window,
                              registration
                         FROM oauth_clients";

/// Every client, oldest first.
pub fn list(tx: &Tx<'_>) -> Result<Vec<ClientSummary>, StoreError> {
    let mut stmt = tx.sqlite()?.prepare_cached(&format!("{SUMMARY} ORDER BY created_at, name"))?;
    let clients = stmt.query_map([], summary)?;
    Ok(clients.collect::<Result<_, _>>()?)
}

/// The client with this id, as `client list` shows it.
pub fn summary_of(tx: &Tx<'_>, client_id: &str) -> Result<Option<ClientSummary>, StoreError> {
    Ok(tx
        .sqlite()?
        .prepare_cached(&format!("{SUMMARY} WHERE client_id = ?1"))?
        .query_row([client_id], summary)
        .optional()?)
}

fn summary(r: &rusqlite::Row) -> rusqlite::Result<ClientSummary> {
    let uris: String = r.get(4)?;
    Ok(ClientSummary {
        client_id: r.get(0)?,
        name: r.get(1)?,
        kind: if r.get(2)? { "public" } else { "confidential" },
        call_limit: r.get(3)?,
        redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
        created_at: r.get(5)?,
        call_window: r.get(6)?,
        registered_by: r.get(7)?,
    })
}

/// The id of another operator-registered client whose name is `name` (without case or outer
/// spaces), leaving out `except`.
pub fn operator_name_taken(tx: &Tx<'_>, name: &str, except: Option<&str>) -> Result<Option<String>, StoreError> {
    tx.row(&OPERATOR_NAME_TAKEN, &[&name, &except], |r| r.get(0))
}

static OPERATOR_NAME_TAKEN: Sql = Sql::new(
    "SELECT client_id FROM oauth_clients
      WHERE lower(trim(name)) = lower(trim($1)) AND (CAST($2 AS TEXT) IS NULL OR client_id <> $2)
        AND registration = 'operator' LIMIT 1",
);

pub fn rename(tx: &Tx<'_>, client_id: &str, name: &str) -> Result<(), StoreError> {
    tx.sqlite()?
        .prepare_cached("UPDATE oauth_clients SET name = ?1 WHERE client_id = ?2")?
        .execute(params![name, client_id])?;
    Ok(())
}

/// The client's own limit and, for `user`, that user's own limit for it.
pub fn limits(tx: &Tx<'_>, client_id: &str, user: Option<&UserId>) -> Result<Limits, StoreError> {
    let conn = tx.sqlite()?;
    let client = conn
        .prepare_cached("SELECT call_limit, call_window FROM oauth_clients WHERE client_id = ?1")?
        .query_row([client_id], |r| Ok(super::quota::plan(r.get(0)?, r.get(1)?)))
        .optional()?
        .flatten();
    let user = match user {
        Some(user) => conn
            .prepare_cached(
                "SELECT call_limit, call_window FROM api_limit_overrides WHERE user_id = ?1 AND client_id = ?2",
            )?
            .query_row(params![user, client_id], |r| Ok(super::quota::plan(r.get(0)?, r.get(1)?)))
            .optional()?
            .flatten(),
        None => None,
    };
    Ok(Limits { user, client })
}

pub fn set_redirect_uris(tx: &Tx<'_>, client_id: &str, uris: &[String]) -> Result<(), StoreError> {
    let json = serde_json::to_string(uris).map_err(|e| StoreError::Other(e.to_string()))?;
    tx.sqlite()?
        .prepare_cached("UPDATE oauth_clients SET redirect_uris = ?1 WHERE client_id = ?2")?
        .execute(params![json, client_id])?;
    Ok(())
}

/// Stores the hash of the client's new secret.
pub fn set_secret_hash(tx: &Tx<'_>, client_id: &str, secret_hash: &str) -> Result<(), StoreError> {
    tx.sqlite()?
        .prepare_cached("UPDATE oauth_clients SET secret_hash = ?1 WHERE client_id = ?2")?
        .execute(params![secret_hash, client_id])?;
    Ok(())
}

/// Deletes the client with its tokens, codes and counters. The call log keeps its rows.
pub fn remove(tx: &Tx<'_>, client_id: &str) -> Result<(), StoreError> {
    let conn = tx.sqlite()?;
    conn.execute("DELETE FROM api_usage WHERE client_id = ?1", [client_id])?;
    // Tokens and codes go with the client (ON DELETE CASCADE).
    conn.execute("DELETE FROM oauth_clients WHERE client_id = ?1", [client_id])?;
    Ok(())
}
