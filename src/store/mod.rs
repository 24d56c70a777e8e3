//! The storage boundary: every SQL statement of gpt-todo lives under this module, one module per
//! aggregate (todos, tokens, codes, clients, users, sessions, quota, the call log, the audit log,
//! the console's and the CLI's reports). Nothing outside it names the driver.
//!
//! A [`Store`] runs jobs: `store.write(commit, job)` runs `job(&mut Tx)` in one transaction and
//! `store.read(job)` in one snapshot. Jobs are `Fn`, because a backend may run one again (a
//! PostgreSQL serialization failure retries the whole job): a job has no side effect outside its
//! transaction. Logging, metrics, hashing and reading the clock happen before or after it, and what
//! they give is passed in. A job's domain outcome (a refusal, a 404, a 429) is its value; its
//! `Err` is only ever a [`StoreError`].
//!
//! The server's SQLite store commits many requests' jobs in one group transaction on one writer
//! thread (`sqlite::writer`); an admin command's store is one connection of its own, used at once on
//! the calling thread ([`Store::write_now`], [`Store::read_now`]).

pub mod accounts;
pub mod audit;
pub mod call_search;
pub mod client_admin;
pub mod clients;
pub mod codes;
mod error;
mod extension;
mod id_columns;
pub mod location;
#[cfg(test)]
mod oauth_fixture;
pub mod operator_tokens;
pub mod reports;
pub mod sessions;
#[cfg(test)]
pub(crate) mod test_stores;
pub mod tokens;
mod tx;
pub mod usage_counters;

pub mod call_log;
pub mod param;
pub mod postgres;
pub mod quota;
pub mod sql;
pub mod sqlite;
pub mod todos;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::store::postgres::Pg;
use crate::store::sqlite::{self as db, Db, DbError, Retention};
use crate::support::clock::Clock;

pub use error::StoreError;
pub use extension::{Migration, Row, Value};
pub use location::Location;
pub use tx::{Commit, Moment, Tx};

/// The database every part of gpt-todo reads and writes through; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Gives every job its moment ([`Tx::now`]).
    clock: Clock,
}

/// Which database, picked at run time from `--db`.
#[derive(Clone)]
enum Backend {
    Sqlite(Sqlite),
    /// A pool of connections; the server's store and an admin command's are the same.
    Postgres(Pg),
}

/// The two ways gpt-todo holds an SQLite file.
#[derive(Clone)]
enum Sqlite {
    /// The server's: a pool of readers and the one group-committing writer.
    Server(Db),
    /// An admin command's: one connection, each job its own `BEGIN IMMEDIATE` transaction.
    Direct(Arc<Mutex<Connection>>),
}

impl Store {
    /// The server's store on the SQLite file at `path` ([`Db::open`]).
    pub fn open_server(path: &Path, fsync_before_answer: bool, retention: Retention) -> Result<Store, DbError> {
        let clock = retention.clock.clone();
        Ok(Store::sqlite(Sqlite::Server(Db::open(path, fsync_before_answer, retention)?), clock))
    }

    /// An admin command's store on the SQLite file at `path`, beside a server that may be running
    /// (WAL and the busy timeout let both work); a missing file is created only with `missing`.
    pub fn open_direct(path: &Path, missing: db::file::Missing) -> Result<Store, DbError> {
        let conn = db::file::open(path, missing)?;
        Ok(Store::sqlite(Sqlite::Direct(Arc::new(Mutex::new(conn))), Clock::system()))
    }

    /// The server's store over an open [`Db`] (while the callers still holding the `Db` itself
    /// move to the store).
    pub fn from_server_db(db: Db, clock: Clock) -> Store {
        Store::sqlite(Sqlite::Server(db), clock)
    }

    /// A store on the PostgreSQL database `config` names, migrated, with up to `pool_size`
    /// connections (for the server and the admin commands alike).
    pub fn open_postgres(config: &postgres::PgConfig, pool_size: u32, clock: Clock) -> Result<Store, StoreError> {
        Ok(Store { backend: Backend::Postgres(Pg::open(config, pool_size)?), clock })
    }

    fn sqlite(sqlite: Sqlite, clock: Clock) -> Store {
        Store { backend: Backend::Sqlite(sqlite), clock }
    }

