//! Every statement on `oauth_codes`: storing an authorization code (only its hash) and spending
//! it. A code is spent by one conditional `UPDATE … RETURNING` that matches the client, the
//! redirect URI and the PKCE challenge as well as the code ([`spend`]): a request that gets any of
//! them wrong changes nothing, so it can never burn a valid code, and of two requests that get all
//! of them right exactly one spends it, on any number of writers.

use rusqlite::{OptionalExtension, params};

use super::{StoreError, Tx};
use crate::ids::{ClientId, UserId};

/// A code to store: its hash, and what it was issued for.
pub struct IssuedCode<'a> {
    pub code_hash: &'a str,
    pub client_id: &'a str,
    pub user_id: &'a UserId,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    /// The PKCE S256 challenge of the authorization request, if it had one.
    pub code_challenge: Option<&'a str>,
    pub expires_at: i64,
    /// The resource the tokens will be bound to (RFC 8707), if the request named one.
    pub resource: Option<&'a str>,
}

pub fn issue(tx: &Tx<'_>, code: &IssuedCode) -> Result<(), StoreError> {
    tx.sqlite()
        .prepare_cached(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, expires_at, resource)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            code.code_hash,
            code.client_id,
            code.user_id,
            code.redirect_uri,
            code.scope,
            code.code_challenge,
            code.expires_at,
            code.resource,
        ])?;
    Ok(())
}

/// A token request's code, with everything it must match, as of `now` (unix seconds).
pub struct CodeSpend<'a> {
    pub code_hash: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    /// BASE64URL(SHA-256(code_verifier)), computed before the job; an empty string for a
    /// `code_verifier` that is not one (RFC 7636 4.1), which then matches no challenge; `None`
    /// when none was sent.
    pub verifier_s256: Option<&'a str>,
    /// The resource the token request names (RFC 8707), if any.
    pub requested_resource: Option<&'a str>,
    pub now: i64,
}

/// What a spent code was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpentCode {
    pub user_id: UserId,
    pub client_id: ClientId,
    pub scope: String,
    /// The resource the authorization request named, if any.
    pub resource: Option<String>,
}

/// Why a code could not be spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Unknown, another client's, or expired.
    Invalid,
    /// Already spent: what it issued must be revoked (RFC 6749 4.1.2).
    Replayed,
    /// The user was disabled by an operator.
    UserDisabled,
    /// The redirect URI differs from the authorization request's.
    OtherRedirectUri,
    /// The request had a challenge, and the verifier is missing, malformed or does not match it.
    WrongVerifier,
    /// A verifier was sent, but the authorization request had no challenge.
    UnexpectedVerifier,
    /// The token request names another resource than the code was for (this one).
    OtherResource { granted: String },
}

/// Spends a code: one `UPDATE` marks it used only if the client, the redirect URI, the PKCE
/// challenge and the resource match, it is unexpired, unused and its user not disabled. When no
/// row was changed, one `SELECT` says why, in the order the checks always had (a replay is only
/// recognised for the code's own client). The challenge is compared in SQL, not in constant
/// time: it is no secret (it travelled in the authorization request's URL), the verifier is, and
/// only its hash reaches the statement.
pub fn spend(tx: &Tx<'_>, spend: &CodeSpend) -> Result<Result<SpentCode, CodeRefusal>, StoreError> {
    let conn = tx.sqlite();
    let spent = conn
        .prepare_cached(
            "UPDATE oauth_codes SET used_at = ?6
              WHERE code_hash = ?1 AND client_id = ?2 AND redirect_uri = ?3
                AND expires_at > ?6 AND used_at IS NULL
                AND (code_challenge = ?4 OR (code_challenge IS NULL AND ?4 IS NULL))
                AND (?5 IS NULL OR resource IS NULL OR resource = ?5)
                AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = oauth_codes.user_id AND u.disabled_at IS NOT NULL)
              RETURNING user_id, client_id, scope, resource",
        )?
        .query_row(
            params![
                spend.code_hash,
                spend.client_id,
                spend.redirect_uri,
                spend.verifier_s256,
                spend.requested_resource,
                spend.now
            ],
            |r| Ok(SpentCode { user_id: r.get(0)?, client_id: r.get(1)?, scope: r.get(2)?, resource: r.get(3)? }),
        )
        .optional()?;
    if let Some(spent) = spent {
        return Ok(Ok(spent));
    }
    let found = conn
        .prepare_cached(
            "SELECT client_id = ?2, used_at IS NOT NULL, expires_at > ?3,
                    EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id AND u.disabled_at IS NOT NULL),
                    redirect_uri = ?4, code_challenge, resource
               FROM oauth_codes c WHERE code_hash = ?1",
        )?
        .query_row(params![spend.code_hash, spend.client_id, spend.now, spend.redirect_uri], |r| {
            Ok(Found {
                own: r.get(0)?,
                used: r.get(1)?,
                live: r.get(2)?,
                user_disabled: r.get(3)?,
                same_redirect_uri: r.get(4)?,
                code_challenge: r.get(5)?,
                resource: r.get(6)?,
            })
        })
        .optional()?;
    Ok(Err(found.map_or(CodeRefusal::Invalid, |found| found.refusal(spend))))
}

/// A code that could not be spent, as the classifying `SELECT` finds it.
struct Found {
    own: bool,
    used: bool,
    live: bool,
    user_disabled: bool,
    same_redirect_uri: bool,
    code_challenge: Option<String>,
    resource: Option<String>,
}

impl Found {
    fn refusal(self, spend: &CodeSpend) -> CodeRefusal {
        if !self.own {
            return CodeRefusal::Invalid;
        }
        if self.used {
            return CodeRefusal::Replayed;
        }
        if !self.live {
            return CodeRefusal::Invalid;
        }
        if self.user_disabled {
            return CodeRefusal::UserDisabled;
        }
        if !self.same_redirect_uri {
            return CodeRefusal::OtherRedirectUri;
        }
        match (self.code_challenge.as_deref(), spend.verifier_s256) {
            (Some(challenge), Some(computed)) if challenge == computed => {}
            (Some(_), _) => return CodeRefusal::WrongVerifier,
            (None, Some(_)) => return CodeRefusal::UnexpectedVerifier,
            // Authorization requests of public clients always carry a challenge; this is a confidential one.
            (None, None) => {}
        }
        match (self.resource, spend.requested_resource) {
            (Some(granted), Some(requested)) if granted != requested => CodeRefusal::OtherResource { granted },
            _ => CodeRefusal::Invalid,
        }
    }
}
