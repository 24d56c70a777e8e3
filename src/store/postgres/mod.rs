//! PostgreSQL: a pool of blocking rust-postgres connections (r2d2, as for SQLite's readers), each
//! job one transaction on one of them, run on a blocking thread. Any number of gpt-todo instances
//! may share the database: every invariant is one statement (issue 19 item 3), so READ COMMITTED
//! suffices, and a serialization failure or deadlock (SQLSTATE 40001, 40P01: a database set to
//! SERIALIZABLE, or CockroachDB) comes back as [`StoreError::Serialization`], which
//! [`crate::store::Store::write`] answers by running the whole job again.

pub mod config;
mod error;
mod migrate;
mod pool;
#[doc(hidden)]
pub mod throwaway;
mod tls;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::Statement;
use postgres::fallible_iterator::FallibleIterator;

pub use config::{PgConfig, SslMode};
use pool::Manager;

use super::param::Param;
use super::{Commit, Moment, StoreError, Tx};

/// How many connections one instance holds at most (`--db-pool-size`): PostgreSQL's default
/// `max_connections` is 100, so a few instances fit beside psql and a backup.
pub const DEFAULT_POOL_SIZE: u32 = 10;
/// The longest a statement may run (PostgreSQL's `statement_timeout`) and a job may wait for a
/// connection: below the HTTP deadlines, so a stuck database answers 503 instead of hanging.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The pool of one instance.
#[derive(Clone)]
pub struct Pg {
    pool: r2d2::Pool<Manager>,
    /// Why the last job could not reach the database, until one does again: `/healthz` reads it
    /// without a query of its own (it runs on the async runtime, where a blocking client must not).
    failure: Arc<Mutex<Option<String>>>,
    /// Last, so that it holds the last handle of the pool: see [`Closer`].
    _closer: Arc<Closer>,
}

/// Closes the pool's connections on a thread of its own. A rust-postgres `Client` runs a small
/// runtime of its own and blocks on it, also when dropped, which would panic on one of the
/// server's async threads (where the last `Store` may well go).
struct Closer(Option<r2d2::Pool<Manager>>);

impl Drop for Closer {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// One pooled connection and the statements prepared on it (PostgreSQL keeps a prepared
/// statement per session; preparing once saves a round trip per call).
/// Its parts are `RefCell`s because a job's `Tx` shares the session: one job runs on it at a
/// time, on one thread.
pub struct Session {
    client: RefCell<postgres::Client>,
    statements: RefCell<HashMap<String, Statement>>,
}

/// Beyond this many distinct texts (only extensions' own SQL varies), the cache starts over.
const MAX_STATEMENTS: usize = 512;

impl Pg {
    /// Connects, checks and migrates the schema ([`migrate::run`]), and keeps up to `pool_size`
    /// connections. Refused in one line when the database is unreachable, or newer than this
    /// gpt-todo, or holds tables that are not gpt-todo's.
    /// Blocks: it runs on a thread of its own, so it may be called from async code too.
    pub fn open(config: &PgConfig, pool_size: u32) -> Result<Pg, StoreError> {
        std::thread::scope(|scope| scope.spawn(|| Pg::open_here(config, pool_size)).join())
            .unwrap_or_else(|_| Err(StoreError::Other("opening the PostgreSQL pool panicked".into())))
    }

    fn open_here(config: &PgConfig, pool_size: u32) -> Result<Pg, StoreError> {
        let manager = Manager::new(config)?;
        // No check-out test (a round trip per job): a connection that broke is noticed by its
        // first statement, and a job whose BEGIN finds it closed takes another (`begin`).
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(STATEMENT_TIMEOUT)
            .test_on_check_out(false)
            .build_unchecked(manager);
        let pg = Pg { pool: pool.clone(), failure: Arc::default(), _closer: Arc::new(Closer(Some(pool))) };
        migrate::run(&*pg.session()?)?;
        Ok(pg)
    }

