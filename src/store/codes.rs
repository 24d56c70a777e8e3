//! Every statement on `oauth_codes`: storing an authorization code (only its hash) and spending
//! it. A code is spent by one conditional `UPDATE … RETURNING` that matches the client, the
//! redirect URI and the PKCE challenge as well as the code ([`spend`]): a request that gets any of
//! them wrong changes nothing, so it can never burn a valid code, and of two requests that get all
//! of them right exactly one spends it, on any number of writers.

use super::sql::Sql;
use super::{StoreError, Tx};
use crate::support::ids::{ClientId, UserId};

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

static ISSUE: Sql = Sql::new(
    "INSERT INTO oauth_codes
       (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, expires_at, resource, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
);

pub fn issue(tx: &Tx<'_>, code: &IssuedCode) -> Result<(), StoreError> {
    let now = tx.now().timestamp();
    tx.run(
        &ISSUE,
        &[
            &code.code_hash,
            &code.client_id,
            code.user_id,
            &code.redirect_uri,
            &code.scope,
            &code.code_challenge,
            &code.expires_at,
            &code.resource,
            &now,
        ],
    )?;
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
    let spent = tx.row(
        &SPEND,
        &[
            &spend.code_hash,
            &spend.client_id,
            &spend.redirect_uri,
            &spend.verifier_s256,
            &spend.requested_resource,
            &spend.now,
        ],
        |r| Ok(SpentCode { user_id: r.get(0)?, client_id: r.get(1)?, scope: r.get(2)?, resource: r.get(3)? }),
    )?;
    if let Some(spent) = spent {
        return Ok(Ok(spent));
    }
    let found = tx.row(&CLASSIFY, &[&spend.code_hash, &spend.client_id, &spend.now, &spend.redirect_uri], |r| {
        Ok(Found {
            own: r.get(0)?,
            used: r.get(1)?,
            live: r.get(2)?,
            user_disabled: r.get(3)?,
            same_redirect_uri: r.get(4)?,
            code_challenge: r.get(5)?,
            resource: r.get(6)?,
        })
    })?;
    Ok(Err(found.map_or(CodeRefusal::Invalid, |found| found.refusal(spend))))
}

static SPEND: Sql = Sql::new(
    "UPDATE oauth_codes SET used_at = $6
      WHERE code_hash = $1 AND client_id = $2 AND redirect_uri = $3
        AND expires_at > $6 AND used_at IS NULL
        AND (code_challenge = $4 OR (code_challenge IS NULL AND $4 IS NULL))
        AND (CAST($5 AS TEXT) IS NULL OR resource IS NULL OR resource = $5)
        AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = oauth_codes.user_id AND u.disabled_at IS NOT NULL)
      RETURNING user_id, client_id, scope, resource",
);

