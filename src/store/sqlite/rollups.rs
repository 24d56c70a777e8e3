//! The console's rollups (`api_calls_daily`, `api_calls_hourly`), counted by housekeeping: the
//! call-log rows older than [`SETTLE_MARGIN`] that are not yet rolled up are added to them a batch
//! at a time, and marked (`rolled_up = 1`) in the same transaction, so each row counts once.
//!
//! Marked rows, not an id watermark: on PostgreSQL ids can commit out of order, so a row with a
//! smaller id may appear after a larger one was rolled up. The margin leaves in-flight calls alone
//! (a call's transaction lasts far less than a minute); the console reads the rollups plus the
//! unrolled rows (the views `api_calls_by_day` and `api_calls_by_hour`), so it never waits for
//! housekeeping. The call log's retention deletes only rows already rolled up.

use rusqlite::{Connection, OptionalExtension, params};

use crate::support::clock::timestamp_of_millis;

/// How old a call-log row must be before it is rolled up.
pub const SETTLE_MARGIN: i64 = 60;

/// The outcome a status counts as in the rollups.
const OUTCOME: &str = "CASE WHEN status = 429 THEN '429' WHEN status >= 500 THEN '5xx'
                           WHEN status >= 400 THEN '4xx' ELSE '2xx' END";

/// Rolls up at most `limit` rows logged before `now - SETTLE_MARGIN` (unix seconds), in the
/// caller's transaction; returns how many.
pub fn roll_up(conn: &Connection, now: i64, limit: i64) -> rusqlite::Result<usize> {
    let settled = timestamp_of_millis((now - SETTLE_MARGIN) * 1000);
    // The batch: the oldest `limit` settled unrolled rows, by id; the three statements below take
    // exactly those (settled, unrolled, id at most the batch's last).
    let last: Option<i64> = conn
        .prepare_cached(
            "SELECT max(id) FROM (SELECT id FROM api_calls WHERE rolled_up = 0 AND at < ?1 ORDER BY id LIMIT ?2)",
        )?
        .query_row(params![settled, limit], |row| row.get(0))
        .optional()?
        .flatten();
    let Some(last) = last else { return Ok(0) };
    let batch = "FROM api_calls WHERE rolled_up = 0 AND at < ?1 AND id <= ?2";
    conn.prepare_cached(&format!(
        "INSERT INTO api_calls_daily (day, user_id, client_id, outcome, calls)
         SELECT substr(at, 1, 10), coalesce(user_id, ''), coalesce(client_id, ''), {OUTCOME}, count(*) {batch}
          GROUP BY 1, 2, 3, 4
         ON CONFLICT (day, user_id, client_id, outcome) DO UPDATE SET calls = calls + excluded.calls"
    ))?
    .execute(params![settled, last])?;
    conn.prepare_cached(&format!(
        "INSERT INTO api_calls_hourly (hour, outcome, calls)
         SELECT substr(at, 1, 13), {OUTCOME}, count(*) {batch}
          GROUP BY 1, 2
         ON CONFLICT (hour, outcome) DO UPDATE SET calls = calls + excluded.calls"
    ))?
    .execute(params![settled, last])?;
    conn.prepare_cached(&format!("UPDATE api_calls SET rolled_up = 1 WHERE id IN (SELECT id {batch})"))?
        .execute(params![settled, last])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::call_log_fixture::{count, log_at, migrated};

    #[test]
    fn settled_rows_are_counted_once_a_batch_at_a_time_and_the_views_are_current_meanwhile() {
        let conn = migrated();
        let now = 1_796_205_600; // 2026-12-02T10:00:00Z
        for _ in 0..3 {
            log_at(&conn, "2026-12-02T09:00:00.000Z", 201);
        }
        log_at(&conn, "2026-12-02T09:30:00.000Z", 429);
        log_at(&conn, "2026-12-02T09:59:30.000Z", 201); // inside the margin
        let by_day = "SELECT sum(calls) FROM api_calls_by_day WHERE day = '2026-12-02'";
        assert_eq!(count(&conn, by_day), 5, "the view counts what is not rolled up yet");
        assert_eq!(roll_up(&conn, now, 2).unwrap(), 2, "at most a batch");
        assert_eq!(count(&conn, by_day), 5, "and never twice");
        assert_eq!(roll_up(&conn, now, 10).unwrap(), 2);
        assert_eq!(roll_up(&conn, now, 10).unwrap(), 0, "the row inside the margin waits");
        assert_eq!(count(&conn, "SELECT sum(calls) FROM api_calls_daily"), 4);
        assert_eq!(
            count(&conn, "SELECT calls FROM api_calls_hourly WHERE hour = '2026-12-02T09' AND outcome = '429'"),
            1
        );
        assert_eq!(count(&conn, by_day), 5);
        assert_eq!(roll_up(&conn, now + SETTLE_MARGIN, 10).unwrap(), 1);
        assert_eq!(count(&conn, "SELECT count(*) FROM api_calls WHERE rolled_up = 0"), 0);
        assert_eq!(count(&conn, by_day), 5);
    }
}
