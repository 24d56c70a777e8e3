//! Managing OAuth clients: add (with a unique name), list, rename, redirect URIs, limit, a new
//! secret, remove.
//!
//! Names are unique among clients (compared without case): the consent page shows a client by its
//! name, and two clients called "My GPT" would leave a person unable to tell which one asks. The
//! check is here, where operators add and rename clients, so clients that register themselves
//! (RFC 7591) may follow a rule of their own (`crate::oauth::client_names`). Only the operator's own
//! clients count: a stranger who registered "My GPT" first must not keep the operator from
//! naming theirs so (that client is marked unverified on its consent page).

use super::{ManageError, Outcome, or_refused};
use crate::oauth::client_rules::{
    self as clients, CLIENT_SECRET_PREFIX, NewClient, Registered, Registration, check_redirect_uri,
};
use crate::quota::{Limits, Plan};
use crate::store::{self, StoreError, Tx, client_admin, operator_tokens};
use crate::support::ids::UserId;
use crate::support::secrets::{hash_secret, random_secret};

pub use crate::store::client_admin::ClientSummary;

pub fn add(
    tx: &Tx<'_>,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<Plan>,
    public: bool,
) -> Outcome<Registered> {
    or_refused!(refuse_taken_name(tx, name, None));
    // With the server's default limit: its own is set after, by the limit's one writer.
    let new = match NewClient::prepare(Registration::Operator, name, redirect_uris, None, public) {
        Ok(new) => new,
        Err(refused) => return Ok(Err(ManageError::Refused(refused))),
    };
    store::clients::insert(tx, &new, tx.now().unix())?;
    if call_limit.is_some() {
        crate::store::quota::set_client_limit(tx, &new.client_id, call_limit)?;
    }
    Ok(Ok(new.registered()))
}

pub fn list(tx: &Tx<'_>) -> Result<Vec<ClientSummary>, StoreError> {
    client_admin::list(tx)
}

/// The client with this id, or `NoClient`.
pub fn require(tx: &Tx<'_>, client_id: &str) -> Outcome<clients::Client> {
    Ok(store::clients::find(tx, client_id)?.ok_or_else(|| ManageError::NoClient(client_id.to_owned())))
}

pub fn rename(tx: &Tx<'_>, client_id: &str, name: &str) -> Outcome<()> {
    or_refused!(require(tx, client_id));
    let name = name.trim();
    if name.is_empty() {
        return Ok(Err(ManageError::Refused("the client name must not be empty".into())));
    }
    or_refused!(refuse_taken_name(tx, name, Some(client_id)));
    client_admin::rename(tx, client_id, name)?;
    Ok(Ok(()))
}

/// A number of calls per user in a window; `None` returns the client to the server's default.
pub fn set_limit(tx: &Tx<'_>, client_id: &str, plan: Option<Plan>) -> Outcome<()> {
    or_refused!(require(tx, client_id));
    crate::store::quota::set_client_limit(tx, client_id, plan)?;
    Ok(Ok(()))
}

/// The client's own limit and, for `user`, that user's own limit for it: what a change of the
/// number alone keeps the window of.
pub fn limits(tx: &Tx<'_>, client_id: &str, user: Option<&UserId>) -> Outcome<Limits> {
    or_refused!(require(tx, client_id));
    Ok(Ok(client_admin::limits(tx, client_id, user)?))
}

/// Registers one more exact redirect URI; gives the client's list.
pub fn add_redirect_uri(tx: &Tx<'_>, client_id: &str, uri: &str) -> Outcome<Vec<String>> {
    let mut uris = or_refused!(require(tx, client_id)).redirect_uris;
    if let Err(refused) = check_redirect_uri(uri) {
        return Ok(Err(ManageError::Refused(refused)));
    }
    if uris.iter().any(|known| known == uri) {
        return Ok(Err(ManageError::Refused(format!("{uri} is already registered for {client_id}"))));
    }
    uris.push(uri.to_owned());
    client_admin::set_redirect_uris(tx, client_id, &uris)?;
    Ok(Ok(uris))
}

/// Unregisters a redirect URI (not the last one: remove the client instead); gives the list.
pub fn remove_redirect_uri(tx: &Tx<'_>, client_id: &str, uri: &str) -> Outcome<Vec<String>> {
    let mut uris = or_refused!(require(tx, client_id)).redirect_uris;
    let before = uris.len();
    uris.retain(|known| known != uri);
    if uris.len() == before {
        return Ok(Err(ManageError::Refused(format!("{uri} is not registered for {client_id}"))));
    }
    if uris.is_empty() {
        return Ok(Err(ManageError::Refused(format!(
            "{uri} is the only redirect URI of {client_id}; add another first, or remove the client"
        ))));
    }
    client_admin::set_redirect_uris(tx, client_id, &uris)?;
    Ok(Ok(uris))
}

/// A new client secret, made before the job that stores it ([`rotate_secret`]).
pub fn new_secret() -> String {
    random_secret(CLIENT_SECRET_PREFIX)
}

/// Gives a confidential client the new `secret` (only its hash is stored). The old secret stops
/// working at once; tokens already issued stay valid until they expire.
pub fn rotate_secret(tx: &Tx<'_>, client_id: &str, secret: &str) -> Outcome<()> {
    if or_refused!(require(tx, client_id)).is_public() {
        return Ok(Err(ManageError::Refused(format!("{client_id} is a public client: it has no secret"))));
    }
    client_admin::set_secret_hash(tx, client_id, &hash_secret(secret))?;
    Ok(Ok(()))
}

/// Revokes every access and refresh token of the client, of every user, as of `now`; gives how
/// many. Its users must sign in and allow it again.
pub fn revoke_tokens(tx: &Tx<'_>, client_id: &str, now: i64) -> Outcome<usize> {
    or_refused!(require(tx, client_id));
    Ok(Ok(operator_tokens::revoke_of_client(tx, client_id, now)?))
}

/// Deletes the client with its tokens, codes and counters. The call log keeps its rows.
pub fn remove(tx: &Tx<'_>, client_id: &str) -> Outcome<()> {
    or_refused!(require(tx, client_id));
    client_admin::remove(tx, client_id)?;
    Ok(Ok(()))
}

fn refuse_taken_name(tx: &Tx<'_>, name: &str, except: Option<&str>) -> Outcome<()> {
    Ok(match client_admin::operator_name_taken(tx, name, except)? {
        Some(other) => Err(ManageError::Refused(format!(
            "a client named \"{}\" already exists ({other}); choose another name",
            name.trim()
        ))),
        None => Ok(()),
    })
}
