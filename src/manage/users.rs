//! Managing sign-in accounts: list, new password, disable and enable, remove, lift a lockout,
//! revoke tokens.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{ManageError, ManageResult};
use crate::clock::unix_now;
use crate::ids::UserId;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
    /// When the user was disabled (RFC 3339), or `None` while they may sign in.
    pub disabled_at: Option<String>,
    /// May open the operator console.
    pub admin: bool,
}

/// What `remove` deleted besides the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub todos: usize,
}

pub fn list(conn: &Connection) -> ManageResult<Vec<UserSummary>> {
    let mut stmt = conn.prepare(
        "SELECT id, email, name, created_at, strftime('%Y-%m-%dT%H:%M:%SZ', disabled_at, 'unixepoch'),
                is_admin
           FROM users ORDER BY created_at, email",
    )?;
    let users = stmt.query_map([], |r| {
        Ok(UserSummary {
            id: r.get(0)?,
            email: r.get(1)?,
            name: r.get(2)?,
            created_at: r.get(3)?,
            disabled_at: r.get(4)?,
            admin: r.get(5)?,
        })
    })?;
    Ok(users.collect::<Result<_, _>>()?)
}

/// The id of the user with this email (case-insensitive).
pub fn id_of(conn: &Connection, email: &str) -> ManageResult<UserId> {
    conn.prepare_cached("SELECT id FROM users WHERE email = ?1")?
        .query_row([email.trim()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| ManageError::NoUser(email.trim().to_owned()))
}

/// Whom an operator means by `user`: the user with that email here, or in remote user-info mode
/// (where users live on the other server, and have no email here) the other server's user id.
pub fn named(conn: &Connection, user: &str) -> ManageResult<UserId> {
    if user.contains('@') { id_of(conn, user) } else { Ok(UserId::new(user)) }
}

/// Sets a new password (already checked and hashed: `users::hash_new_password`) and signs the
/// user out of every browser. Tokens already given to clients stay valid; `revoke_tokens` ends them.
pub fn set_password(conn: &Connection, email: &str, password_hash: &str) -> ManageResult<()> {
    let id = id_of(conn, email)?;
    conn.execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![password_hash, id])?;
    end_sessions(conn, &id)
}

/// Disables sign-in and every token of the user at once (the token look-up checks the flag).
/// Returns `false` when the user was already disabled.
pub fn disable(conn: &Connection, email: &str) -> ManageResult<bool> {
    let id = id_of(conn, email)?;
    let changed = conn
        .execute("UPDATE users SET disabled_at = ?1 WHERE id = ?2 AND disabled_at IS NULL", params![unix_now(), id])?;
    end_sessions(conn, &id)?;
    Ok(changed == 1)
}

/// Lets the user open the operator console, or no longer; returns `false` when nothing changed.
pub fn set_admin(conn: &Connection, email: &str, admin: bool) -> ManageResult<bool> {
    let id = id_of(conn, email)?;
    Ok(conn.execute("UPDATE users SET is_admin = ?1 WHERE id = ?2 AND is_admin <> ?1", params![admin, id])? == 1)
}

/// Lets a disabled user sign in again; their unexpired tokens work again too. Returns `false`
/// when the user was not disabled.
pub fn enable(conn: &Connection, email: &str) -> ManageResult<bool> {
    let id = id_of(conn, email)?;
    Ok(conn.execute("UPDATE users SET disabled_at = NULL WHERE id = ?1 AND disabled_at IS NOT NULL", [id])? == 1)
}

/// Deletes the user, their todos, counters, tokens, codes and sessions. The call log keeps its
/// rows: they record what happened, and name the user only by id.
pub fn remove(conn: &Connection, email: &str) -> ManageResult<Removed> {
    let id = id_of(conn, email)?;
    let todos = conn.execute("DELETE FROM todos WHERE user_id = ?1", [&id])?;
    conn.execute("DELETE FROM api_usage WHERE user_id = ?1", [&id])?;
    // Tokens, codes and sessions go with the user (ON DELETE CASCADE).
    conn.execute("DELETE FROM users WHERE id = ?1", [&id])?;
    Ok(Removed { todos })
}

/// Lifts a sign-in lockout: the server forgets the failures that came before this moment.
pub fn unlock(conn: &Connection, email: &str) -> ManageResult<()> {
    let id = id_of(conn, email)?;
    conn.execute("UPDATE users SET unlocked_at = ?1 WHERE id = ?2", params![unix_now(), id])?;
    Ok(())
}

/// Revokes the user's access and refresh tokens, of one client or of all; returns how many.
pub fn revoke_tokens(conn: &Connection, email: &str, client_id: Option<&str>) -> ManageResult<usize> {
    let id = id_of(conn, email)?;
    if let Some(client_id) = client_id {
        super::clients::require(conn, client_id)?;
    }
    Ok(conn.execute(
        "UPDATE oauth_tokens SET revoked_at = ?1
          WHERE user_id = ?2 AND (?3 IS NULL OR client_id = ?3) AND revoked_at IS NULL AND expires_at > ?1",
        params![unix_now(), id, client_id],
    )?)
}

fn end_sessions(conn: &Connection, user_id: &UserId) -> ManageResult<()> {
    conn.execute("DELETE FROM oauth_sessions WHERE user_id = ?1", [user_id])?;
    Ok(())
}
