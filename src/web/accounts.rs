//! People who can sign in: the checks and the password hash of a new account, which the CLI and
//! the sign-up page share. The account rows are `store::accounts`'s.

use crate::store::{Commit, Store, StoreError, Tx, accounts};
use crate::support::secrets::{HashMemory, hash_password_in, random_id};

pub use crate::store::accounts::Account;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The longest address SMTP can deliver to (RFC 5321 §4.5.3.1, as errata 1690 reads it).
pub const MAX_EMAIL_BYTES: usize = 254;
pub const MAX_NAME_CHARS: usize = 200;

/// Creates a user in the open transaction `tx` and returns the id (for a test's or a tool's own
/// connection; the server adds users with [`add`]).
pub fn create(tx: &Tx<'_>, email: &str, name: &str, password: &str) -> Result<String, CreateUserError> {
    let user = NewUser::prepare(&mut HashMemory::default(), email, name, password).map_err(CreateUserError::Invalid)?;
    user.insert(tx, &random_id())?
}

/// Stores a prepared user in one store job and returns the id.
pub async fn add(store: &Store, user: NewUser) -> Result<String, CreateUserError> {
    let id = random_id();
    store.write(Commit::OnOk, move |tx| user.insert(tx, &id)).await?
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
    Store(#[from] StoreError),
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

    /// Stores the user under `id` (random, made before the job) and gives the id, or
    /// `EmailTaken` as the job's value.
    pub fn insert(&self, tx: &Tx<'_>, id: &str) -> Result<Result<String, CreateUserError>, StoreError> {
        Ok(match accounts::insert(tx, id, &self.email, &self.name, &self.password_hash)? {
            true => Ok(id.to_owned()),
            false => Err(CreateUserError::EmailTaken(self.email.clone())),
        })
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
