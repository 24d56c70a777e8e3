//! Every statement on `oauth_tokens`: issuing access and refresh tokens, finding them, rotating
//! and revoking them. Only the SHA-256 of a token is stored; the token itself is returned once,
//! to be handed to the client, and looked up by its hash.
//!
//! A refresh token is spent by one conditional `UPDATE … RETURNING` ([`spend_refresh`]), so of
//! two requests presenting it, on any number of writers, exactly one rotates it; the other finds
//! it rotated, which is a replay.

use std::time::Duration;

use super::sql::Sql;
use super::{StoreError, Tx};
use crate::support::ids::{ClientId, UserId};
use crate::support::secrets::{hash_secret, random_secret};

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
    let now = tx.now().timestamp();
    tx.run(
        &ISSUE,
        &[
            &token.hash,
            &token.kind.as_str(),
            grant.client_id,
            grant.user_id,
            &grant.scope,
            &grant.family_id,
            &grant.code_hash,
            &expires_at,
            &grant.resource,
            &now,
        ],
    )?;
    Ok(())
}

static ISSUE: Sql = Sql::new(
    "INSERT INTO oauth_tokens
       (token_hash, kind, client_id, user_id, scope, family_id, code_hash, expires_at, resource, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
);

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
    tx.row(&FIND_ACCESS, &[&token_hash, &tx.now().unix()], |row| {
        Ok(TokenOwner {
            user_id: row.get(0)?,
            client_id: row.get(1)?,
            email: row.get(2)?,
            name: row.get(3)?,
            resource: row.get(4)?,
        })
    })
}

static FIND_ACCESS: Sql = Sql::new(
    "SELECT t.user_id, t.client_id, u.email, u.name, t.resource
       FROM oauth_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.kind = 'access'
        AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.disabled_at IS NULL",
);

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
    let spent =
        tx.row(&SPEND_REFRESH, &[&spend.token_hash, &spend.client_id, &spend.requested_resource, &spend.now], |r| {
            Ok(SpentRefresh {
                user_id: r.get(0)?,
                client_id: r.get(1)?,
                scope: r.get(2)?,
                family_id: r.get(3)?,
                code_hash: r.get(4)?,
                resource: r.get(5)?,
            })
        })?;
    if let Some(spent) = spent {
        return Ok(Ok(spent));
    }
    let found = tx.row(&CLASSIFY_REFRESH, &[&spend.token_hash, &spend.client_id, &spend.now], |r| {
        Ok(Found {
            own: r.get(0)?,
            revoked: r.get(1)?,
            rotated: r.get(2)?,
            live: r.get(3)?,
            user_disabled: r.get(4)?,
            resource: r.get(5)?,
            family_id: r.get(6)?,
        })
    })?;
    Ok(Err(found.map_or(RefreshRefusal::Invalid, |found| found.refusal(spend.requested_resource))))
}

static SPEND_REFRESH: Sql = Sql::new(
    "UPDATE oauth_tokens SET rotated_at = $4
      WHERE token_hash = $1 AND kind = 'refresh' AND client_id = $2
        AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > $4
        AND (CAST($3 AS TEXT) IS NULL OR resource IS NULL OR resource = $3)
        AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = oauth_tokens.user_id AND u.disabled_at IS NOT NULL)
      RETURNING user_id, client_id, scope, family_id, code_hash, resource",
);

/// Booleans on PostgreSQL, 0/1 on SQLite: both drivers read either as `bool`.
static CLASSIFY_REFRESH: Sql = Sql::new(
    "SELECT client_id = $2, revoked_at IS NOT NULL, rotated_at IS NOT NULL, expires_at > $3,
            EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id AND u.disabled_at IS NOT NULL),
            resource, family_id
       FROM oauth_tokens t WHERE token_hash = $1 AND kind = 'refresh'",
);

/// Rotates a refresh token: spends it ([`spend_refresh`]) and issues `pair` in its family, bound
/// to the requested resource or else the grant's. Presenting one that was already rotated means
/// two parties hold it: the whole family is revoked (at `spend.now`), and that revocation is part
/// of the `Ok` outcome, so it commits under `Commit::OnOk` while the answer is a refusal.
pub fn rotate_refresh(
    tx: &Tx<'_>,
    spend: &RefreshSpend,
    pair: &NewPair,
) -> Result<Result<SpentRefresh, RefreshRefusal>, StoreError> {
    let spent = match spend_refresh(tx, spend)? {
        Ok(spent) => spent,
        Err(RefreshRefusal::Replayed { family_id }) => {
            revoke_family(tx, &family_id, spend.now)?;
            return Ok(Err(RefreshRefusal::Replayed { family_id }));
        }
        Err(refusal) => return Ok(Err(refusal)),
    };
    let grant = Grant {
        user_id: &spent.user_id,
        client_id: &spent.client_id,
        scope: &spent.scope,
        family_id: &spent.family_id,
        code_hash: spent.code_hash.as_deref(),
        resource: spend.requested_resource.or(spent.resource.as_deref()),
    };
    issue_pair(tx, pair, &grant)?;
    Ok(Ok(spent))
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
    tx.run(&REVOKE, &[&token_hash, &client_id, &now])?;
    Ok(())
}

