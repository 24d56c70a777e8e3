//! Housekeeping: rows that can no longer matter are deleted, a small batch at a time, on the
//! writer thread between request batches.
//!
//! Each [`Step`] deletes at most [`BATCH_ROWS`] rows in a transaction of its own (a few
//! milliseconds), so a request waits behind at most one step. The writer runs the steps every
//! [`EVERY`]; while a step still finds a full batch, again after [`catching_up_pause`].
//!
//! To add a kind of row, write a function that deletes at most
//! `limit` of them and returns how many it deleted, and add it to [`STEPS`].
//!
//! What may go, and why that is safe:
//! - expired access and refresh tokens: nobody can use them. A *rotated* refresh token is kept
//!   until it expires, because presenting it again is how a stolen one is detected (the family
//!   is then revoked, RFC 9700 §4.14.2); after its expiry it is refused as unknown instead.
//! - revoked tokens: a revoked token is refused whether its row exists or not, and presenting
//!   one revokes nothing further, so its row adds nothing.
//! - authorization codes once expired for [`KEEP_SPENT_CODES`]: until then a replayed code still
//!   revokes the tokens it gave (RFC 6749 §4.1.2).
//! - expired sign-in sessions.
//! - call-log rows older than `--call-log-days` ([`Retention`]), once rolled up: the daily and
//!   hourly rollups the console reads keep their counts (the first step rolls them up, see
//!   `rollups`).
//! - clients that registered themselves (RFC 7591, metadata documents) and never completed an
//!   authorization: beyond the newest `--max-unused-clients` (the registration that goes past
//!   it removes one too; this step catches up after the bound was lowered), and all of them
//!   [`UNUSED_CLIENT_DAYS`] after they registered. None registered in the last 15 minutes, none
//!   that holds a token or a live code, none that was ever authorized (`clients::evict_unused`).
//!
//! The steps read the time from the server's clock ([`Retention::clock`]), which tests set.

use std::time::Duration;

use rusqlite::{Connection, params};

use super::exec;
use crate::store::clients;
use crate::support::clock::Clock;

/// At most this many rows per step and transaction.
pub const BATCH_ROWS: i64 = 500;
/// How often the steps run when there is little to do.
pub const EVERY: Duration = Duration::from_secs(60);
/// The shortest pause before a step that found a full batch runs again. It was 1 s before the
/// call log's retention: 500 rows a second cannot keep up with a server logging thousands of
/// calls a second (17,000 creates a second were measured), so the log would never stop growing.
pub const CATCHING_UP: Duration = Duration::from_millis(10);
/// While catching up, housekeeping takes at most one part in this many of the writer's time (the
/// pause after a full batch is that many times the batch's own time, less one): requests keep
/// 95% of the writer. At about 1 ms per 500-row batch that still prunes ~25,000 rows a second.
pub const CATCHING_UP_SHARE: u32 = 20;

/// When the steps run again after a round that took `took` and found a full batch.
pub fn catching_up_pause(took: Duration) -> Duration {
    (took * (CATCHING_UP_SHARE - 1)).max(CATCHING_UP)
}
/// Spent and expired codes are kept this long, so that a late replay still revokes its tokens.
pub const KEEP_SPENT_CODES: i64 = 24 * 3600;
/// A self-registered client nobody authorized within a day is removed.
pub const UNUSED_CLIENT_DAYS: i64 = 1;

/// How long the rows an operator chooses to keep are kept, and by which clock.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Days the call log keeps its rows (`--call-log-days`).
    pub call_log_days: u32,
    /// Unused self-registered clients kept (`--max-unused-clients`).
    pub max_unused_clients: u32,
    /// The server's clock (a test's, in tests).
    pub clock: Clock,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { call_log_days: 90, max_unused_clients: 2000, clock: Clock::system() }
    }
}

/// One kind of row to prune: deletes at most `limit` rows no longer needed at `now` (unix
/// seconds) under `retention`, and returns how many it deleted.
pub struct Step {
    pub name: &'static str,
    pub prune: fn(conn: &Connection, now: i64, limit: i64, retention: &Retention) -> rusqlite::Result<usize>,
}

pub const STEPS: &[Step] = &[
    // Before the call log's retention, which deletes only rows already rolled up.
    Step { name: "call-log rollups", prune: roll_up_calls },
    Step { name: "expired tokens", prune: expired_tokens },
    Step { name: "revoked tokens", prune: revoked_tokens },
    Step { name: "spent codes", prune: spent_codes },
    Step { name: "expired sessions", prune: expired_sessions },
    Step { name: "old call log", prune: old_calls },
    Step { name: "unused clients beyond the bound", prune: unused_clients_beyond_the_bound },
    Step { name: "unused clients a day old", prune: day_old_unused_clients },
];

