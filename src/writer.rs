//! The single database writer, with group commit.
//!
//! SQLite allows one writer at a time, and a commit in `synchronous = FULL` costs an fsync. So one
//! thread owns the write connection: it takes every job that is waiting, runs them all inside one
//! transaction (each in its own savepoint, so one job's failure undoes only that job), commits once,
//! and only then tells each job's caller its result. A caller is answered only after its work is
//! durable, and a busy server pays one fsync for many requests.
//!
//! Checkpoints (copying the write-ahead log into the main file, with fsyncs of both) run on a
//! thread of their own, so no request waits behind one; SQLite lets a checkpoint run beside the
//! writer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::db::{DbError, checkpoint, exec};

/// How many jobs one transaction takes at most; bounds the latency a big batch adds.
const MAX_BATCH: usize = 256;
/// How often the checkpointer moves the log into the main file (a no-op when nothing is new).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Called once the batch's commit has succeeded or failed.
type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Finish + Send>;

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Never sent on: when the last `Writer` is dropped, the checkpointer stops.
    _checkpoints: mpsc::Sender<()>,
}

impl Writer {
    /// Starts the writer on `conn` and the checkpointer on `checkpoint_conn`, two connections to
    /// the same file.
    pub fn start(conn: Connection, checkpoint_conn: Connection) -> Writer {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (checkpoints, stop) = mpsc::channel::<()>();
        // The writer must never stop to checkpoint: that is the checkpointer's job.
        let _ = conn.pragma_update(None, "wal_autocheckpoint", 0);
        thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(conn, queue))
            .expect("spawning the database writer thread");
        thread::Builder::new()
            .name("db-checkpoint".into())
            .spawn(move || checkpoint_until_stopped(checkpoint_conn, stop))
            .expect("spawning the database checkpoint thread");
        Writer { jobs, _checkpoints: checkpoints }
    }

    /// Runs `f` inside the next group transaction and returns its value once that is committed.
    /// If the commit fails, the value is discarded and the caller gets the error.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let value = f(conn);
            Box::new(move |committed: Result<(), DbError>| {
                let _ = reply.send(committed.map(|()| value));
            })
        });
        self.jobs.send(job).map_err(|_| DbError::WriterGone)?;
        // A dropped reply means the job panicked (and was rolled back) or the writer died.
        answer.await.map_err(|_| DbError::WriterGone)?
    }
}

fn run(conn: Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&conn, batch);
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

fn commit_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, jobs = batch.len(), "cannot begin a write transaction");
        // Dropping the jobs unrun drops their replies: each caller sees `WriterGone`.
        return;
    }
    let finishers: Vec<Finish> = batch.into_iter().filter_map(|job| run_job(conn, job)).collect();
    let committed = exec(conn, "COMMIT").map_err(|e| {
        tracing::error!(error = %e, jobs = finishers.len(), "group commit failed");
        let _ = exec(conn, "ROLLBACK");
        e
    });
    for finish in finishers {
        finish(committed.as_ref().map(|_| ()).map_err(|e| DbError::Task(e.to_string())));
    }
}

/// Runs one job in its own savepoint. A panicking job is rolled back alone; its caller sees
/// `WriterGone` (its reply was dropped) and the rest of the batch goes on.
fn run_job(conn: &Connection, job: Job) -> Option<Finish> {
    if let Err(e) = exec(conn, "SAVEPOINT job") {
        tracing::error!(error = %e, "cannot open a savepoint");
        return None;
    }
    match catch_unwind(AssertUnwindSafe(|| job(conn))) {
        Ok(finish) => match exec(conn, "RELEASE job") {
            Ok(()) => Some(finish),
            Err(e) => {
                tracing::error!(error = %e, "cannot release a savepoint");
                None
            }
        },
        Err(_) => {
            tracing::error!("a database job panicked; its work was rolled back");
            let _ = exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"));
            None
        }
    }
}
