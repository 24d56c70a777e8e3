//! The quota's SQL: the limits in force for a caller, the claim of one call's slot (the hot path,
//! one statement that is the invariant), and setting limits.

use super::sql::Sql;
use super::{StoreError, Tx};
use crate::quota::{Limits, Plan, Window};
use crate::support::ids::{ClientId, UserId};

static LIMITS: Sql = Sql::new(
    "SELECT o.call_limit, o.call_window, c.call_limit, c.call_window
       FROM (SELECT 1) AS one
       LEFT JOIN api_limit_overrides o ON o.user_id = $1 AND o.client_id = $2
       LEFT JOIN oauth_clients c ON c.client_id = $2",
);

/// The caller's own limit and their client's: primary-key look-ups in one statement. Which one is
/// in force is decided by [`Limits::in_force`], the rule the `usage` report applies too.
pub fn limits(tx: &Tx<'_>, user_id: &UserId, client_id: &ClientId) -> Result<Limits, StoreError> {
    let limits = tx.row(&LIMITS, &[user_id, client_id], |row| {
        Ok(Limits { user: plan(row.get(0)?, row.get(1)?), client: plan(row.get(2)?, row.get(3)?) })
    })?;
    Ok(limits.unwrap_or(Limits { user: None, client: None }))
}

static CLAIM: Sql = Sql::new(
    "INSERT INTO api_usage (user_id, client_id, period, count) VALUES ($1, $2, $3, 1)
     ON CONFLICT (user_id, client_id, period) DO UPDATE SET count = api_usage.count + 1
       WHERE api_usage.count < $4
     RETURNING count",
);

/// Claims one call's slot in `period`: the count goes up by one unless it has reached `limit`.
/// `Some(count after)`, or `None` when the limit is reached (a 429). One conditional upsert, so
/// the limit holds however many writers race, and it needs no existing row: the first call of a
/// new day or month has none (a `SELECT … FOR UPDATE` would lock nothing). SQLite (≥ 3.35, for
/// `RETURNING`) and PostgreSQL run the same statement; on PostgreSQL under READ COMMITTED, a
/// racing claim waits for the row's lock and then re-checks the `WHERE` on the committed count
/// (PostgreSQL docs §13.2.1, "INSERT with an ON CONFLICT DO UPDATE clause"). A limit of 0 is
/// refused before this runs: the insert of a new period's row would otherwise count one call.
pub fn claim(
    tx: &Tx<'_>,
    user_id: &UserId,
    client_id: &ClientId,
    period: &str,
    limit: u64,
) -> Result<Option<u64>, StoreError> {
    debug_assert!(limit > 0, "a limit of 0 is refused before the claim");
    let limit = stored_limit(limit);
    let count: Option<i64> = tx.row(&CLAIM, &[user_id, client_id, &period, &limit], |row| row.get(0))?;
    Ok(count.map(|count| count.max(0) as u64))
}

static COUNT: Sql = Sql::new("SELECT count FROM api_usage WHERE user_id = $1 AND client_id = $2 AND period = $3");

/// The caller's count in `period`, without claiming anything (for a call refused before its
/// operation, which reports its usage but is not counted).
pub fn count(tx: &Tx<'_>, user_id: &UserId, client_id: &ClientId, period: &str) -> Result<u64, StoreError> {
    let count: Option<i64> = tx.row(&COUNT, &[user_id, client_id, &period], |row| row.get(0))?;
    Ok(count.map_or(0, |count| count.max(0) as u64))
}

/// A stored limit and window; a limit without a window is a total (as every limit was before
/// windows existed).
pub fn plan(limit: Option<i64>, window: Option<String>) -> Option<Plan> {
    let window = window.as_deref().and_then(Window::from_stored).unwrap_or(Window::Total);
    limit.map(|limit| Plan { limit: limit.max(0) as u64, window })
}

static SET_CLIENT_LIMIT: Sql =
    Sql::new("UPDATE oauth_clients SET call_limit = $1, call_window = $2 WHERE client_id = $3");

/// Sets a client's limit, or with `None` returns it to the server default. `false` when there is
/// no such client. The only statement that writes a client's limit.
pub fn set_client_limit(tx: &Tx<'_>, client_id: &str, plan: Option<Plan>) -> Result<bool, StoreError> {
    let limit = plan.map(|p| stored_limit(p.limit));
    let window = plan.map(|p| p.window.as_str());
    Ok(tx.run(&SET_CLIENT_LIMIT, &[&limit, &window, &client_id])? == 1)
}

static SET_USER_LIMIT: Sql = Sql::new(
    "INSERT INTO api_limit_overrides (user_id, client_id, call_limit, call_window, created_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id, client_id) DO UPDATE SET call_limit = $3, call_window = $4",
);
static REMOVE_USER_LIMIT: Sql = Sql::new("DELETE FROM api_limit_overrides WHERE user_id = $1 AND client_id = $2");

/// Gives one user of a client a limit of their own, or with `None` removes it (the client's limit
/// applies again).
pub fn set_user_limit(
    tx: &Tx<'_>,
    user_id: &UserId,
    client_id: &ClientId,
    plan: Option<Plan>,
) -> Result<(), StoreError> {
    match plan {
        Some(plan) => {
            let (limit, now) = (stored_limit(plan.limit), tx.now().timestamp());
            tx.run(&SET_USER_LIMIT, &[user_id, client_id, &limit, &plan.window.as_str(), &now])?
        }
        None => tx.run(&REMOVE_USER_LIMIT, &[user_id, client_id])?,
    };
    Ok(())
}

/// SQLite integers are signed; a limit beyond them is as good as unlimited.
fn stored_limit(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::quota::Period;
    use crate::store::test_stores::{TestStore, on_both_backends};
    use crate::store::{Commit, Store};

    fn caller() -> (UserId, ClientId) {
        (UserId::new("u1"), ClientId::new("c1"))
    }

    /// 2026-12-02T10:00:00Z and the next day.
    const TODAY: i64 = 1_796_205_600;
    const TOMORROW: i64 = TODAY + 86_400;

    async fn claim_at(store: &Store, now: i64, limit: u64) -> Option<u64> {
        let key = Period::containing(Window::Day, now).key();
        store.write(Commit::OnOk, move |tx| claim(tx, &caller().0, &caller().1, &key, limit)).await.unwrap()
    }

    on_both_backends!(the_claim_stops_at_the_limit_and_a_new_period_starts_from_no_row, |backend| async move {
        let test_store = TestStore::open(backend);
        let store = &test_store.store;
        assert_eq!(claim_at(store, TODAY, 2).await, Some(1), "the first call of a day has no row yet");
        assert_eq!(claim_at(store, TODAY, 2).await, Some(2));
        assert_eq!(claim_at(store, TODAY, 2).await, None, "at the limit: refused, not counted");
        let key = Period::containing(Window::Day, TODAY).key();
        let counted = store.read(move |tx| count(tx, &caller().0, &caller().1, &key)).await.unwrap();
        assert_eq!(counted, 2);
        assert_eq!(claim_at(store, TOMORROW, 2).await, Some(1), "a new day starts again, from no row");
    });

    on_both_backends!(racing_claims_on_a_new_period_give_exactly_the_limit, |backend| async move {
        let store = Arc::new(TestStore::open(backend).store);
        let claims: Vec<_> = (0..40)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { claim_at(&store, TOMORROW, 25).await })
            })
            .collect();
        let mut granted = 0;
        for claim in claims {
            granted += usize::from(claim.await.unwrap().is_some());
        }
        assert_eq!(granted, 25);
    });
}