/// Booleans on PostgreSQL, 0/1 on SQLite: both drivers read either as `bool`.
static CLASSIFY: Sql = Sql::new(
    "SELECT client_id = $2, used_at IS NOT NULL, expires_at > $3,
            EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id AND u.disabled_at IS NOT NULL),
            redirect_uri = $4, code_challenge, resource
       FROM oauth_codes c WHERE code_hash = $1",
);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Commit;
    use crate::store::oauth_fixture::{Fixture, REDIRECT_URI};
    use crate::store::test_stores::on_both_backends;
    use crate::support::clock::unix_now;
    use crate::support::secrets::pkce_s256;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CODE_HASH: &str = "hash-of-the-code";

    /// Stores a code with the S256 challenge of [`VERIFIER`], valid until `expires_at`.
    async fn issue_code(fixture: &Fixture, code_hash: &'static str, expires_at: i64) {
        let (client_id, user_id, challenge) = (fixture.client_id.clone(), fixture.user_id.clone(), pkce_s256(VERIFIER));
        let code = move |tx: &mut Tx<'_>| {
            issue(
                tx,
                &IssuedCode {
                    code_hash,
                    client_id: &client_id,
                    user_id: &user_id,
                    redirect_uri: REDIRECT_URI,
                    scope: "todos",
                    code_challenge: Some(&challenge),
                    expires_at,
                    resource: None,
                },
            )
        };
        fixture.store.write(Commit::OnOk, code).await.expect("issue a code");
    }

    /// One token request's spend, in a write job of its own.
    async fn spend_as(
        fixture: &Fixture,
        code_hash: &str,
        client_id: &str,
        redirect_uri: &str,
        verifier_s256: Option<String>,
    ) -> Result<SpentCode, CodeRefusal> {
        let (code_hash, client_id, redirect_uri, now) =
            (code_hash.to_owned(), client_id.to_owned(), redirect_uri.to_owned(), unix_now());
        let job = move |tx: &mut Tx<'_>| {
            let request = CodeSpend {
                code_hash: &code_hash,
                client_id: &client_id,
                redirect_uri: &redirect_uri,
                verifier_s256: verifier_s256.as_deref(),
                requested_resource: None,
                now,
            };
            spend(tx, &request)
        };
        fixture.store.write(Commit::OnOk, job).await.expect("the spend job")
    }

    async fn unused(fixture: &Fixture) -> i64 {
        fixture.count("SELECT count(*) FROM oauth_codes WHERE used_at IS NULL").await
    }

    on_both_backends!(
        a_wrong_client_redirect_or_verifier_cannot_burn_a_code_the_right_request_spends_it_once,
        |backend| async move {
            let fixture = Fixture::on(backend).await;
            issue_code(&fixture, CODE_HASH, unix_now() + 300).await;
            let right = Some(pkce_s256(VERIFIER));
            let other = fixture.other_client_id.clone();

            let wrong_client = spend_as(&fixture, CODE_HASH, &other, REDIRECT_URI, right.clone()).await;
            assert_eq!(wrong_client, Err(CodeRefusal::Invalid), "another client's request");
            let wrong_redirect =
                spend_as(&fixture, CODE_HASH, &fixture.client_id, "https://evil.example/cb", right.clone());
            assert_eq!(wrong_redirect.await, Err(CodeRefusal::OtherRedirectUri));
            let another_verifier = Some(pkce_s256("another-verifier-of-the-right-length-0123456789"));
            for verifier in [another_verifier, None, Some(String::new())] {
                let wrong = spend_as(&fixture, CODE_HASH, &fixture.client_id, REDIRECT_URI, verifier.clone()).await;
                assert_eq!(wrong, Err(CodeRefusal::WrongVerifier), "verifier {verifier:?}");
            }
            assert_eq!(unused(&fixture).await, 1, "no refused request spent the code");

            let spent = spend_as(&fixture, CODE_HASH, &fixture.client_id, REDIRECT_URI, right.clone()).await;
            let expected = SpentCode {
                user_id: fixture.user_id.clone(),
                client_id: ClientId::new(fixture.client_id.as_str()),
                scope: "todos".into(),
                resource: None,
            };
            assert_eq!(spent, Ok(expected), "the right request spends it");
            assert_eq!(unused(&fixture).await, 0);
            let again = spend_as(&fixture, CODE_HASH, &fixture.client_id, REDIRECT_URI, right.clone()).await;
            assert_eq!(again, Err(CodeRefusal::Replayed), "a second spend is a replay");
            let other_again = spend_as(&fixture, CODE_HASH, &other, REDIRECT_URI, right).await;
            assert_eq!(other_again, Err(CodeRefusal::Invalid), "another client learns nothing of the replay");
        }
    );

    on_both_backends!(
        an_expired_or_unknown_code_is_invalid_and_two_racing_spends_of_one_code_spend_it_once,
        |backend| async move {
            let fixture = Fixture::on(backend).await;
            let right = Some(pkce_s256(VERIFIER));
            issue_code(&fixture, "expired", unix_now() - 1).await;
            let expired = spend_as(&fixture, "expired", &fixture.client_id, REDIRECT_URI, right.clone()).await;
            assert_eq!(expired, Err(CodeRefusal::Invalid));
            let unknown = spend_as(&fixture, "unknown", &fixture.client_id, REDIRECT_URI, right.clone()).await;
            assert_eq!(unknown, Err(CodeRefusal::Invalid));

            issue_code(&fixture, CODE_HASH, unix_now() + 300).await;
            let (first, second) = tokio::join!(
                spend_as(&fixture, CODE_HASH, &fixture.client_id, REDIRECT_URI, right.clone()),
                spend_as(&fixture, CODE_HASH, &fixture.client_id, REDIRECT_URI, right.clone()),
            );
            let outcomes = [first, second];
            assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "exactly one spends it: {outcomes:?}");
            assert!(outcomes.contains(&Err(CodeRefusal::Replayed)), "the other is a replay: {outcomes:?}");
        }
    );
}