    /// Runs `job` in one write transaction and returns its value once that is committed. With
    /// [`Commit::OnOk`], an `Err` undoes everything the job wrote. A job that lost a race
    /// ([`StoreError::Serialization`]) is undone and run again as a whole, a few times, after a
    /// short random pause; then the error is the answer.
    pub async fn write<T, F>(&self, commit: Commit, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Tx<'_>) -> Result<T, StoreError> + Send + Sync + 'static,
    {
        let job = Arc::new(job);
        let now = Moment::of(&self.clock);
        let mut attempt = 1;
        loop {
            match self.write_once(commit, now, job.clone()).await {
                Err(StoreError::Serialization(_)) if attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(retry_pause(attempt)).await;
                    attempt += 1;
                }
                written => return written,
            }
        }
    }

    async fn write_once<T, F>(&self, commit: Commit, now: Moment, job: Arc<F>) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Tx<'_>) -> Result<T, StoreError> + Send + Sync + 'static,
    {
        match &self.backend {
            Backend::Sqlite(Sqlite::Server(db)) => {
                let run = move |conn: &Connection| job(&mut Tx::Sqlite(conn, now));
                match commit {
                    Commit::OnOk => db.write(run).await,
                    Commit::Always => db.write_commit_even_on_err(run).await,
                }
            }
            Backend::Sqlite(Sqlite::Direct(conn)) => {
                let conn = conn.clone();
                blocking(move || write_direct(&conn, commit, now, &*job)).await
            }
            Backend::Postgres(pg) => {
                let pg = pg.clone();
                blocking(move || pg.write(commit, now, &*job)).await
            }
        }
    }

    /// Runs `job` in one read snapshot.
    pub async fn read<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Tx<'_>) -> Result<T, StoreError> + Send + Sync + 'static,
    {
        let now = Moment::of(&self.clock);
        match &self.backend {
            Backend::Sqlite(Sqlite::Server(db)) => db.read(move |conn: &Connection| snapshot(conn, now, &job)).await,
            Backend::Sqlite(Sqlite::Direct(conn)) => {
                let conn = conn.clone();
                blocking(move || read_direct(&conn, now, &job)).await
            }
            Backend::Postgres(pg) => {
                let pg = pg.clone();
                blocking(move || pg.read(now, &job)).await
            }
        }
    }

    /// [`Store::write`] on the calling thread, for the admin commands (which have no runtime).
    /// On the server's store it is refused: the server's writes go through its writer.
    pub fn write_now<T>(
        &self,
        commit: Commit,
        job: impl Fn(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(Sqlite::Direct(conn)) => write_direct(conn, commit, Moment::of(&self.clock), &job),
            Backend::Sqlite(Sqlite::Server(_)) => Err(not_direct()),
            Backend::Postgres(pg) => with_retries(|| pg.write(commit, Moment::of(&self.clock), &job)),
        }
    }

    /// [`Store::read`] on the calling thread, for the admin commands.
    pub fn read_now<T>(&self, job: impl Fn(&mut Tx<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(Sqlite::Direct(conn)) => read_direct(conn, Moment::of(&self.clock), &job),
            Backend::Sqlite(Sqlite::Server(_)) => Err(not_direct()),
            Backend::Postgres(pg) => pg.read(Moment::of(&self.clock), &job),
        }
    }

    /// Why writes fail right now (a full disk, an I/O error), or `None` when they work.
    pub fn write_failure(&self) -> Option<String> {
        match &self.backend {
            Backend::Sqlite(Sqlite::Server(db)) => db.write_failure(),
            Backend::Sqlite(Sqlite::Direct(_)) => None,
            Backend::Postgres(pg) => pg.failure(),
        }
    }

    /// Once the server has stopped: moves SQLite's write-ahead log into the main file.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(Sqlite::Server(db)) => Ok(db.checkpoint().await?),
            Backend::Sqlite(Sqlite::Direct(_)) | Backend::Postgres(_) => Ok(()),
        }
    }

    /// The SQLite connection of an admin command's store, for the file operations only SQLite has
    /// (`backup`); `None` on any other store.
    pub fn with_sqlite_file<T>(&self, f: impl FnOnce(&Connection) -> T) -> Option<T> {
        match &self.backend {
            Backend::Sqlite(Sqlite::Direct(conn)) => Some(f(&lock(conn))),
            Backend::Sqlite(Sqlite::Server(_)) | Backend::Postgres(_) => None,
        }
    }
}

/// How many times a job that keeps losing races is run in all.
const MAX_ATTEMPTS: u32 = 5;