/// Runs every step once, each in its own transaction; returns whether any step found a full
/// batch (there is more to delete). A failing step is logged and the others still run.
pub fn run_steps(conn: &Connection, retention: Retention) -> bool {
    let now = retention.clock.now();
    let mut more = false;
    for step in STEPS {
        match in_transaction(conn, || (step.prune)(conn, now, BATCH_ROWS, &retention)) {
            Ok(deleted) => {
                if deleted > 0 {
                    tracing::debug!(step = step.name, deleted, "housekeeping");
                }
                more |= deleted as i64 >= BATCH_ROWS;
            }
            Err(e) => tracing::warn!(step = step.name, error = %e, "housekeeping step failed"),
        }
    }
    more
}

fn in_transaction(conn: &Connection, f: impl FnOnce() -> rusqlite::Result<usize>) -> rusqlite::Result<usize> {
    exec(conn, "BEGIN IMMEDIATE")?;
    match f() {
        Ok(deleted) => exec(conn, "COMMIT").map(|()| deleted),
        Err(e) => {
            let _ = exec(conn, "ROLLBACK");
            Err(e)
        }
    }
}

fn expired_tokens(conn: &Connection, now: i64, limit: i64, _: &Retention) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM oauth_tokens WHERE rowid IN
           (SELECT rowid FROM oauth_tokens WHERE expires_at <= ?1 LIMIT ?2)",
    )?
    .execute(params![now, limit])
}

fn revoked_tokens(conn: &Connection, _now: i64, limit: i64, _: &Retention) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM oauth_tokens WHERE rowid IN
           (SELECT rowid FROM oauth_tokens WHERE revoked_at IS NOT NULL LIMIT ?1)",
    )?
    .execute(params![limit])
}

fn spent_codes(conn: &Connection, now: i64, limit: i64, _: &Retention) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM oauth_codes WHERE rowid IN
           (SELECT rowid FROM oauth_codes WHERE expires_at < ?1 LIMIT ?2)",
    )?
    .execute(params![now - KEEP_SPENT_CODES, limit])
}

fn expired_sessions(conn: &Connection, now: i64, limit: i64, _: &Retention) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM oauth_sessions WHERE rowid IN
           (SELECT rowid FROM oauth_sessions WHERE expires_at <= ?1 LIMIT ?2)",
    )?
    .execute(params![now, limit])
}

fn roll_up_calls(conn: &Connection, now: i64, limit: i64, _: &Retention) -> rusqlite::Result<usize> {
    super::rollups::roll_up(conn, now, limit)
}

fn old_calls(conn: &Connection, now: i64, limit: i64, retention: &Retention) -> rusqlite::Result<usize> {
    super::retention::prune_call_log(conn, now, retention.call_log_days, limit)
}

fn unused_clients_beyond_the_bound(
    conn: &Connection,
    now: i64,
    limit: i64,
    retention: &Retention,
) -> rusqlite::Result<usize> {
    clients::evict_unused_on(conn, now, retention.max_unused_clients, limit)
}

