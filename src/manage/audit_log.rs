//! The audit of what operators change: every change made in the console or with the command line
//! has one `admin_audit` row (who, through which, what, on what, when), written in the change's
//! own transaction, so a change is never without its row, nor a row without its change.

use rusqlite::{Connection, params};
use serde::Serialize;

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
pub fn record(conn: &Connection, actor: &Actor, action: &str, target: &str, detail: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO admin_audit (admin_id, admin_email, action, target, detail, via) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![actor.id, actor.name, action, target, detail, actor.via.as_str()])?;
    Ok(())
}

/// One audit row.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub at: String,
    /// The admin's email, or the system account for a `cli` row.
    pub admin_email: String,
    /// `console` or `cli`.
    pub via: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// The latest `limit` rows, newest first.
pub fn recent(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<Entry>> {
    conn.prepare_cached(
        "SELECT at, admin_email, via, action, target, detail FROM admin_audit ORDER BY id DESC LIMIT ?1",
    )?
    .query_map([limit], |r| {
        Ok(Entry {
            at: r.get(0)?,
            admin_email: r.get(1)?,
            via: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            detail: r.get(5)?,
        })
    })?
    .collect()
}

/// The name of the account this process runs as (its effective user).
fn account_name() -> String {
    crate::db::owner::user_name(crate::db::owner::current_uid())
}
