//! Every change an admin makes in the console: the operation and its `admin_audit` row
//! (`operator::audit_log`, which the command line writes too) are one store job, so a change is
//! never without its row, nor a row without its change.

use super::Ask;
use crate::operator::audit_log::{self, Actor};
use crate::operator::{ManageResult, Outcome, or_refused, settle};
use crate::store::{Commit, Tx};

/// Runs `operation` in one write job and records it as `action` on `target` with `detail`;
/// gives what the operation gave. When it is refused or fails, nothing is written (it runs in a
/// savepoint, undone on a refusal).
pub async fn change<T, F>(
    ask: &Ask,
    action: &'static str,
    target: &str,
    detail: String,
    operation: F,
) -> ManageResult<T>
where
    T: Send + 'static,
    F: Fn(&Tx<'_>) -> Outcome<T> + Send + Sync + 'static,
{
    let (actor, target) = (Actor::console(ask.admin.user_id.as_str(), &ask.admin.email), target.to_owned());
    let done = ask
        .state
        .store
        .write(Commit::OnOk, move |tx| {
            tx.savepoint(|tx| {
                let value = or_refused!(operation(tx));
                audit_log::record(tx, &actor, action, &target, &detail)?;
                Ok(Ok(value))
            })
        })
        .await;
    let done = settle(done);
    if done.is_ok() {
        tracing::info!(admin = %ask.admin.email, action, "console change");
    }
    done
}