static REVOKE: Sql = Sql::new(
    "UPDATE oauth_tokens SET revoked_at = $3
      WHERE revoked_at IS NULL
        AND ((token_hash = $1 AND client_id = $2)
             OR family_id IN (SELECT family_id FROM oauth_tokens
                               WHERE token_hash = $1 AND client_id = $2 AND kind = 'refresh'))",
);

/// Revokes every token descending from the same grant, at `now`.
pub fn revoke_family(tx: &Tx<'_>, family_id: &str, now: i64) -> Result<(), StoreError> {
    tx.run(&REVOKE_FAMILY, &[&now, &family_id])?;
    Ok(())
}

static REVOKE_FAMILY: Sql =
    Sql::new("UPDATE oauth_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL");

/// Revokes everything that was issued from an authorization code, at `now` (RFC 6749 4.1.2: a
/// replayed code).
pub fn revoke_issued_by_code(tx: &Tx<'_>, code_hash: &str, now: i64) -> Result<(), StoreError> {
    tx.run(&REVOKE_BY_CODE, &[&now, &code_hash])?;
    Ok(())
}

static REVOKE_BY_CODE: Sql = Sql::new(
    "UPDATE oauth_tokens SET revoked_at = $1
      WHERE revoked_at IS NULL
        AND family_id IN (SELECT family_id FROM oauth_tokens WHERE code_hash = $2)",
);

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::store::oauth_fixture::Fixture;
    use crate::store::sqlite::file::Missing;
    use crate::store::test_stores::on_both_backends;
    use crate::store::{Commit, Store};
    use crate::support::clock::unix_now;

    const FAMILY: &str = "family-1";
    const MCP: &str = "https://t.example/mcp";

    /// Issues a refresh token (bound to `resource`) and an access token in [`FAMILY`], valid for an
    /// hour; returns the refresh token's hash.
    async fn issue_family(fixture: &Fixture, resource: Option<&'static str>) -> String {
        let (user_id, client_id) = (fixture.user_id.clone(), ClientId::new(fixture.client_id.as_str()));
        let (refresh, access) = (NewToken::new(Kind::Refresh), NewToken::new(Kind::Access));
        let refresh_hash = refresh.hash.clone();
        let expires = unix_now() + 3600;
        let job = move |tx: &mut Tx<'_>| {
            let grant = Grant {
                user_id: &user_id,
                client_id: &client_id,
                scope: "todos",
                family_id: FAMILY,
                code_hash: None,
                resource,
            };
            issue(tx, &refresh, &grant, expires)?;
            issue(tx, &access, &grant, expires)
        };
        fixture.store.write(Commit::OnOk, job).await.expect("issue a family");
        refresh_hash
    }

    /// The rotation job the token endpoint runs, for `client_id`, with a new pair.
    fn rotation(
        token_hash: &str,
        client_id: &str,
        requested_resource: Option<&'static str>,
    ) -> (
        impl Fn(&mut Tx<'_>) -> Result<Result<SpentRefresh, RefreshRefusal>, StoreError> + Send + Sync + 'static,
        String,
    ) {
        let (token_hash, client_id, now) = (token_hash.to_owned(), client_id.to_owned(), unix_now());
        let pair = NewPair::new(now, Duration::from_secs(3600), Duration::from_secs(86_400));
        let new_access = pair.access.hash.clone();
        let job = move |tx: &mut Tx<'_>| {
            let spend = RefreshSpend { token_hash: &token_hash, client_id: &client_id, requested_resource, now };
            rotate_refresh(tx, &spend, &pair)
        };
        (job, new_access)
    }

    async fn live_access(fixture: &Fixture, access_hash: String) -> Option<TokenOwner> {
        fixture.store.read(move |tx| find_access(tx, &access_hash)).await.expect("find_access")
    }

    /// The family's tokens not revoked. (Housekeeping on the writer may delete revoked ones at any
    /// time, so the tests count what is left alive.)
    async fn unrevoked_in_family(fixture: &Fixture) -> i64 {
        fixture.count("SELECT count(*) FROM oauth_tokens WHERE family_id = 'family-1' AND revoked_at IS NULL").await
    }

    on_both_backends!(
        a_wrong_client_or_resource_cannot_spend_a_refresh_token_the_right_one_rotates_it_once,
        |backend| async move {
            let fixture = Fixture::on(backend).await;
            let refresh_hash = issue_family(&fixture, Some(MCP)).await;
            let (wrong_client, _) = rotation(&refresh_hash, &fixture.other_client_id, None);
            assert_eq!(fixture.store.write(Commit::OnOk, wrong_client).await.unwrap(), Err(RefreshRefusal::Invalid));
            let (wrong_resource, _) = rotation(&refresh_hash, &fixture.client_id, Some("https://t.example"));
            let refused = fixture.store.write(Commit::OnOk, wrong_resource).await.unwrap();
            assert_eq!(refused, Err(RefreshRefusal::OtherResource { granted: MCP.into() }));
            assert_eq!(fixture.count("SELECT count(*) FROM oauth_tokens WHERE rotated_at IS NOT NULL").await, 0);

            let (right, new_access) = rotation(&refresh_hash, &fixture.client_id, None);
            let spent = fixture.store.write(Commit::OnOk, right).await.unwrap().expect("the right client rotates it");
            assert_eq!((spent.family_id.as_str(), spent.resource.as_deref()), (FAMILY, Some(MCP)));
            let owner = live_access(&fixture, new_access).await.expect("the new access token works");
            assert_eq!(owner.resource.as_deref(), Some(MCP), "the new pair keeps the grant's resource");
            assert_eq!(fixture.count("SELECT count(*) FROM oauth_tokens WHERE family_id = 'family-1'").await, 4);
        }
    );

    on_both_backends!(
        of_two_racing_rotations_on_the_servers_writer_one_wins_and_the_replay_revokes_the_family,
        |backend| async move {
            let fixture = Fixture::on(backend).await;
            let refresh_hash = issue_family(&fixture, None).await;
            let (first, first_access) = rotation(&refresh_hash, &fixture.client_id, None);
            let (second, second_access) = rotation(&refresh_hash, &fixture.client_id, None);
            let (first, second) =
                tokio::join!(fixture.store.write(Commit::OnOk, first), fixture.store.write(Commit::OnOk, second));
            let outcomes = [first.unwrap(), second.unwrap()];
            assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "exactly one rotates it: {outcomes:?}");
            let replay = RefreshRefusal::Replayed { family_id: FAMILY.into() };
            assert!(outcomes.contains(&Err(replay)), "the other is a replay: {outcomes:?}");
            // The replay revoked the whole family, the winner's new pair too, and it was committed.
            assert_eq!(unrevoked_in_family(&fixture).await, 0);
            assert_eq!(live_access(&fixture, first_access).await, None);
            assert_eq!(live_access(&fixture, second_access).await, None);
        }
    );

    #[tokio::test]
    async fn of_two_racing_rotations_on_two_connections_one_wins_and_the_replay_revokes_the_family() {
        let fixture = Fixture::new().await;
        let refresh_hash = issue_family(&fixture, None).await;
        let start = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                // Two writers, as two instances would be: each its own connection and transaction.
                let store = Store::open_direct(fixture.path.as_ref().expect("SQLite"), Missing::Refuse)
                    .expect("a second writer");
                let (job, _) = rotation(&refresh_hash, &fixture.client_id, None);
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    store.write_now(Commit::OnOk, job).expect("the rotation job")
                })
            })
            .collect();
        let outcomes: Vec<_> = racers.into_iter().map(|racer| racer.join().expect("a racer")).collect();
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "exactly one rotates it: {outcomes:?}");
        assert!(outcomes.contains(&Err(RefreshRefusal::Replayed { family_id: FAMILY.into() })), "{outcomes:?}");
        assert_eq!(unrevoked_in_family(&fixture).await, 0, "the family is revoked, the winner's pair too");
    }

    on_both_backends!(
        an_expired_refresh_token_is_invalid_and_revokes_nothing_a_revoked_one_is_invalid,
        |backend| async move {
            let fixture = Fixture::on(backend).await;
            let refresh_hash = issue_family(&fixture, None).await;
            let hash = refresh_hash.clone();
            let expire = move |tx: &mut Tx<'_>| {
                tx.execute("UPDATE oauth_tokens SET expires_at = 0 WHERE token_hash = $1", &[hash.as_str().into()])
            };
            fixture.store.write(Commit::OnOk, expire).await.unwrap();
            let (expired, _) = rotation(&refresh_hash, &fixture.client_id, None);
            assert_eq!(fixture.store.write(Commit::OnOk, expired).await.unwrap(), Err(RefreshRefusal::Invalid));
            let live_access = "SELECT count(*) FROM oauth_tokens WHERE kind = 'access' AND revoked_at IS NULL";
            assert_eq!(fixture.count(live_access).await, 1, "an expired token is no replay: its family stays");

            let fixture = Fixture::on(backend).await;
            let refresh_hash = issue_family(&fixture, None).await;
            let (client_id, now) = (fixture.client_id.clone(), unix_now());
            let hash = refresh_hash.clone();
            fixture.store.write(Commit::OnOk, move |tx| revoke(tx, &hash, &client_id, now)).await.unwrap();
            assert_eq!(unrevoked_in_family(&fixture).await, 0, "revoking a refresh token revokes its family");
            let (revoked, _) = rotation(&refresh_hash, &fixture.client_id, None);
            assert_eq!(fixture.store.write(Commit::OnOk, revoked).await.unwrap(), Err(RefreshRefusal::Invalid));
        }
    );
}
