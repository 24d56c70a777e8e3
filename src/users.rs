//! People who can sign in: creating them (CLI and sign-up page share this) and finding them.

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::secrets::{hash_password, random_id};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Creates a user and returns the id. The error is a sentence meant for a person.
pub fn create(conn: &Connection, email: &str, name: &str, password: &str) -> Result<String, String> {
    insert(conn, &NewUser::prepare(email, name, password)?)
}

/// A checked user with the password already hashed. Hashing is slow on purpose, so the server
/// does it before queueing the insert for the single database writer, not on it.
pub struct NewUser {
    email: String,
    name: String,
    password_hash: String,
}

impl NewUser {
    pub fn prepare(email: &str, name: &str, password: &str) -> Result<NewUser, String> {
        let email = valid_email(email)?;
        Ok(NewUser { email, name: name.trim().to_owned(), password_hash: hash_new_password(password)? })
    }
}

/// Checks a new password's length and hashes it (slowly, on purpose).
pub fn hash_new_password(password: &str) -> Result<String, String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(format!("the password must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(format!("the password must have at most {MAX_PASSWORD_CHARS} characters"));
    }
    hash_password(password)
}

/// Stores a prepared user and returns the id.
pub fn insert(conn: &Connection, user: &NewUser) -> Result<String, String> {
    let id = random_id();
    match conn.execute(
        "INSERT INTO users (id, email, name, password_hash) VALUES (?1, ?2, ?3, ?4)",
        params![id, user.email, user.name, user.password_hash],
    ) {
        Ok(_) => Ok(id),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            Err(format!("a user with email {} already exists", user.email))
        }
        Err(e) => Err(format!("cannot add the user: {e}")),
    }
}

/// A trimmed address with one `@` and something on each side; the real check is signing in.
pub fn valid_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') && email.len() <= 254 =>
        {
            Ok(email.to_owned())
        }
        _ => Err(format!("'{email}' is not an email address")),
    }
}

/// The id and password hash of the user with this email (case-insensitive).
pub fn find_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached("SELECT id, password_hash FROM users WHERE email = ?1")?
        .query_row([email.trim()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// What signing in needs to know about an account.
pub struct Account {
    pub id: String,
    pub password_hash: String,
    pub disabled: bool,
    /// When an operator last lifted a sign-in lockout (unix seconds).
    pub unlocked_at: Option<i64>,
}

pub fn find_account(conn: &Connection, email: &str) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached("SELECT id, password_hash, disabled_at IS NOT NULL, unlocked_at FROM users WHERE email = ?1")?
        .query_row([email.trim()], |r| {
            Ok(Account { id: r.get(0)?, password_hash: r.get(1)?, disabled: r.get(2)?, unlocked_at: r.get(3)? })
        })
        .optional()
}

/// A disabled user gets no new tokens (and the ones they have stop working).
pub fn is_disabled(conn: &Connection, user_id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND disabled_at IS NOT NULL)")?
        .query_row([user_id], |r| r.get(0))
}
