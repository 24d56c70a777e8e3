//! Every statement on `oauth_tokens`: issuing access and refresh tokens, finding them, rotating
//! and revoking them. Only the SHA-256 of a token is stored; the token itself is returned once,
//! to be handed to the client, and looked up by its hash.
//!
//! A refresh token is spent by one conditional `UPDATE … RETURNING` ([`spend_refresh`]), so of
//! two requests presenting it, on any number of writers, exactly one rotates it; the other finds
//! it rotated, which is a replay.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::{StoreError, Tx};
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

/// A new token and the hash it is stored under, made before the job that stores it: a job may
/// run twice, and drawing the secret and hashing it are not the database's work.
pub struct NewToken {
    pub kind: Kind,
    /// What the client gets, once.
    pub token: String,
    pub hash: String,
}

impl NewToken {
    pub fn new(kind: Kind) -> NewToken {
        let token = random_secret(kind.prefix());
        NewToken { kind, hash: hash_secret(&token), token }
    }
}

/// A new access and refresh token, with the times they expire, made before the job that issues them.
pub struct NewPair {
    pub access: NewToken,
    pub access_expires_at: i64,
    pub refresh: NewToken,
    pub refresh_expires_at: i64,
}

impl NewPair {
    /// A pair issued at `now` (unix seconds), valid for `access_ttl` and `refresh_ttl`.
    pub fn new(now: i64, access_ttl: Duration, refresh_ttl: Duration) -> NewPair {
        NewPair {
            access: NewToken::new(Kind::Access),
            access_expires_at: expires_at(now, access_ttl),
            refresh: NewToken::new(Kind::Refresh),
            refresh_expires_at: expires_at(now, refresh_ttl),
        }
    }
}

/// `now` plus `ttl`, in unix seconds, saturating.
pub fn expires_at(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
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

/// Stores `token` for `grant`, valid until `expires_at` (unix seconds).
pub fn issue(tx: &Tx<'_>, token: &NewToken, grant: &Grant, expires_at: i64) -> Result<(), StoreError> {
    tx.sqlite()
        .prepare_cached(
            "INSERT INTO oauth_tokens (token_hash, kind, client_id, user_id, scope, family_id, code_hash, expires_at, resource)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            token.hash,
            token.kind.as_str(),
            grant.client_id,
            grant.user_id,
            grant.scope,
            grant.family_id,
            grant.code_hash,
            expires_at,
            grant.resource,
        ])?;
    Ok(())
}

/// Stores both tokens of `pair` for `grant`.
pub fn issue_pair(tx: &Tx<'_>, pair: &NewPair, grant: &Grant) -> Result<(), StoreError> {
    issue(tx, &pair.access, grant, pair.access_expires_at)?;
    issue(tx, &pair.refresh, grant, pair.refresh_expires_at)
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
/// its user is not disabled (`gpt-todo user disable` takes effect on the next call). It reads the
/// system clock itself, as it always did: a read job run again only sees a later time.
pub fn find_access(tx: &Tx<'_>, token_hash: &str) -> Result<Option<TokenOwner>, StoreError> {
    Ok(tx
        .sqlite()
        .prepare_cached(
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
        .optional()?)
}

/// A refresh token presented by a client, with what it asks, as of `now` (unix seconds).
pub struct RefreshSpend<'a> {
    pub token_hash: &'a str,
    pub client_id: &'a str,
    /// The resource the request names (RFC 8707), if any: it must be the one of the grant, when
    /// the grant has one.
    pub requested_resource: Option<&'a str>,
    pub now: i64,
}

/// What a rotated refresh token's grant was: the new pair continues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpentRefresh {
    pub user_id: UserId,
    pub client_id: ClientId,
    pub scope: String,
    pub family_id: String,
    pub code_hash: Option<String>,
    /// The resource the grant was bound to, if any.
    pub resource: Option<String>,
}

/// Why a refresh token could not be spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Unknown, another client's, revoked or expired.
    Invalid,
    /// Already rotated: two parties hold it, and its family must be revoked.
    Replayed { family_id: String },
    /// The user was disabled by an operator.
    UserDisabled,
    /// The request names another resource than the grant was made for (this one).
    OtherResource { granted: String },
}

