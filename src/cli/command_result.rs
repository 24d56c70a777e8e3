//! What every admin command shares: its result (the text to print, or a person's mistake, or a
//! database failure), the audited change, and stored text made safe for a terminal.

use crate::operator::audit_log::{self, Actor};
use crate::operator::{ManageError, Outcome, or_refused, settle};
use crate::store::sqlite::DbError;
use crate::store::{Commit, Store, StoreError, Tx};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    /// The database could not be opened, read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A person's mistake (no such user, a name taken) is printed as one; a database failure stays one.
impl From<ManageError> for AdminError {
    fn from(e: ManageError) -> AdminError {
        match e {
            ManageError::Store(e) => AdminError::Store(e),
            refused => AdminError::Invalid(refused.to_string()),
        }
    }
}

/// The SQLite file itself: opening it, backing it up, restoring it.
impl From<DbError> for AdminError {
    fn from(e: DbError) -> AdminError {
        AdminError::Store(e.into())
    }
}

/// What a command prints on success.
pub type AdminResult = Result<String, AdminError>;

pub fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::Invalid(message.into())
}

/// "1 token", "2 tokens": `n` with the noun in the number it takes.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Runs a change and its audit row (`action` on `target`, with the detail `change` gives beside
/// its value) in one transaction on the command's store: both are kept, or neither (the change
/// runs in a savepoint, undone when it is refused).
pub fn audited<T>(
    store: &Store,
    action: &str,
    target: &str,
    change: impl Fn(&Tx<'_>) -> Outcome<(T, String)>,
) -> Result<T, AdminError> {
    let actor = Actor::command_line();
    let done = store.write_now(Commit::OnOk, |tx| {
        tx.savepoint(|tx| {
            let (value, detail) = or_refused!(change(tx));
            audit_log::record(tx, &actor, action, target.trim(), &detail)?;
            Ok(Ok(value))
        })
    });
    Ok(settle(done)?)
}

/// Stored text as a terminal may safely show it: control characters (ESC, BEL, the C1 CSI...)
/// appear as `\u{1b}` instead of reaching the operator's terminal as escape sequences. Every
/// command that prints stored text prints it through this (tables do it for every cell).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::file::Missing;
    use crate::store::{accounts, audit};

    #[test]
    fn a_refused_change_writes_nothing_not_even_its_audit_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_direct(&dir.path().join("audited.db"), Missing::Create).unwrap();
        let refused = audited(&store, "user.add", "ann@example.com", |tx| {
            accounts::insert(tx, "u1", "ann@example.com", "Ann", "hash")?;
            Ok(Err::<((), String), _>(ManageError::Refused("refused after a write".into())))
        });
        assert!(matches!(&refused, Err(AdminError::Invalid(m)) if m == "refused after a write"), "{refused:?}");
        let count =
            |store: &Store| store.read_now(|tx| Ok((accounts::list(tx)?.len(), audit::recent(tx, 10)?.len()))).unwrap();
        assert_eq!(count(&store), (0, 0), "neither the user nor an audit row");
        audited(&store, "user.add", "ben@example.com", |tx| {
            accounts::insert(tx, "u2", "ben@example.com", "Ben", "hash")?;
            Ok(Ok(((), String::new())))
        })
        .unwrap();
        assert_eq!(count(&store), (1, 1), "the change and its row");
    }

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(printable("Ann Lee"), "Ann Lee");
        assert_eq!(printable("a\u{1b}[2Jb\u{7}\u{9b}"), "a\\u{1b}[2Jb\\u{7}\\u{9b}");
        assert!(!printable("x\u{1b}]0;title\u{7}").chars().any(char::is_control));
    }
}
