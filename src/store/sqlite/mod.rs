//! The SQLite file: opening it, migrating it, a pool of readers, and the single writer.
//!
//! Reads (token look-ups, user info) use a small r2d2 pool on blocking threads ([`Db::read`]).
//! Every write goes through the one writer thread ([`Db::write`]), which commits many requests'
//! work in one transaction. The statements themselves live in `crate::store`; this module knows
//! nothing of HTTP, auth or OAuth.

pub mod backup;
#[cfg(test)]
mod call_log_fixture;
pub mod file;
pub mod health;
pub mod housekeeping;
pub mod lock;
pub mod owner;
pub mod retention;
pub mod rollups;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use file::Missing;
use health::Health;
pub use housekeeping::Retention;
use lock::ServerLock;
use writer::Writer;

/// The schema's steps in order: step N brings a database to `PRAGMA user_version = N`.
/// Step 1 is `schema.sql` (deployed databases are at 1, so it is never edited). Every later step is
/// a file `migrations/NNNN_<name>.sql` whose number is the version it brings the file to, appended
/// here in order.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../schema.sql"),
    include_str!("../../../migrations/0002_quota_windows.sql"),
    include_str!("../../../migrations/0003_user_admin.sql"),
    include_str!("../../../migrations/0004_application_id.sql"),
    include_str!("../../../migrations/0005_housekeeping_indexes.sql"),
    include_str!("../../../migrations/0006_mcp.sql"),
    include_str!("../../../migrations/0007_console.sql"),
    include_str!("../../../migrations/0008_public_bounds.sql"),
    include_str!("../../../migrations/0009_cli_audit.sql"),
    include_str!("../../../migrations/0010_extension_migrations.sql"),
    include_str!("../../../migrations/0011_rollups_by_housekeeping.sql"),
];

pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READ_POOL_SIZE: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error(
        "the database has schema version {found}, newer than this gpt-todo {} knows ({known}): a newer release \
         upgraded it. Downgrades are not supported: run that release, or restore the backup made before the upgrade",
        env!("CARGO_PKG_VERSION")
    )]
    NewerSchema { found: i64, known: usize },
    #[error("a database task failed: {0}")]
    Task(String),
    /// A write could not be committed (a full disk, an I/O error); the caller may try again.
    #[error("the database cannot be written: {0}")]
    Unavailable(String),
    /// The file at `--db` cannot be used as it is: one line naming it, what is wrong, what to do.
    #[error("{0}")]
    File(String),
}

/// Handles to the database shared by every request. When the last one is dropped, every
/// connection is closed (the readers', then the writer's and checkpointer's, whose threads are
/// joined) before the drop returns, so SQLite removes `-wal` and `-shm`; then the lock is released.
#[derive(Clone)]
pub struct Db {
    readers: r2d2::Pool<SqliteConnectionManager>,
    writer: Writer,
    health: Health,
    /// Held for as long as any handle lives: no second server, and no restore, meanwhile.
    _lock: Arc<ServerLock>,
}

impl Db {
    /// Checks the file is a gpt-todo database this server can write (creating it if missing),
    /// migrates it, then starts the writer thread; refused while another server runs on it. With
    /// `fsync_before_answer`, a write is answered only once the write-ahead log holding it is
    /// fsynced (it survives power loss); without, once it is committed (it survives a crash of
    /// gpt-todo, and power loss may undo the last commits, each whole). Housekeeping on the
    /// writer keeps rows as long as `retention` says.
    pub fn open(path: &Path, fsync_before_answer: bool, retention: Retention) -> Result<Db, DbError> {
        let lock = ServerLock::acquire(path)?;
        let writer_conn = file::open(path, Missing::Create)?;
        file::ensure_writable(path, &writer_conn)?;
        let fsync_wal = fsync_before_answer.then(|| wal_path(path));
        let manager = SqliteConnectionManager::file(path).with_init(|conn| configure(conn));
        // No idle timeout or lifetime: r2d2 would then replace connections on a thread of its own,
        // which could still hold one when the process exits (and leave -wal and -shm behind).
        let readers =
            r2d2::Pool::builder().max_size(READ_POOL_SIZE).idle_timeout(None).max_lifetime(None).build(manager)?;
        let health = Health::default();
        let writer = Writer::start(writer_conn, open_connection(path)?, fsync_wal, health.clone(), retention);
        Ok(Db { readers, writer, health, _lock: Arc::new(lock) })
    }

    /// Why writes fail right now (a full disk, an I/O error), or `None` when they work.
    pub fn write_failure(&self) -> Option<String> {
        self.health.failure()
    }

    /// Runs a read on a pooled connection, on a blocking thread (rusqlite must not block the runtime).
    /// Like [`Db::write`], a failure of the database itself comes back as `E::from(DbError)`, so
    /// the caller needs one `?`.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.readers.clone();
        let read = move || match pool.get() {
            Ok(conn) => f(&conn),
            Err(e) => Err(E::from(DbError::from(e))),
        };
        tokio::task::spawn_blocking(read).await.unwrap_or_else(|e| Err(E::from(DbError::Task(e.to_string()))))
    }

    /// Runs `f` on the writer, inside the next group transaction, and returns its result once that
    /// is committed. When `f` returns `Err`, everything it wrote is undone (the rest of the group
    /// commits). A failure of the database itself comes back as `E::from(DbError)`, so the caller
    /// needs one `?`.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.writer
            .run(move |conn| {
                let result = f(conn);
                let keep = result.is_ok();
                (result, keep)
            })
            .await
            .unwrap_or_else(|e| Err(E::from(e)))
    }

    /// Like [`Db::write`], except that what `f` wrote is committed even when it returns `Err`.
    /// Only for an answer that is an error AND a change that must stick: revoking every token
    /// of a grant when its code or refresh token is replayed.
    pub async fn write_commit_even_on_err<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.writer.run(move |conn| (f(conn), true)).await.unwrap_or_else(|e| Err(E::from(e)))
    }

    /// Moves the write-ahead log into the main file; called once the server has stopped.
    pub async fn checkpoint(&self) -> Result<(), DbError> {
        self.read(|conn| Ok(checkpoint(conn)?)).await
    }
}

