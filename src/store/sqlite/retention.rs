//! The call log's retention: rows older than `--call-log-days` are deleted, a small batch at a
//! time, and only once housekeeping has counted them in the daily and hourly rollups
//! (`rollups`), so the console's charts and totals outlive the raw rows. The counters
//! (`api_usage`) are not touched, so no quota moves.
//!
//! SQLite reuses the pages freed by the deletes, so once the window is full the file stops
//! growing without a VACUUM.

use rusqlite::{Connection, params};

/// Deletes at most `limit` call-log rows logged more than `days` days before `now` (unix
/// seconds); returns how many it deleted.
///
/// Only the oldest `limit` rows by id are looked at: ids grow with time, so these are the oldest
/// rows, and a call that finds nothing to delete costs `limit` row reads, never a scan of the log.
/// (Were the clock stepped back, rows at the head still inside the window would hold back older
/// ones behind them until they age out themselves: pruning is late then, never wrong.)
pub fn prune_call_log(conn: &Connection, now: i64, days: u32, limit: i64) -> rusqlite::Result<usize> {
    let cutoff = now - i64::from(days) * 24 * 3600;
    conn.prepare_cached(
        "DELETE FROM api_calls WHERE id IN (
           SELECT id FROM (SELECT id, at, rolled_up FROM api_calls ORDER BY id LIMIT ?2)
            WHERE at < strftime('%Y-%m-%dT%H:%M:%fZ', ?1, 'unixepoch') AND rolled_up = 1)",
    )?
    .execute(params![cutoff, limit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::call_log_fixture::{count, log_at, migrated};

    #[test]
    fn old_rows_go_a_batch_at_a_time_and_the_rollups_stay() {
        let conn = migrated();
        // 2026-12-01T00:00:00Z
        let now = 1_796_083_200;
        for _ in 0..5 {
            log_at(&conn, "2026-08-01T10:00:00.000Z", 201);
        }
        log_at(&conn, "2026-08-01T11:00:00.000Z", 429);
        log_at(&conn, "2026-11-29T10:00:00.000Z", 201);
        assert_eq!(prune_call_log(&conn, now, 90, 4).unwrap(), 0, "no row goes before it is rolled up");
        assert_eq!(super::super::rollups::roll_up(&conn, now, 100).unwrap(), 7);
        assert_eq!(prune_call_log(&conn, now, 90, 4).unwrap(), 4, "at most a batch");
        assert_eq!(prune_call_log(&conn, now, 90, 4).unwrap(), 2);
        assert_eq!(prune_call_log(&conn, now, 90, 4).unwrap(), 0, "the recent row stays");
        assert_eq!(count(&conn, "SELECT count(*) FROM api_calls"), 1);
        let daily = count(&conn, "SELECT sum(calls) FROM api_calls_daily WHERE day = '2026-08-01'");
        assert_eq!(daily, 6, "the day's rollup keeps every pruned call");
        let limited =
            count(&conn, "SELECT calls FROM api_calls_hourly WHERE hour = '2026-08-01T11' AND outcome = '429'");
        assert_eq!(limited, 1);
    }
}
