//! Issuing bearer tokens. Only the SHA-256 of a token is stored; the token itself is returned
//! once, to be handed to the client.

use std::time::Duration;

use rusqlite::{Connection, params};

use crate::clock::unix_now;
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
    pub user_id: &'a str,
    pub client_id: &'a str,
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