/// A random pause before attempt `attempt + 1`, growing with each (up to ~2, 4, 8, 16 ms), so the
/// jobs that collided do not collide again in step.
fn retry_pause(attempt: u32) -> std::time::Duration {
    let ceiling_micros = 1_000u64 << attempt.min(10);
    let jitter = u64::from(rand::random::<u32>()) % ceiling_micros;
    std::time::Duration::from_micros(ceiling_micros / 2 + jitter / 2)
}

/// [`Store::write`]'s retries, on the calling thread.
fn with_retries<T>(mut once: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let mut attempt = 1;
    loop {
        match once() {
            Err(StoreError::Serialization(_)) if attempt < MAX_ATTEMPTS => {
                std::thread::sleep(retry_pause(attempt));
                attempt += 1;
            }
            done => return done,
        }
    }
}

fn not_direct() -> StoreError {
    StoreError::Other("the server's store runs jobs through its writer, not on the calling thread".into())
}

fn lock(conn: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    // A job that panicked cannot have left a transaction open: it is rolled back below first.
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_direct<T>(
    conn: &Mutex<Connection>,
    commit: Commit,
    now: Moment,
    job: &impl Fn(&mut Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let conn = lock(conn);
    db::exec(&conn, "BEGIN IMMEDIATE")?;
    let result = job(&mut Tx::Sqlite(&conn, now));
    let end = if result.is_ok() || commit == Commit::Always { "COMMIT" } else { "ROLLBACK" };
    if let Err(e) = db::exec(&conn, end) {
        let _ = db::exec(&conn, "ROLLBACK");
        return Err(e.into());
    }
    result
}

fn read_direct<T>(
    conn: &Mutex<Connection>,
    now: Moment,
    job: &impl Fn(&mut Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    snapshot(&lock(conn), now, job)
}

/// A read job in one transaction, so every statement of it sees the same commit.
fn snapshot<T>(
    conn: &Connection,
    now: Moment,
    job: &impl Fn(&mut Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    db::exec(conn, "BEGIN")?;
    let result = job(&mut Tx::Sqlite(conn, now));
    let _ = db::exec(conn, "ROLLBACK");
    result
}

/// Runs blocking database work off the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(StoreError::Other(format!("a database task failed: {e}"))))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn server_store(dir: &tempfile::TempDir) -> Store {
        Store::open_server(&dir.path().join("store.db"), false, Retention::default()).unwrap()
    }

    #[tokio::test]
    async fn a_job_that_lost_a_race_is_undone_and_run_again_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = server_store(&dir);
        store.write(Commit::OnOk, |tx| tx.execute("CREATE TABLE t (x INTEGER)", &[]).map(drop)).await.unwrap();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let written = store
            .write(Commit::OnOk, move |tx| {
                tx.execute("INSERT INTO t VALUES ($1)", &[Value::Integer(7)])?;
                match counted.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(StoreError::Serialization("injected: could not serialize access".into())),
                    _ => Ok("second time"),
                }
            })
            .await;
        assert_eq!(written.unwrap(), "second time");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let rows = store.read(|tx| tx.query("SELECT x FROM t", &[])).await.unwrap();
        assert_eq!(rows.len(), 1, "the first run's insert was undone: {rows:?}");
    }

    #[tokio::test]
    async fn a_job_that_keeps_losing_gives_up_with_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = server_store(&dir);
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let written: Result<(), _> = store
            .write(Commit::OnOk, move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                Err(StoreError::Serialization("injected".into()))
            })
            .await;
        assert!(matches!(written, Err(StoreError::Serialization(_))));
        assert_eq!(runs.load(Ordering::SeqCst), MAX_ATTEMPTS);
    }

    #[test]
    fn an_admin_store_commits_on_ok_and_undoes_on_err_unless_told_to_commit_always() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_direct(&dir.path().join("admin.db"), db::file::Missing::Create).unwrap();
        store.write_now(Commit::OnOk, |tx| tx.execute("CREATE TABLE t (x INTEGER)", &[]).map(drop)).unwrap();
        let insert_then_fail = |x: i64| {
            move |tx: &mut Tx<'_>| -> Result<(), StoreError> {
                tx.execute("INSERT INTO t VALUES ($1)", &[Value::Integer(x)])?;
                Err(StoreError::Other("refused".into()))
            }
        };
        assert!(store.write_now(Commit::OnOk, insert_then_fail(1)).is_err());
        assert!(store.write_now(Commit::Always, insert_then_fail(2)).is_err());
        let kept = store.read_now(|tx| tx.query("SELECT x FROM t", &[])).unwrap();
        assert_eq!(kept, vec![Row::of(vec![Value::Integer(2)])]);
    }
}
