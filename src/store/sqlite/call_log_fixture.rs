//! For the call log's housekeeping tests (rollups, retention): a migrated in-memory database, a
//! logged call at a given moment, and a count.

use rusqlite::{Connection, params};

/// A fresh in-memory database with gpt-todo's schema.
pub fn migrated() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    super::migrate(&conn).unwrap();
    conn
}

/// One logged call at `at` (RFC 3339) with `status`.
pub fn log_at(conn: &Connection, at: &str, status: i64) {
    conn.execute(
        "INSERT INTO api_calls (at, method, path, status, user_id, client_id, duration_ms, request_id)
         VALUES (?1, 'POST', '/api/todos', ?2, 'u', 'c', 1.0, 'r')",
        params![at, status],
    )
    .unwrap();
}

/// The one number `sql` selects.
pub fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}
