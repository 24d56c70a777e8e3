//! The `users` table: the accounts people sign in with. Creating one, finding one (by email for
//! signing in, by id for the console), listing and searching them, and what an operator changes
//! on one: its password hash, the disabled and admin flags, a lifted lockout, removal.
//!
//! [`named`] is the one reading of "an email or a user id" that every operator command and page
//! shares.

use serde::Serialize;

use super::sql::{Sql, SqlRow};
use super::{StoreError, Tx};
use crate::support::ids::UserId;

/// What signing in needs to know about an account.
pub struct Account {
    pub id: UserId,
    pub password_hash: String,
    pub disabled: bool,
    /// When an operator last lifted a sign-in lockout (unix seconds).
    pub unlocked_at: Option<i64>,
    /// May open the operator console.
    pub is_admin: bool,
}

/// An account as `user list` prints it.
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

/// An account as the console's pages show it.
pub struct Profile {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
    pub disabled: bool,
    pub admin: bool,
}

/// What [`remove`] deleted besides the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub todos: usize,
}

/// Stores a new account under `id`; `false` when its email is taken. One statement that cannot
/// fail on the email (`ON CONFLICT DO NOTHING`), so there is no failed insert to undo on either
/// backend. The id is random and new, so the one unique column that can clash is the email.
pub fn insert(tx: &Tx<'_>, id: &str, email: &str, name: &str, password_hash: &str) -> Result<bool, StoreError> {
    let now = tx.now().timestamp();
    Ok(tx.run(&INSERT, &[&id, &email, &name, &password_hash, &now])? == 1)
}

/// `DO NOTHING` on any key: the id, or the email without case (SQLite's `COLLATE NOCASE`,
/// PostgreSQL's unique index on `lower(email)`).
static INSERT: Sql = Sql::new(
    "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
);

/// The id of the user with this email (case-insensitive, trimmed).
pub fn id_of(tx: &Tx<'_>, email: &str) -> Result<Option<UserId>, StoreError> {
    tx.row(&ID_OF, &[&email.trim()], |r| r.get(0))
}

static ID_OF: Sql =
    Sql::each("SELECT id FROM users WHERE email = $1", "SELECT id FROM users WHERE lower(email) = lower($1)");

/// Whom an operator means by `user` (a command's `--user`, the console's user filter): text with
/// an `@` is the email of a user here, and `None` when no user has it; any other text is a user
/// id as it is, which in remote user-info mode (users live on the other server, and have no email
/// here) is the other server's id.
pub fn named(tx: &Tx<'_>, user: &str) -> Result<Option<UserId>, StoreError> {
    let user = user.trim();
    if user.contains('@') { id_of(tx, user) } else { Ok(Some(UserId::new(user))) }
}

/// The account with this email, for signing in.
pub fn find_account(tx: &Tx<'_>, email: &str) -> Result<Option<Account>, StoreError> {
    tx.row(&FIND_ACCOUNT, &[&email.trim()], |r| {
        Ok(Account {
            id: r.get(0)?,
            password_hash: r.get(1)?,
            disabled: r.get(2)?,
            unlocked_at: r.get(3)?,
            is_admin: r.get::<i64>(4)? != 0,
        })
    })
}

static FIND_ACCOUNT: Sql = Sql::each(
    "SELECT id, password_hash, disabled_at IS NOT NULL, unlocked_at, is_admin FROM users WHERE email = $1",
    "SELECT id, password_hash, disabled_at IS NOT NULL, unlocked_at, is_admin FROM users WHERE lower(email) = lower($1)",
);

/// Whether anyone can sign in to the console at all.
pub fn any_admin(tx: &Tx<'_>) -> Result<bool, StoreError> {
    Ok(tx.row(&ANY_ADMIN, &[], |r| r.get(0))?.unwrap_or(false))
}

static ANY_ADMIN: Sql = Sql::new("SELECT EXISTS (SELECT 1 FROM users WHERE is_admin <> 0 AND disabled_at IS NULL)");

/// Every account, oldest first.
pub fn list(tx: &Tx<'_>) -> Result<Vec<UserSummary>, StoreError> {
    tx.rows(&LIST, &[], |r| {
        Ok(UserSummary {
            id: r.get(0)?,
            email: r.get(1)?,
            name: r.get(2)?,
            created_at: r.get(3)?,
            disabled_at: r.get(4)?,
            admin: r.get::<i64>(5)? != 0,
        })
    })
}

