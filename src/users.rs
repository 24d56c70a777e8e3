//! People who can sign in: creating them (CLI and sign-up page share this) and finding them.

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::secrets::{hash_password, random_id};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Creates a user and returns the id. The error is a sentence meant for a person.
pub fn create(conn: &Connection, email: &str, name: &str, password: &str) -> Result<String, String> {
    let email = valid_email(email)?;
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(format!("the password must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(format!("the password must have at most {MAX_PASSWORD_CHARS} characters"));
    }
    let id = random_id();
    let password_hash = hash_password(password)?;
    match conn.execute(
        "INSERT INTO users (id, email, name, password_hash) VALUES (?1, ?2, ?3, ?4)",
        params![id, email, name.trim(), password_hash],
    ) {
        Ok(_) => Ok(id),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            Err(format!("a user with email {email} already exists"))
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
