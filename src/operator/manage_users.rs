//! Managing sign-in accounts: list, new password, disable and enable, remove, lift a lockout,
//! revoke tokens. Times are read by the caller, outside the job, and passed in.

use super::{ManageError, Outcome, or_refused};
use crate::store::{StoreError, Tx, accounts, operator_tokens, sessions};
use crate::support::ids::UserId;

pub use crate::store::accounts::{Removed, UserSummary};

pub fn list(tx: &Tx<'_>) -> Result<Vec<UserSummary>, StoreError> {
    accounts::list(tx)
}

/// The id of the user with this email (case-insensitive).
pub fn id_of(tx: &Tx<'_>, email: &str) -> Outcome<UserId> {
    Ok(accounts::id_of(tx, email)?.ok_or_else(|| no_user(email)))
}

/// Whom an operator means by `user` ([`accounts::named`]: an email here, else a user id as it is);
/// an email no user has is refused.
pub fn named(tx: &Tx<'_>, user: &str) -> Outcome<UserId> {
    Ok(accounts::named(tx, user)?.ok_or_else(|| no_user(user)))
}

fn no_user(email: &str) -> ManageError {
    ManageError::NoUser(email.trim().to_owned())
}

/// Sets a new password (already checked and hashed: `web::accounts::hash_new_password`) and signs the
/// user out of every browser. Tokens already given to clients stay valid; `revoke_tokens` ends them.
pub fn set_password(tx: &Tx<'_>, email: &str, password_hash: &str) -> Outcome<()> {
    let id = or_refused!(id_of(tx, email));
    accounts::set_password_hash(tx, &id, password_hash)?;
    sessions::end_all_of(tx, &id)?;
    Ok(Ok(()))
}

/// Disables sign-in and every token of the user as of `now` (the token look-up checks the flag).
/// Gives `false` when the user was already disabled.
pub fn disable(tx: &Tx<'_>, email: &str, now: i64) -> Outcome<bool> {
    let id = or_refused!(id_of(tx, email));
    let changed = accounts::disable(tx, &id, now)?;
    sessions::end_all_of(tx, &id)?;
    Ok(Ok(changed))
}

/// Lets the user open the operator console, or no longer; `false` when nothing changed.
pub fn set_admin(tx: &Tx<'_>, email: &str, admin: bool) -> Outcome<bool> {
    let id = or_refused!(id_of(tx, email));
    Ok(Ok(accounts::set_admin(tx, &id, admin)?))
}

/// Lets a disabled user sign in again; their unexpired tokens work again too. Gives `false` when
/// the user was not disabled.
pub fn enable(tx: &Tx<'_>, email: &str) -> Outcome<bool> {
    let id = or_refused!(id_of(tx, email));
    Ok(Ok(accounts::enable(tx, &id)?))
}

/// Deletes the user, their todos, counters, tokens, codes and sessions. The call log keeps its
/// rows: they record what happened, and name the user only by id.
pub fn remove(tx: &Tx<'_>, email: &str) -> Outcome<Removed> {
    let id = or_refused!(id_of(tx, email));
    Ok(Ok(accounts::remove(tx, &id)?))
}

/// Lifts a sign-in lockout: the server forgets the failures that came before `now`.
pub fn unlock(tx: &Tx<'_>, email: &str, now: i64) -> Outcome<()> {
    let id = or_refused!(id_of(tx, email));
    accounts::unlock(tx, &id, now)?;
    Ok(Ok(()))
}

/// Revokes the user's access and refresh tokens, of one client or of all, as of `now`; gives how
/// many.
pub fn revoke_tokens(tx: &Tx<'_>, email: &str, client_id: Option<&str>, now: i64) -> Outcome<usize> {
    let id = or_refused!(id_of(tx, email));
    if let Some(client_id) = client_id {
        or_refused!(super::manage_clients::require(tx, client_id));
    }
    Ok(Ok(operator_tokens::revoke_of_user(tx, &id, client_id, now)?))
}
