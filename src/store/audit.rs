//! The `admin_audit` table: one row for every change an operator makes, in the console or with
//! the command line, written in the change's own transaction (`operator::audit_log` says who).

use serde::Serialize;

use super::sql::Sql;
use super::{StoreError, Tx};

/// A change to record.
pub struct Change<'a> {
    /// The admin's user id; empty for the command line.
    pub admin_id: &'a str,
    /// The admin's email, or the system account that ran a command.
    pub admin_email: &'a str,
    /// `console` or `cli`.
    pub via: &'a str,
    pub action: &'a str,
    /// A client id or a user's email.
    pub target: &'a str,
    pub detail: &'a str,
}

pub fn record(tx: &Tx<'_>, change: &Change<'_>) -> Result<(), StoreError> {
    let at = tx.now().timestamp();
    let c = change;
    tx.run(&RECORD, &[&c.admin_id, &c.admin_email, &c.action, &c.target, &c.detail, &c.via, &at])?;
    Ok(())
}

static RECORD: Sql = Sql::new(
    "INSERT INTO admin_audit (admin_id, admin_email, action, target, detail, via, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)",
);

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
pub fn recent(tx: &Tx<'_>, limit: i64) -> Result<Vec<Entry>, StoreError> {
    tx.rows(&RECENT, &[&limit], |r| {
        Ok(Entry {
            at: r.get(0)?,
            admin_email: r.get(1)?,
            via: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            detail: r.get(5)?,
        })
    })
}

static RECENT: Sql =
    Sql::new("SELECT at, admin_email, via, action, target, detail FROM admin_audit ORDER BY id DESC LIMIT $1");
