//! People who can sign in: creating them (CLI and sign-up page share this) and finding them.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::DbError;
use crate::ids::UserId;
use crate::secrets::{HashMemory, hash_password_in, random_id};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The longest address SMTP can deliver to (RFC 5321 §4.5.3.1, as errata 1690 reads it).
pub const MAX_EMAIL_BYTES: usize = 254;
pub const MAX_NAME_CHARS: usize = 200;

/// Creates a user and returns the id.
pub fn create(conn: &Connection, email: &str, name: &str, password: &str) -> Result<String, CreateUserError> {
    let user = NewUser::prepare(&mut HashMemory::default(), email, name, password).map_err(CreateUserError::Invalid)?;
    insert(conn, &user)
}

/// Why a user was not created. The first two are the person's to fix (the CLI prints them, the
/// sign-up page answers them); a database failure is the server's, and is never shown as a
/// form error.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// A sentence fragment saying what is wrong with the email, name or password.
    #[error("{0}")]
    Invalid(String),
    #[error("a user with email {0} already exists")]
    EmailTaken(String),
    #[error("cannot add the user: {0}")]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for CreateUserError {
    fn from(e: rusqlite::Error) -> CreateUserError {
        CreateUserError::Db(e.into())
    }
}

/// A checked user with the password already hashed. Hashing is slow on purpose, so the server
/// does it before queueing the insert for the single database writer, not on it.
pub struct NewUser {
    email: String,
    name: String,
    password_hash: String,
}

impl NewUser {
    /// Checks the fields and hashes the password in `memory`.
    pub fn prepare(memory: &mut HashMemory, email: &str, name: &str, password: &str) -> Result<NewUser, String> {
        let email = valid_email(email)?;
        Ok(NewUser { email, name: valid_name(name)?, password_hash: hash_new_password(memory, password)? })
    }
}

/// Checks a new password's length and hashes it (slowly, on purpose) in `memory`.
pub fn hash_new_password(memory: &mut HashMemory, password: &str) -> Result<String, String> {
    check_new_password(password)?;
    hash_password_in(memory, password)
}

/// A new password's length, checked before anything costs a hash.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(format!("the password must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(format!("the password must have at most {MAX_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

/// Stores a prepared user and returns the id.
pub fn insert(conn: &Connection, user: &NewUser) -> Result<String, CreateUserError> {
    let id = random_id();
    match conn.execute(
        "INSERT INTO users (id, email, name, password_hash) VALUES (?1, ?2, ?3, ?4)",
        params![id, user.email, user.name, user.password_hash],
    ) {
        Ok(_) => Ok(id),
        // The id is random and new, so the one unique column that can clash is the email.
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
            Err(CreateUserError::EmailTaken(user.email.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A trimmed address with one `@` and something on each side; the real check is signing in.
/// Control characters are refused: operators read addresses in a terminal (`user list`).
pub fn valid_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    if email.chars().any(char::is_control) {
        return Err("the email address must not contain control characters".to_owned());
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') && email.len() <= MAX_EMAIL_BYTES =>
        {
            Ok(email.to_owned())
        }
        _ => Err(format!("'{email}' is not an email address")),
    }
}

/// A trimmed display name without control characters (it is printed in terminals and pages).
pub fn valid_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.chars().any(char::is_control) {
        return Err("the name must not contain control characters".to_owned());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("the name must have at most {MAX_NAME_CHARS} characters"));
    }
    Ok(name.to_owned())
}

/// The id and password hash of the user with this email (case-insensitive).
pub fn find_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached("SELECT id, password_hash FROM users WHERE email = ?1")?
        .query_row([email.trim()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

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

pub fn find_account(conn: &Connection, email: &str) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(
        "SELECT id, password_hash, disabled_at IS NOT NULL, unlocked_at, is_admin FROM users WHERE email = ?1",
    )?
    .query_row([email.trim()], |r| {
        Ok(Account {
            id: r.get(0)?,
            password_hash: r.get(1)?,
            disabled: r.get(2)?,
            unlocked_at: r.get(3)?,
            is_admin: r.get(4)?,
        })
    })
    .optional()
}

/// A disabled user gets no new tokens (and the ones they have stop working).
pub fn is_disabled(conn: &Connection, user_id: &UserId) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND disabled_at IS NOT NULL)")?
        .query_row([user_id], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_in_email_and_name() {
        assert!(valid_email("ann\u{1b}[2J@example.com").unwrap_err().contains("control characters"));
        assert!(valid_email("ann@example.com\u{7}").unwrap_err().contains("control characters"));
        assert!(valid_name("Ann\u{1b}]0;owned\u{7}").unwrap_err().contains("control characters"));
        assert!(valid_name("Ann\u{9b}2J").is_err(), "C1 controls too");
        assert_eq!(valid_name("  Ann Lee ").unwrap(), "Ann Lee");
        assert_eq!(valid_email(" ann@example.com ").unwrap(), "ann@example.com");
    }
}
