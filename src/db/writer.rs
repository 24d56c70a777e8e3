//! The single database writer, with group commit.
//!
//! SQLite allows one writer at a time, and a commit in `synchronous = FULL` costs an fsync. So one
//! thread owns the write connection: it takes every job that is waiting, runs them all inside one
//! transaction (each in its own savepoint, so one job's failure undoes only that job), commits once,
//! and only then tells each job's caller its result. A caller is answered only after its work is
//! durable, and a busy server pays one fsync for many requests.
//!
//! The fsync is pipelined: the connection commits without one (`synchronous = NORMAL`), and a
//! syncer thread fsyncs the write-ahead log before answering the batch's callers, while the writer
//! already runs the next batch. The log is append-only, so one fsync makes every commit before it
//! durable, and an answered call is as durable as under `synchronous = FULL`. (Another request may
//! read a commit a moment before its fsync; it is itself answered only after a later fsync, which
//! covers the commit it read.)
//!
//! Checkpoints (copying the write-ahead log into the main file, with fsyncs of both) run on a
//! thread of their own, so no request waits behind one; SQLite lets a checkpoint run beside the
//! writer.

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{DbError, checkpoint, exec, savepoint};

/// How many jobs one transaction takes at most; bounds the latency a big batch adds.
const MAX_BATCH: usize = 256;
/// How often the checkpointer moves the log into the main file (a no-op when nothing is new).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Called once the batch's commit has succeeded or failed.
type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;
/// A job's work, then whether to keep it (`false` rolls back the job's savepoint).
type Job = Box<dyn FnOnce(&Connection) -> (Finish, bool) + Send>;

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Never sent on: when the last `Writer` is dropped, the checkpointer stops.
    _checkpoints: mpsc::Sender<()>,
}

impl Writer {
    /// Starts the writer on `conn` and the checkpointer on `checkpoint_conn`, two connections to
    /// the same file. With `fsync_wal` (the file's write-ahead log), callers are answered once it
    /// is fsynced; without, once their commit is written.
    pub fn start(conn: Connection, checkpoint_conn: Connection, fsync_wal: Option<PathBuf>) -> Writer {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (checkpoints, stop) = mpsc::channel::<()>();
        // The writer must never stop to checkpoint or fsync: the other threads do that.
        let _ = conn.pragma_update(None, "wal_autocheckpoint", 0);
        let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        let syncer = fsync_wal.map(|wal| {
            let (committed, waiting) = mpsc::channel::<Vec<Finish>>();
            thread::Builder::new()
                .name("db-sync".into())
                .spawn(move || sync_until_stopped(wal, waiting))
                .expect("spawning the database sync thread");
            committed
        });
        thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(conn, queue, syncer))
            .expect("spawning the database writer thread");
        thread::Builder::new()
            .name("db-checkpoint".into())
            .spawn(move || checkpoint_until_stopped(checkpoint_conn, stop))
            .expect("spawning the database checkpoint thread");
        Writer { jobs, _checkpoints: checkpoints }
    }

    /// Runs `f` inside the next group transaction, in a savepoint of its own, and returns its
    /// value once the transaction is committed. `f` gives its value and whether to keep its
    /// writes (`false` rolls back its savepoint, the rest of the batch goes on). If the commit
    /// fails, the value is discarded and the caller gets the error. [`super::Db::write`] is the
    /// interface the rest of the program uses.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> (T, bool) + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let (value, keep) = f(conn);
            let finish: Finish = Box::new(move |committed: Result<(), DbError>| {
                let _ = reply.send(committed.map(|()| value));
            });
            (finish, keep)
        });
        self.jobs.send(job).map_err(|_| DbError::WriterGone)?;
        // A dropped reply means the job panicked (and was rolled back) or the writer died.
        answer.await.map_err(|_| DbError::WriterGone)?
    }
}

fn run(conn: Connection, queue: mpsc::Receiver<Job>, syncer: Option<mpsc::Sender<Vec<Finish>>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (finishers, committed) = commit_batch(&conn, batch);
        match (&syncer, committed) {
            (Some(syncer), Ok(())) => {
                // Only fails if the syncer is gone; then the callers see `WriterGone`.
                let _ = syncer.send(finishers);
            }
            (_, committed) => finish_all(finishers, committed.map_err(|e| e.to_string())),
        }
    }
    if let Err(e) = checkpoint(&conn) {
        tracing::warn!(error = %e, "final WAL checkpoint failed");
    }
}

/// A passive checkpoint copies what no reader still needs, without waiting for anyone.
fn checkpoint_until_stopped(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// Answers callers whose commits are fsynced: all that are waiting, with one fsync of the log.
fn sync_until_stopped(wal_path: PathBuf, waiting: mpsc::Receiver<Vec<Finish>>) {
    let mut wal: Option<File> = None;
    while let Ok(mut finishers) = waiting.recv() {
        while let Ok(more) = waiting.try_recv() {
            finishers.extend(more);
        }
        // Opened on first use: SQLite creates the log, and keeps it while any connection is open.
        let wal = match &wal {
            Some(file) => Ok(file),
            None => File::open(&wal_path).map(|file| &*wal.insert(file)),
        };
        let synced = wal.and_then(File::sync_data).map_err(|e| {
            tracing::error!(error = %e, "cannot fsync the write-ahead log");
            format!("fsync of the write-ahead log failed: {e}")
        });
        finish_all(finishers, synced);
    }
}

fn finish_all(finishers: Vec<Finish>, outcome: Result<(), String>) {
    for finish in finishers {
        finish(outcome.clone().map_err(DbError::Task));
    }
}

/// Runs the batch in one transaction; returns the callers to answer and how the commit went.
fn commit_batch(conn: &Connection, batch: Vec<Job>) -> (Vec<Finish>, rusqlite::Result<()>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, jobs = batch.len(), "cannot begin a write transaction");
        // Dropping the jobs unrun drops their replies: each caller sees `WriterGone`.
        return (Vec::new(), Err(e));
    }
    let mut finishers = Vec::with_capacity(batch.len());
    for job in batch {
        finishers.extend(run_job(conn, job));
        if conn.is_autocommit() {
            // SQLite ended the transaction itself (disk full, I/O error): what ran so far is not
            // known to be committed as one group, so none of it is acknowledged, and the jobs not
            // yet run are dropped (their callers see `WriterGone`).
            tracing::error!(jobs = finishers.len(), "SQLite ended the group transaction early");
            let ended = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT);
            return (finishers, Err(rusqlite::Error::SqliteFailure(ended, Some("the transaction ended early".into()))));
        }
    }
    let committed = exec(conn, "COMMIT").map_err(|e| {
        tracing::error!(error = %e, jobs = finishers.len(), "group commit failed");
        let _ = exec(conn, "ROLLBACK");
        e
    });
    (finishers, committed)
}

/// Runs one job in its own savepoint. A job that asks to be undone, or panics, is rolled back
/// alone and the rest of the batch goes on; a panicking job's caller sees `WriterGone` (its reply
/// was dropped).
fn run_job(conn: &Connection, job: Job) -> Option<Finish> {
    let ran = savepoint(conn, || catch_unwind(AssertUnwindSafe(|| job(conn))), |ran| matches!(ran, Ok((_, true))));
    match ran {
        Ok(Ok((finish, _))) => Some(finish),
        Ok(Err(_)) => {
            tracing::error!("a database job panicked; its work was rolled back");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot open or close a job's savepoint");
            None
        }
    }
}