/// Spends a refresh token: one `UPDATE` marks it rotated only if it is the client's, neither
/// revoked nor rotated, not expired, its user not disabled and the requested resource fits. When
/// no row was changed, one `SELECT` says why, in the order the checks always had.
pub fn spend_refresh(tx: &Tx<'_>, spend: &RefreshSpend) -> Result<Result<SpentRefresh, RefreshRefusal>, StoreError> {
    let conn = tx.sqlite();
    let spent = conn
        .prepare_cached(
            "UPDATE oauth_tokens SET rotated_at = ?4
              WHERE token_hash = ?1 AND kind = 'refresh' AND client_id = ?2
                AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > ?4
                AND (?3 IS NULL OR resource IS NULL OR resource = ?3)
                AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = oauth_tokens.user_id AND u.disabled_at IS NOT NULL)
              RETURNING user_id, client_id, scope, family_id, code_hash, resource",
        )?
        .query_row(params![spend.token_hash, spend.client_id, spend.requested_resource, spend.now], |r| {
            Ok(SpentRefresh {
                user_id: r.get(0)?,
                client_id: r.get(1)?,
                scope: r.get(2)?,
                family_id: r.get(3)?,
                code_hash: r.get(4)?,
                resource: r.get(5)?,
            })
        })
        .optional()?;
    if let Some(spent) = spent {
        return Ok(Ok(spent));
    }
    let found = conn
        .prepare_cached(
            "SELECT client_id = ?2, revoked_at IS NOT NULL, rotated_at IS NOT NULL, expires_at > ?3,
                    EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id AND u.disabled_at IS NOT NULL),
                    resource, family_id
               FROM oauth_tokens t WHERE token_hash = ?1 AND kind = 'refresh'",
        )?
        .query_row(params![spend.token_hash, spend.client_id, spend.now], |r| {
            Ok(Found {
                own: r.get(0)?,
                revoked: r.get(1)?,
                rotated: r.get(2)?,
                live: r.get(3)?,
                user_disabled: r.get(4)?,
                resource: r.get(5)?,
                family_id: r.get(6)?,
            })
        })
        .optional()?;
    Ok(Err(found.map_or(RefreshRefusal::Invalid, |found| found.refusal(spend.requested_resource))))
}

/// A refresh token that could not be spent, as the classifying `SELECT` finds it.
struct Found {
    own: bool,
    revoked: bool,
    rotated: bool,
    live: bool,
    user_disabled: bool,
    resource: Option<String>,
    family_id: String,
}

impl Found {
    fn refusal(self, requested: Option<&str>) -> RefreshRefusal {
        if !self.own || self.revoked {
            return RefreshRefusal::Invalid;
        }
        if self.rotated {
            return RefreshRefusal::Replayed { family_id: self.family_id };
        }
        if !self.live {
            return RefreshRefusal::Invalid;
        }
        if self.user_disabled {
            return RefreshRefusal::UserDisabled;
        }
        match (self.resource, requested) {
            (Some(granted), Some(requested)) if granted != requested => RefreshRefusal::OtherResource { granted },
            _ => RefreshRefusal::Invalid,
        }
    }
}

/// Revokes a token of `client_id` at `now`: an access token alone, a refresh token with its whole
/// family (the access tokens it produced go too; RFC 7009 2.1). A token of another client, or
/// none, is left alone. One statement.
pub fn revoke(tx: &Tx<'_>, token_hash: &str, client_id: &str, now: i64) -> Result<(), StoreError> {
    tx.sqlite()
        .prepare_cached(
            "UPDATE oauth_tokens SET revoked_at = ?3
              WHERE revoked_at IS NULL
                AND ((token_hash = ?1 AND client_id = ?2)
                     OR family_id IN (SELECT family_id FROM oauth_tokens
                                       WHERE token_hash = ?1 AND client_id = ?2 AND kind = 'refresh'))",
        )?
        .execute(params![token_hash, client_id, now])?;
    Ok(())
}

/// Revokes every token descending from the same grant, at `now`.
pub fn revoke_family(tx: &Tx<'_>, family_id: &str, now: i64) -> Result<(), StoreError> {
    tx.sqlite()
        .prepare_cached("UPDATE oauth_tokens SET revoked_at = ?1 WHERE family_id = ?2 AND revoked_at IS NULL")?
        .execute(params![now, family_id])?;
    Ok(())
}

/// Revokes everything that was issued from an authorization code, at `now` (RFC 6749 4.1.2: a
/// replayed code).
pub fn revoke_issued_by_code(tx: &Tx<'_>, code_hash: &str, now: i64) -> Result<(), StoreError> {
    tx.sqlite()
        .prepare_cached(
            "UPDATE oauth_tokens SET revoked_at = ?1
              WHERE revoked_at IS NULL
                AND family_id IN (SELECT family_id FROM oauth_tokens WHERE code_hash = ?2)",
        )?
        .execute(params![now, code_hash])?;
    Ok(())
}
