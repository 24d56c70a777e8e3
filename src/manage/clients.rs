//! Managing OAuth clients: add (with a unique name), list, rename, redirect URIs, limit, a new
//! secret, remove.
//!
//! Names are unique among clients (compared without case): the consent page shows a client by its
//! name, and two clients called "My GPT" would leave a person unable to tell which one asks. The
//! check is here, where operators add and rename clients, so clients that register themselves
//! (RFC 7591) may follow a rule of their own (`crate::client_names`). Only the operator's own
//! clients count: a stranger who registered "My GPT" first must not keep the operator from
//! naming theirs so (that client is marked unverified on its consent page).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{ManageError, ManageResult};
use crate::clients::{self, CLIENT_SECRET_PREFIX, NewClient, Registered, Registration, check_redirect_uri};
use crate::clock::unix_now;
use crate::ids::UserId;
use crate::quota::{self, Limits, Plan};
use crate::secrets::{hash_secret, random_secret};
use crate::store::{self, StoreError, Tx};

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

pub fn add(
    conn: &Connection,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<Plan>,
    public: bool,
) -> ManageResult<Registered> {
    refuse_taken_name(conn, name, None)?;
    let new =
        NewClient::prepare(Registration::Operator, name, redirect_uris, call_limit.map(|plan| plan.limit), public)
            .map_err(ManageError::Refused)?;
    store::clients::insert(&Tx::sqlite_at(conn, &crate::clock::Clock::system()), &new, unix_now())
        .map_err(|e| ManageError::Refused(format!("cannot add the client: {e}")))?;
    let registered = new.registered();
    if call_limit.is_some() {
        quota::set_client_limit(
            &crate::store::Tx::sqlite_at(conn, &crate::clock::Clock::system()),
            &registered.client_id,
            call_limit,
        )
        .map_err(crate::store::StoreError::into_rusqlite)?;
    }
    Ok(registered)
}

pub fn list(conn: &Connection) -> ManageResult<Vec<ClientSummary>> {
    let mut stmt = conn.prepare(
        "SELECT client_id, name, secret_hash IS NULL, call_limit, redirect_uris, created_at, call_window,
                registration
           FROM oauth_clients ORDER BY created_at, name",
    )?;
    let clients = stmt.query_map([], |r| {
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
    })?;
    Ok(clients.collect::<Result<_, _>>()?)
}

/// The client with this id, or `NoClient`.
pub fn require(conn: &Connection, client_id: &str) -> ManageResult<clients::Client> {
    store::clients::find(&Tx::sqlite_at(conn, &crate::clock::Clock::system()), client_id)
        .map_err(StoreError::into_rusqlite)?
        .ok_or_else(|| ManageError::NoClient(client_id.to_owned()))
}

pub fn rename(conn: &Connection, client_id: &str, name: &str) -> ManageResult<()> {
    require(conn, client_id)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ManageError::Refused("the client name must not be empty".into()));
    }
    refuse_taken_name(conn, name, Some(client_id))?;
    conn.execute("UPDATE oauth_clients SET name = ?1 WHERE client_id = ?2", params![name, client_id])?;
    Ok(())
}

/// A number of calls per user in a window; `None` returns the client to the server's default.
pub fn set_limit(conn: &Connection, client_id: &str, plan: Option<Plan>) -> ManageResult<()> {
    require(conn, client_id)?;
    quota::set_client_limit(&crate::store::Tx::sqlite_at(conn, &crate::clock::Clock::system()), client_id, plan)
        .map_err(crate::store::StoreError::into_rusqlite)?;
    Ok(())
}

