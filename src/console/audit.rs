//! Every change an admin makes: the operation and its `admin_audit` row (who, what, when) are one
//! writer job, so a change is never without its row, nor a row without its change.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::Ask;
use crate::manage::{ManageError, ManageResult};

/// Runs `operation` on the writer and records it as `action` on `target` with `detail`;
/// returns what the operation returned. When it fails, nothing is written.
pub async fn change<T, F>(
    ask: &Ask,
    action: &'static str,
    target: &str,
    detail: String,
    operation: F,
) -> ManageResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> ManageResult<T> + Send + 'static,
{
    let (admin_id, admin_email, target) = (ask.admin.user_id.clone(), ask.admin.email.clone(), target.to_owned());
    let done = ask
        .state
        .db
        .write(move |conn| {
            let value = operation(conn)?;
            conn.prepare_cached(
                "INSERT INTO admin_audit (admin_id, admin_email, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![admin_id, admin_email, action, target, detail])?;
            Ok::<_, ManageError>(value)
        })
        .await;
    if done.is_ok() {
        tracing::info!(admin = %ask.admin.email, action, "console change");
    }
    done
}

/// One audit row.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub at: String,
    pub admin_email: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// The latest `limit` rows, newest first.
pub fn recent(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<Entry>> {
    conn.prepare_cached("SELECT at, admin_email, action, target, detail FROM admin_audit ORDER BY id DESC LIMIT ?1")?
        .query_map([limit], |r| {
            Ok(Entry { at: r.get(0)?, admin_email: r.get(1)?, action: r.get(2)?, target: r.get(3)?, detail: r.get(4)? })
        })?
        .collect()
}
