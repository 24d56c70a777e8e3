//! Every statement on `oauth_tokens`: issuing access and refresh tokens, finding them, rotating
//! and revoking them. Only the SHA-256 of a token is stored; the token itself is returned once,
//! to be handed to the client, and looked up by its hash.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::unix_now;
use crate::ids::{ClientId, UserId};
use crate::secrets::{hash_secret, random_secret};

pub const ACCESS_PREFIX: &str = "gta_";
pub const REFRESH_PREFIX: &str = "gtr_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Access,
    Refresh,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Refresh => "refresh",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Kind::Access => ACCESS_PREFIX,
            Kind::Refresh => REFRESH_PREFIX,
        }
    }
}

/// Who a token is for and where it comes from.
pub struct Grant<'a> {
    pub user_id: &'a UserId,
    pub client_id: &'a ClientId,
    pub scope: &'a str,
    /// Tokens of one family descend from one grant and are revoked together on misuse.
    pub family_id: &'a str,
    pub code_hash: Option<&'a str>,
    /// The resource the token is for (RFC 8707), or `None`: unbound, as a GPT Action's tokens.
    pub resource: Option<&'a str>,
}

/// Stores a new token of `kind` for `grant`, valid for `ttl`, and returns it.
pub fn issue(conn: &Connection, kind: Kind, grant: &Grant, ttl: Duration) -> rusqlite::Result<String> {
    let token = random_secret(kind.prefix());
    conn.prepare_cached(
        "INSERT INTO oauth_tokens (token_hash, kind, client_id, user_id, scope, family_id, code_hash, expires_at, resource)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        hash_secret(&token),
        kind.as_str(),
        grant.client_id,
        grant.user_id,
        grant.scope,
        grant.family_id,
        grant.code_hash,
        unix_now().saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        grant.resource,
    ])?;
    Ok(token)
}

/// Whom a live access token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub user_id: UserId,
    pub client_id: ClientId,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The resource the token is bound to (RFC 8707); `None` for an unbound token.
    pub resource: Option<String>,
}

/// The owner of the access token with this hash, if it exists, has not expired, is not revoked and
/// its user is not disabled (`gpt-todo user disable` takes effect on the next call).
pub fn find_access(conn: &Connection, token_hash: &str) -> rusqlite::Result<Option<TokenOwner>> {
    conn.prepare_cached(
        "SELECT t.user_id, t.client_id, u.email, u.name, t.resource
           FROM oauth_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash = ?1 AND t.kind = 'access'
            AND t.revoked_at IS NULL AND t.expires_at > ?2 AND u.disabled_at IS NULL",
    )?
    .query_row(params![token_hash, unix_now()], |row| {
        Ok(TokenOwner {
            user_id: row.get(0)?,
            client_id: row.get(1)?,
            email: row.get(2)?,
            name: row.get(3)?,
            resource: row.get(4)?,
        })
    })
    .optional()
}

/// A stored refresh token, as the token endpoint checks it before rotating it.
pub struct StoredRefresh {
    pub user_id: UserId,
    pub client_id: ClientId,
    pub scope: String,
    pub family_id: String,
    pub code_hash: Option<String>,
    pub expires_at: i64,
    pub revoked: bool,
    pub rotated: bool,
    pub resource: Option<String>,
}

pub fn find_refresh(conn: &Connection, token_hash: &str) -> rusqlite::Result<Option<StoredRefresh>> {
    conn.prepare_cached(
        "SELECT user_id, client_id, scope, family_id, code_hash, expires_at,
                revoked_at IS NOT NULL, rotated_at IS NOT NULL, resource
           FROM oauth_tokens WHERE token_hash = ?1 AND kind = 'refresh'",
    )?
    .query_row([token_hash], |r| {
        Ok(StoredRefresh {
            user_id: r.get(0)?,
            client_id: r.get(1)?,
            scope: r.get(2)?,
            family_id: r.get(3)?,
            code_hash: r.get(4)?,
            expires_at: r.get(5)?,
            revoked: r.get(6)?,
            rotated: r.get(7)?,
            resource: r.get(8)?,
        })
    })
    .optional()
}

/// Marks a refresh token as used up: presenting it again is a replay.
pub fn mark_rotated(conn: &Connection, token_hash: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE oauth_tokens SET rotated_at = ?1 WHERE token_hash = ?2")?
        .execute(params![unix_now(), token_hash])?;
    Ok(())
}

/// Revokes a token of `client_id`: an access token alone, a refresh token with its whole family
/// (the access tokens it produced go too; RFC 7009 2.1). A token of another client, or none, is
/// left alone.
pub fn revoke(conn: &Connection, token_hash: &str, client_id: &str) -> rusqlite::Result<()> {
    let found: Option<(String, String)> = conn
        .prepare_cached("SELECT kind, family_id FROM oauth_tokens WHERE token_hash = ?1 AND client_id = ?2")?
        .query_row(params![token_hash, client_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match found {
        Some((kind, family_id)) if kind == Kind::Refresh.as_str() => revoke_family(conn, &family_id),
        Some(_) => {
            conn.prepare_cached(
                "UPDATE oauth_tokens SET revoked_at = ?1 WHERE token_hash = ?2 AND revoked_at IS NULL",
            )?
            .execute(params![unix_now(), token_hash])?;
            Ok(())
        }
        None => Ok(()),
    }
}

/// Revokes every token descending from the same grant.
pub fn revoke_family(conn: &Connection, family_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE oauth_tokens SET revoked_at = ?1 WHERE family_id = ?2 AND revoked_at IS NULL")?
        .execute(params![unix_now(), family_id])?;
    Ok(())
}

/// Revokes everything that was issued from an authorization code (RFC 6749 4.1.2: a replayed code).
pub fn revoke_issued_by_code(conn: &Connection, code_hash: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE oauth_tokens SET revoked_at = ?1
          WHERE revoked_at IS NULL
            AND family_id IN (SELECT family_id FROM oauth_tokens WHERE code_hash = ?2)",
    )?
    .execute(params![unix_now(), code_hash])?;
    Ok(())
}
