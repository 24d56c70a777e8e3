//! The audit of what operators change: every change made in the console or with the command line
//! has one `admin_audit` row (who, through which, what, on what, when), written in the change's
//! own transaction (`store::audit`), so a change is never without its row, nor a row without its
//! change.

use crate::store::audit::{self, Change};
use crate::store::{StoreError, Tx};

pub use crate::store::audit::{Entry, recent};

/// Who made a change, and through what.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The admin's user id; empty for the command line (a system account, not a user).
    pub id: String,
    /// The admin's email, or for the command line the system account that ran it.
    pub name: String,
    pub via: Via,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Console,
    Cli,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Cli => "cli",
        }
    }
}

impl Actor {
    /// An admin signed in to the console.
    pub fn console(user_id: &str, email: &str) -> Actor {
        Actor { id: user_id.to_owned(), name: email.to_owned(), via: Via::Console }
    }

    /// Whoever runs this command: the system account, and who it was `sudo`ed from (the account
    /// that has the database is often a service account, run as `sudo -u gpt-todo`).
    pub fn command_line() -> Actor {
        let account = account_name();
        let name = match std::env::var("SUDO_USER") {
            Ok(caller) if !caller.is_empty() && caller != account => format!("{account} (sudo from {caller})"),
            _ => account,
        };
        Actor { id: String::new(), name, via: Via::Cli }
    }
}

/// Records `action` on `target` (a client id or a user's email) with `detail`.
pub fn record(tx: &Tx<'_>, actor: &Actor, action: &str, target: &str, detail: &str) -> Result<(), StoreError> {
    let change =
        Change { admin_id: &actor.id, admin_email: &actor.name, via: actor.via.as_str(), action, target, detail };
    audit::record(tx, &change)
}

/// The name of the account this process runs as (its effective user).
fn account_name() -> String {
    crate::store::sqlite::owner::user_name(crate::store::sqlite::owner::current_uid())
}