    fn session(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool.get().map_err(|e| StoreError::Unavailable(format!("no PostgreSQL connection: {e}")))
    }

    /// A connection inside `begin`'s transaction. A pooled connection the database closed
    /// meanwhile (a restart) fails at once and is replaced, once: nothing was done yet.
    fn begun(&self, begin: &str) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        let session = self.session()?;
        let begun = session.client.borrow_mut().batch_execute(begin);
        match begun {
            Ok(()) => Ok(session),
            Err(e) if session.client.borrow().is_closed() => {
                drop(session);
                tracing::debug!(error = %e, "a pooled PostgreSQL connection was closed; taking another");
                let session = self.session()?;
                session.batch(begin)?;
                Ok(session)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One write job in one transaction, on the calling (blocking) thread.
    pub fn write<T>(
        &self,
        commit: Commit,
        now: Moment,
        job: &impl Fn(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.noted(self.write_once(commit, now, job))
    }

    fn write_once<T>(
        &self,
        commit: Commit,
        now: Moment,
        job: &impl Fn(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let session = self.begun("BEGIN")?;
        let result = job(&mut Tx::Postgres(&session, now));
        if result.is_err() && commit == Commit::OnOk {
            // A failed rollback leaves nothing committed; the connection, if broken, is dropped.
            let _ = session.batch("ROLLBACK");
            return result;
        }
        match session.client.borrow_mut().batch_execute("COMMIT") {
            Ok(()) => result,
            // The database answered: the transaction was rolled back (a 40001 at commit is
            // retried as a whole like any other).
            Err(e) if e.code().is_some() => Err(e.into()),
            // No answer: it may or may not have committed. Never run again (that could count
            // twice): a 503 for the caller to decide.
            Err(e) => Err(StoreError::Unavailable(format!("the outcome of a commit is unknown: {e}"))),
        }
    }

    /// One read job in one snapshot (REPEATABLE READ: every statement sees the same commit).
    pub fn read<T>(&self, now: Moment, job: &impl Fn(&mut Tx<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.noted((|| {
            let session = self.begun("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
            let result = job(&mut Tx::Postgres(&session, now));
            let _ = session.batch("ROLLBACK");
            result
        })())
    }

    /// Keeps what `result` says of the database's health for [`Pg::failure`].
    fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let failure = match &result {
            Err(StoreError::Unavailable(why)) => Some(why.clone()),
            _ => None,
        };
        *self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = failure;
        result
    }

    /// Why the last job could not reach the database, or `None` once one did (for `/healthz`).
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

impl Session {
    fn new(client: postgres::Client) -> Session {
        Session { client: RefCell::new(client), statements: RefCell::new(HashMap::new()) }
    }

    fn statement(&self, text: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.borrow().get(text) {
            return Ok(statement.clone());
        }
        let statement = self.client.borrow_mut().prepare(text)?;
        let mut statements = self.statements.borrow_mut();
        if statements.len() >= MAX_STATEMENTS {
            statements.clear();
        }
        statements.insert(text.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Runs one statement; returns how many rows it changed.
    pub fn run(&self, text: &str, params: &[&dyn Param]) -> Result<u64, StoreError> {
        let statement = self.statement(text)?;
        let mut client = self.client.borrow_mut();
        let mut rows = client.query_raw(&statement, Session::pg_params(params))?;
        while rows.next()?.is_some() {}
        Ok(rows.rows_affected().unwrap_or(0))
    }

    /// Runs one query; returns its rows.
    pub fn query(&self, text: &str, params: &[&dyn Param]) -> Result<Vec<postgres::Row>, StoreError> {
        let statement = self.statement(text)?;
        let mut client = self.client.borrow_mut();
        let rows = client.query_raw(&statement, Session::pg_params(params))?;
        Ok(rows.collect()?)
    }

    /// Runs statements without parameters (a migration, a savepoint).
    pub fn batch(&self, text: &str) -> Result<(), StoreError> {
        Ok(self.client.borrow_mut().batch_execute(text)?)
    }
}