/// SQLite's write-ahead log beside the database file.
pub fn wal_path(path: &Path) -> PathBuf {
    beside(path, "-wal")
}

/// SQLite's shared-memory index of the write-ahead log.
pub fn shm_path(path: &Path) -> PathBuf {
    beside(path, "-shm")
}

/// The database's path with `suffix` appended to its file name.
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens one connection with the pragmas every connection needs.
pub fn open_connection(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Room for every statement the writer runs, so none is evicted and parsed again.
    conn.set_prepared_statement_cache_capacity(64);
    // The bundled SQLite plans with STAT4, which would re-prepare a statement whenever a value
    // bound in a range (the list's `id < ?` cursor) changes, i.e. on every call. The plan does
    // not depend on those values here (an index range read in order), so keep it.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // WAL lets readers (ours, or an operator's sqlite3 shell) run beside the writer; FULL makes a
    // commit survive power loss (the admin commands' commits). The server's writer instead fsyncs
    // the log itself, once per group commit, off its own thread (see writer.rs).
    // temp_store = MEMORY: a savepoint's statement journal (every job runs in one) stays in memory
    // instead of spilling to a temporary file.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )
}

/// Runs one statement without parameters from the connection's statement cache: the writer's
/// BEGIN, COMMIT and savepoints run for every call, and need not be parsed every time.
pub fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs `f` inside a savepoint: what it wrote is kept when it returns `Ok` and undone when it
/// returns `Err`, whatever else the surrounding transaction holds. The outer `Err` is a failure of
/// the savepoint itself, which leaves the transaction in doubt.
pub fn in_savepoint<T, E>(conn: &Connection, f: impl FnOnce() -> Result<T, E>) -> rusqlite::Result<Result<T, E>> {
    savepoint(conn, f, Result::is_ok)
}

/// The one savepoint sequence: runs `f`, then keeps its writes if `keep` says so and rolls them
/// back otherwise. Savepoints nest: `ROLLBACK TO` and `RELEASE` name the innermost one open.
pub fn savepoint<T>(conn: &Connection, f: impl FnOnce() -> T, keep: impl FnOnce(&T) -> bool) -> rusqlite::Result<T> {
    exec(conn, "SAVEPOINT step")?;
    let result = f();
    if !keep(&result) {
        exec(conn, "ROLLBACK TO step")?;
    }
    exec(conn, "RELEASE step")?;
    Ok(result)
}

/// Brings the schema up to date, each migration in its own transaction.
pub fn migrate(conn: &Connection) -> Result<(), DbError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    // A newer release migrated this file; an older one must not write to a schema it does not know.
    if current > MIGRATIONS.len() as i64 {
        return Err(DbError::NewerSchema { found: current, known: MIGRATIONS.len() });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index + 1;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {version}; COMMIT;")).inspect_err(
            |_| {
                let _ = conn.execute_batch("ROLLBACK");
            },
        )?;
    }
    Ok(())
}

/// Moves the write-ahead log into the main file, so a stopped server leaves one self-contained file.
pub fn checkpoint(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_savepoint_leaves_nothing_behind() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER); BEGIN").unwrap();
        let failed = in_savepoint(&conn, || {
            conn.execute("INSERT INTO t VALUES (1)", [])?;
            conn.execute("INSERT INTO no_such_table VALUES (2)", [])
        });
        assert!(failed.unwrap().is_err());
        in_savepoint(&conn, || conn.execute("INSERT INTO t VALUES (3)", [])).unwrap().unwrap();
        conn.execute_batch("COMMIT").unwrap();
        let rows: Vec<i64> =
            conn.prepare("SELECT x FROM t").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(rows, vec![3]);
    }

    #[tokio::test]
    async fn a_write_is_undone_on_err_unless_named_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("write.db"), false, Retention::default()).unwrap();
        db.write(|conn| Ok::<_, DbError>(conn.execute_batch("CREATE TABLE t (x INTEGER)")?)).await.unwrap();
        let insert_then_fail = |x: i64| {
            move |conn: &Connection| -> Result<(), DbError> {
                conn.execute("INSERT INTO t VALUES (?1)", [x])?;
                Err(DbError::Task("refused".into()))
            }
        };
        assert!(db.write(insert_then_fail(1)).await.is_err());
        assert!(db.write_commit_even_on_err(insert_then_fail(2)).await.is_err());
        let kept: Vec<i64> = db
            .read(|conn| {
                Ok::<_, DbError>(
                    conn.prepare("SELECT x FROM t")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?,
                )
            })
            .await
            .unwrap();
        assert_eq!(kept, vec![2], "only the write that says it commits on Err keeps its row");
    }
}
