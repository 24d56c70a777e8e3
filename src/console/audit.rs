//! Every change an admin makes in the console: the operation and its `admin_audit` row
//! (`manage::audit_log`, which the command line writes too) are one writer job, so a change is never
//! without its row, nor a row without its change.

use rusqlite::Connection;

use super::Ask;
use crate::manage::audit_log::{self, Actor};
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
    let (actor, target) = (Actor::console(ask.admin.user_id.as_str(), &ask.admin.email), target.to_owned());
    let done = ask
        .state
        .db
        .write(move |conn| {
            let value = operation(conn)?;
            audit_log::record(conn, &actor, action, &target, &detail)?;
            Ok::<_, ManageError>(value)
        })
        .await;
    if done.is_ok() {
        tracing::info!(admin = %ask.admin.email, action, "console change");
    }
    done
}