/// The client's own limit and, for `user`, that user's own limit for it: what a change of the
/// number alone keeps the window of.
pub fn limits(conn: &Connection, client_id: &str, user: Option<&UserId>) -> ManageResult<Limits> {
    require(conn, client_id)?;
    let (limit, window) =
        conn.query_row("SELECT call_limit, call_window FROM oauth_clients WHERE client_id = ?1", [client_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let user = match user {
        Some(user) => conn
            .query_row(
                "SELECT call_limit, call_window FROM api_limit_overrides WHERE user_id = ?1 AND client_id = ?2",
                params![user, client_id],
                |r| Ok(quota::plan(r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .flatten(),
        None => None,
    };
    Ok(Limits { user, client: quota::plan(limit, window) })
}

/// Registers one more exact redirect URI; returns the client's list.
pub fn add_redirect_uri(conn: &Connection, client_id: &str, uri: &str) -> ManageResult<Vec<String>> {
    let mut uris = require(conn, client_id)?.redirect_uris;
    check_redirect_uri(uri).map_err(ManageError::Refused)?;
    if uris.iter().any(|known| known == uri) {
        return Err(ManageError::Refused(format!("{uri} is already registered for {client_id}")));
    }
    uris.push(uri.to_owned());
    store_redirect_uris(conn, client_id, &uris)?;
    Ok(uris)
}

/// Unregisters a redirect URI (not the last one: remove the client instead); returns the list.
pub fn remove_redirect_uri(conn: &Connection, client_id: &str, uri: &str) -> ManageResult<Vec<String>> {
    let mut uris = require(conn, client_id)?.redirect_uris;
    let before = uris.len();
    uris.retain(|known| known != uri);
    if uris.len() == before {
        return Err(ManageError::Refused(format!("{uri} is not registered for {client_id}")));
    }
    if uris.is_empty() {
        return Err(ManageError::Refused(format!(
            "{uri} is the only redirect URI of {client_id}; add another first, or remove the client"
        )));
    }
    store_redirect_uris(conn, client_id, &uris)?;
    Ok(uris)
}

/// Gives a confidential client a new secret and returns it (only its hash is stored). The old
/// secret stops working at once; tokens already issued stay valid until they expire.
pub fn rotate_secret(conn: &Connection, client_id: &str) -> ManageResult<String> {
    if require(conn, client_id)?.is_public() {
        return Err(ManageError::Refused(format!("{client_id} is a public client: it has no secret")));
    }
    let secret = random_secret(CLIENT_SECRET_PREFIX);
    conn.execute(
        "UPDATE oauth_clients SET secret_hash = ?1 WHERE client_id = ?2",
        params![hash_secret(&secret), client_id],
    )?;
    Ok(secret)
}

/// Revokes every access and refresh token of the client, of every user; returns how many. Its
/// users must sign in and allow it again.
pub fn revoke_tokens(conn: &Connection, client_id: &str) -> ManageResult<usize> {
    require(conn, client_id)?;
    Ok(conn.execute(
        "UPDATE oauth_tokens SET revoked_at = ?1 WHERE client_id = ?2 AND revoked_at IS NULL AND expires_at > ?1",
        params![crate::clock::unix_now(), client_id],
    )?)
}

/// Deletes the client with its tokens, codes and counters. The call log keeps its rows.
pub fn remove(conn: &Connection, client_id: &str) -> ManageResult<()> {
    require(conn, client_id)?;
    conn.execute("DELETE FROM api_usage WHERE client_id = ?1", [client_id])?;
    // Tokens and codes go with the client (ON DELETE CASCADE).
    conn.execute("DELETE FROM oauth_clients WHERE client_id = ?1", [client_id])?;
    Ok(())
}

fn store_redirect_uris(conn: &Connection, client_id: &str, uris: &[String]) -> ManageResult<()> {
    let json = serde_json::to_string(uris).map_err(|e| ManageError::Refused(e.to_string()))?;
    conn.execute("UPDATE oauth_clients SET redirect_uris = ?1 WHERE client_id = ?2", params![json, client_id])?;
    Ok(())
}

fn refuse_taken_name(conn: &Connection, name: &str, except: Option<&str>) -> ManageResult<()> {
    let taken: Option<String> = conn
        .query_row(
            "SELECT client_id FROM oauth_clients
              WHERE lower(trim(name)) = lower(trim(?1)) AND (?2 IS NULL OR client_id <> ?2)
                AND registration = 'operator' LIMIT 1",
            params![name, except],
            |r| r.get(0),
        )
        .optional()?;
    match taken {
        Some(other) => Err(ManageError::Refused(format!(
            "a client named \"{}\" already exists ({other}); choose another name",
            name.trim()
        ))),
        None => Ok(()),
    }
}