static LIST: Sql = Sql::each(
    "SELECT id, email, name, created_at, strftime('%Y-%m-%dT%H:%M:%SZ', disabled_at, 'unixepoch'), is_admin
       FROM users ORDER BY created_at, email",
    "SELECT id, email, name, created_at,
            to_char(to_timestamp(disabled_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), is_admin
       FROM users ORDER BY created_at, email",
);

/// At most `limit` accounts whose email or name contains `q` (without case), by email; all of
/// them for an empty `q`.
pub fn search(tx: &Tx<'_>, q: &str, limit: i64) -> Result<Vec<Profile>, StoreError> {
    tx.rows(&SEARCH, &[&q, &limit], profile)
}

static SEARCH: Sql = Sql::each(
    "SELECT id, email, name, created_at, disabled_at IS NOT NULL, is_admin FROM users
      WHERE $1 = '' OR instr(lower(email), lower($1)) > 0 OR instr(lower(name), lower($1)) > 0
      ORDER BY email LIMIT $2",
    "SELECT id, email, name, created_at, disabled_at IS NOT NULL, is_admin FROM users
      WHERE $1 = '' OR strpos(lower(email), lower($1)) > 0 OR strpos(lower(name), lower($1)) > 0
      ORDER BY email LIMIT $2",
);

/// The account with this id.
pub fn find(tx: &Tx<'_>, user_id: &str) -> Result<Option<Profile>, StoreError> {
    tx.row(&FIND, &[&user_id], profile)
}

static FIND: Sql =
    Sql::new("SELECT id, email, name, created_at, disabled_at IS NOT NULL, is_admin FROM users WHERE id = $1");

fn profile(r: &SqlRow<'_>) -> Result<Profile, StoreError> {
    Ok(Profile {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
        disabled: r.get(4)?,
        admin: r.get::<i64>(5)? != 0,
    })
}

static SET_PASSWORD_HASH: Sql = Sql::new("UPDATE users SET password_hash = $1 WHERE id = $2");

pub fn set_password_hash(tx: &Tx<'_>, user_id: &UserId, password_hash: &str) -> Result<(), StoreError> {
    tx.run(&SET_PASSWORD_HASH, &[&password_hash, user_id])?;
    Ok(())
}

static DISABLE: Sql = Sql::new("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL");

/// Marks the user disabled as of `now`; `false` when they already were.
pub fn disable(tx: &Tx<'_>, user_id: &UserId, now: i64) -> Result<bool, StoreError> {
    Ok(tx.run(&DISABLE, &[&now, user_id])? == 1)
}

static ENABLE: Sql = Sql::new("UPDATE users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL");

/// Clears the disabled mark; `false` when the user was not disabled.
pub fn enable(tx: &Tx<'_>, user_id: &UserId) -> Result<bool, StoreError> {
    Ok(tx.run(&ENABLE, &[user_id])? == 1)
}

static SET_ADMIN: Sql = Sql::new("UPDATE users SET is_admin = $1 WHERE id = $2 AND is_admin <> $1");

/// Sets the admin flag; `false` when it already was so. The flag is 0
/// or 1 on both backends (a BIGINT on PostgreSQL), so it is bound as an integer.
pub fn set_admin(tx: &Tx<'_>, user_id: &UserId, admin: bool) -> Result<bool, StoreError> {
    Ok(tx.run(&SET_ADMIN, &[&i64::from(admin), user_id])? == 1)
}

static UNLOCK: Sql = Sql::new("UPDATE users SET unlocked_at = $1 WHERE id = $2");

/// Records that an operator lifted the user's sign-in lockout at `now`.
pub fn unlock(tx: &Tx<'_>, user_id: &UserId, now: i64) -> Result<(), StoreError> {
    tx.run(&UNLOCK, &[&now, user_id])?;
    Ok(())
}

static REMOVE_TODOS: Sql = Sql::new("DELETE FROM todos WHERE user_id = $1");
static REMOVE_USAGE: Sql = Sql::new("DELETE FROM api_usage WHERE user_id = $1");
static REMOVE_USER: Sql = Sql::new("DELETE FROM users WHERE id = $1");

/// Deletes the user, their todos, counters, tokens, codes and sessions (those three by ON DELETE
/// CASCADE). The call log keeps its rows: they record what happened, and name the user only by id.
pub fn remove(tx: &Tx<'_>, user_id: &UserId) -> Result<Removed, StoreError> {
    let todos = tx.run(&REMOVE_TODOS, &[user_id])?;
    tx.run(&REMOVE_USAGE, &[user_id])?;
    tx.run(&REMOVE_USER, &[user_id])?;
    Ok(Removed { todos: todos as usize })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::file::Missing;
    use crate::store::{Commit, Store};

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open_direct(&dir.path().join("accounts.db"), Missing::Create).unwrap()
    }

    #[test]
    fn a_taken_email_is_the_jobs_value_and_the_transaction_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let inserted = store
            .write_now(Commit::OnOk, |tx| {
                Ok([
                    insert(tx, "u1", "ann@example.com", "Ann", "hash")?,
                    insert(tx, "u2", "ANN@example.com", "Ann again", "hash")?,
                    insert(tx, "u3", "ben@example.com", "Ben", "hash")?,
                ])
            })
            .unwrap();
        assert_eq!(inserted, [true, false, true], "the second has the first's email, without case");
        let names = store.read_now(|tx| Ok(list(tx)?.into_iter().map(|u| u.name).collect::<Vec<_>>())).unwrap();
        assert_eq!(names, ["Ann", "Ben"]);
    }

    #[test]
    fn an_email_names_a_user_here_and_other_text_is_a_user_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        store.write_now(Commit::OnOk, |tx| insert(tx, "u1", "ann@example.com", "Ann", "hash")).unwrap();
        let named = |user: &str| store.read_now(|tx| named(tx, user)).unwrap();
        assert_eq!(named(" Ann@Example.com "), Some(UserId::new("u1")));
        assert_eq!(named("nobody@example.com"), None, "an email nobody here has names no one");
        assert_eq!(named("auth0|42"), Some(UserId::new("auth0|42")), "a remote user id is taken as it is");
    }
}
