//! Resetting the per-user-per-client call counters.

use rusqlite::{Connection, params};

use super::ManageResult;

/// Resets the counters of `user` (an email, or a user id of a remote user-info server), of one
/// client or of all; returns how many counters there were. The call log is not touched.
pub fn reset(conn: &Connection, user: &str, client_id: Option<&str>) -> ManageResult<usize> {
    let user_id = super::users::named(conn, user)?;
    Ok(conn.execute(
        "DELETE FROM api_usage WHERE user_id = ?1 AND (?2 IS NULL OR client_id = ?2)",
        params![user_id, client_id],
    )?)
}
