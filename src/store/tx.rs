//! The transaction a store job runs in. `Tx` is a concrete enum over the backends' handles, so no
//! `dyn` and no type parameter reaches `AppState` or the warp filters; the PostgreSQL backend adds
//! its variant here, and each aggregate module matches on it.

use rusqlite::Connection;

use super::StoreError;
use super::postgres::Session;
use crate::support::clock::{Clock, timestamp_of_millis};

/// One open transaction (or, in a read job, one consistent snapshot), and the job's moment.
pub enum Tx<'a> {
    /// A connection inside `BEGIN` on the SQLite file: the writer's group transaction (each job
    /// in a savepoint of its own), a reader's, or an admin command's own.
    Sqlite(&'a Connection, Moment),
    /// A pooled PostgreSQL connection inside `BEGIN` (READ COMMITTED for a write job,
    /// REPEATABLE READ for a read).
    Postgres(&'a Session, Moment),
}

/// When a job happens: read from the application's [`Clock`] once, when the job is handed to the
/// store (so a job run again sees the same moment), like PostgreSQL's `now()` is the moment its
/// transaction began. Every time a job writes or compares comes from here, never from SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moment {
    unix_millis: i64,
}

impl Moment {
    /// Now, by `clock`.
    pub fn of(clock: &Clock) -> Moment {
        Moment { unix_millis: clock.now_millis() }
    }

    /// This moment in unix seconds, the form expiry times are stored in.
    pub fn unix(self) -> i64 {
        self.unix_millis.div_euclid(1000)
    }

    /// This moment as stored timestamps are written (`2026-12-02T08:03:12.345Z`).
    pub fn timestamp(self) -> String {
        timestamp_of_millis(self.unix_millis)
    }
}

/// When a write job's changes are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    /// Kept when the job returns `Ok`, undone when it returns `Err`: almost every job.
    OnOk,
    /// Kept even when the job returns `Err`: for the one change that must stick while the job
    /// fails, revoking what a replayed code or refresh token issued.
    Always,
}

impl<'a> Tx<'a> {
    /// A transaction on `conn` at the moment `clock` reads now (for tests, and for code that holds
    /// its own connection).
    pub fn sqlite_at(conn: &'a Connection, clock: &Clock) -> Tx<'a> {
        Tx::Sqlite(conn, Moment::of(clock))
    }

    /// The job's moment.
    pub fn now(&self) -> Moment {
        match self {
            Tx::Sqlite(_, now) | Tx::Postgres(_, now) => *now,
        }
    }

    /// The SQLite connection, for the store's code that is SQLite's alone (and the modules not yet
    /// written in the portable form of `store::sql`); on PostgreSQL, an error naming the gap.
    pub(crate) fn sqlite(&self) -> Result<&'a Connection, StoreError> {
        match self {
            Tx::Sqlite(conn, _) => Ok(conn),
            Tx::Postgres(..) => Err(StoreError::Other("this operation is not available on PostgreSQL yet".into())),
        }
    }

    /// Runs statements without parameters, on either backend (a savepoint, a migration step).
    pub(crate) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(conn, _) => Ok(crate::store::sqlite::exec(conn, sql)?),
            Tx::Postgres(session, _) => session.batch(sql),
        }
    }

    /// Runs `step` in a savepoint: what it wrote is kept when it returns `Ok(Ok(_))` and undone
    /// when it returns a domain refusal (`Ok(Err(_))`) or fails. After a failed statement,
    /// PostgreSQL aborts the rest of the transaction unless a savepoint was taken, so a step that
    /// may fail while the job goes on runs in one on both backends.
    pub fn savepoint<T, D>(
        &mut self,
        step: impl FnOnce(&mut Tx<'a>) -> Result<Result<T, D>, StoreError>,
    ) -> Result<Result<T, D>, StoreError> {
        // The same texts on both: `ROLLBACK TO name` and `RELEASE name` are SQLite's and
        // PostgreSQL's (the SAVEPOINT keyword is optional in both).
        self.batch("SAVEPOINT step")?;
        let result = step(self);
        if !matches!(result, Ok(Ok(_))) {
            self.batch("ROLLBACK TO step")?;
        }
        self.batch("RELEASE step")?;
        result
    }
}