fn day_old_unused_clients(conn: &Connection, now: i64, limit: i64, _: &Retention) -> rusqlite::Result<usize> {
    clients::prune_unused_on(conn, now, UNUSED_CLIENT_DAYS * 86_400, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::clock::unix_now;

    fn database() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrate(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, password_hash) VALUES ('u', 'u@example.com', 'x');
             INSERT INTO oauth_clients (client_id, name, redirect_uris) VALUES ('c', 'C', '[]');",
        )
        .unwrap();
        conn
    }

    fn token(conn: &Connection, hash: &str, kind: &str, expires_at: i64, revoked: bool, rotated: bool) {
        conn.execute(
            "INSERT INTO oauth_tokens (token_hash, kind, client_id, user_id, family_id, expires_at, revoked_at, rotated_at)
             VALUES (?1, ?2, 'c', 'u', 'family', ?3, ?4, ?5)",
            params![hash, kind, expires_at, revoked.then_some(1), rotated.then_some(1)],
        )
        .unwrap();
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn expired_and_revoked_rows_go_a_batch_at_a_time() {
        let conn = database();
        let now = unix_now();
        for i in 0..600 {
            token(&conn, &format!("expired{i}"), "access", now - 10, false, false);
        }
        token(&conn, "revoked", "refresh", now + 3600, true, false);
        token(&conn, "live", "access", now + 3600, false, false);
        assert!(run_steps(&conn, Retention::default()), "a full batch means there is more");
        assert_eq!(
            count(&conn, "oauth_tokens"),
            600 + 2 - BATCH_ROWS - 1,
            "one batch of expired rows and the revoked one"
        );
        assert!(!run_steps(&conn, Retention::default()));
        let left: String =
            conn.query_row("SELECT group_concat(token_hash) FROM oauth_tokens", [], |r| r.get(0)).unwrap();
        assert_eq!(left, "live");
    }

    #[test]
    fn a_rotated_refresh_token_is_kept_until_it_expires() {
        let conn = database();
        let now = unix_now();
        token(&conn, "rotated", "refresh", now + 3600, false, true);
        token(&conn, "current", "refresh", now + 3600, false, false);
        run_steps(&conn, Retention::default());
        assert_eq!(count(&conn, "oauth_tokens"), 2, "replaying the rotated one must still find it");
    }

    #[test]
    fn catching_up_leaves_the_writer_nineteen_parts_in_twenty() {
        assert_eq!(catching_up_pause(Duration::ZERO), CATCHING_UP, "never sooner than the least pause");
        assert_eq!(catching_up_pause(Duration::from_millis(2)), Duration::from_millis(38));
    }

    #[test]
    fn codes_stay_a_day_past_expiry_and_sessions_go_when_expired() {
        let conn = database();
        let now = unix_now();
        for (hash, expires_at) in [("old", now - KEEP_SPENT_CODES - 1), ("recent", now - 60)] {
            conn.execute(
                "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, expires_at, used_at)
                 VALUES (?1, 'c', 'u', 'https://x', ?2, ?2)",
                params![hash, expires_at],
            )
            .unwrap();
        }
        for (hash, expires_at) in [("gone", now - 1), ("live", now + 60)] {
            conn.execute(
                "INSERT INTO oauth_sessions (session_hash, user_id, expires_at) VALUES (?1, 'u', ?2)",
                params![hash, expires_at],
            )
            .unwrap();
        }
        run_steps(&conn, Retention::default());
        let code: String = conn.query_row("SELECT code_hash FROM oauth_codes", [], |r| r.get(0)).unwrap();
        let session: String = conn.query_row("SELECT session_hash FROM oauth_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!((code.as_str(), session.as_str()), ("recent", "live"));
    }

    /// A self-registered client registered at `registered_at`, authorized then if `authorized`.
    fn self_registered(conn: &Connection, id: &str, registered_at: i64, authorized: bool) {
        conn.execute(
            "INSERT INTO oauth_clients (client_id, name, redirect_uris, registration, registered_at, authorized_at)
             VALUES (?1, 'Claude', '[]', 'dynamic', ?2, CASE WHEN ?3 THEN ?2 END)",
            params![id, registered_at, authorized],
        )
        .unwrap();
    }

    fn clients_left(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT client_id FROM oauth_clients ORDER BY client_id").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn unused_self_registered_clients_go_after_a_day_by_the_servers_clock_never_one_in_use() {
        let conn = database();
        let registered = 1_900_000_000;
        for id in ["unused", "authorized", "with-token", "with-code"] {
            self_registered(&conn, id, registered, id == "authorized");
        }
        self_registered(&conn, "young", registered + 86_400, false);
        conn.execute(
            "INSERT INTO oauth_tokens (token_hash, kind, client_id, user_id, family_id, expires_at)
             VALUES ('t', 'refresh', 'with-token', 'u', 'f', ?1)",
            [registered + 10 * 86_400],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, expires_at)
             VALUES ('k', 'with-code', 'u', 'https://x', ?1)",
            [registered + 86_400 + 300],
        )
        .unwrap();
        let at = |now: i64| Retention { clock: Clock::manual(now), ..Retention::default() };
        run_steps(&conn, at(registered + 86_400 - 1));
        assert_eq!(clients_left(&conn).len(), 6, "nothing is a day old yet");
        run_steps(&conn, at(registered + 86_400));
        assert_eq!(clients_left(&conn), ["authorized", "c", "with-code", "with-token", "young"]);
    }

    #[test]
    fn beyond_the_bound_the_oldest_unused_clients_go_but_none_younger_than_15_minutes() {
        let conn = database();
        let start = 1_900_000_000;
        for i in 0..30 {
            self_registered(&conn, &format!("old{i:02}"), start + i, false);
        }
        for i in 0..10 {
            self_registered(&conn, &format!("new{i:02}"), start + 3600 + i, false);
        }
        let keep = |max_unused_clients, now| Retention {
            max_unused_clients,
            clock: Clock::manual(now),
            ..Retention::default()
        };
        run_steps(&conn, keep(5, start + 3600 + 60));
        let left = clients_left(&conn);
        assert_eq!(left.len(), 11, "the operator's and the 10 that are not 15 minutes old: {left:?}");
        assert!(left.iter().all(|id| !id.starts_with("old")), "{left:?}");
        run_steps(&conn, keep(5, start + 2 * 3600));
        assert_eq!(clients_left(&conn), ["c", "new05", "new06", "new07", "new08", "new09"], "the newest 5 stay");
    }
}
