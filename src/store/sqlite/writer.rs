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
//!
//! When the last handle goes, the threads are stopped and joined before the drop returns: SQLite
//! removes `-wal` and `-shm` only when the last connection to the file closes, and a process that
//! exits while a thread still holds one leaves both behind.

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::file::APPLICATION_ID;
use super::health::Health;
use super::housekeeping;
use super::housekeeping::Retention;
use super::{DbError, checkpoint, exec, savepoint};

/// How many jobs one transaction takes at most; bounds the latency a big batch adds.
const MAX_BATCH: usize = 256;
/// How often the checkpointer moves the log into the main file (a no-op when nothing is new).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// While writes fail and no call comes, how often the writer tries a small write of its own.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Called once the batch's commit has succeeded or failed.
type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;
/// A job's work, then whether to keep it (`false` rolls back the job's savepoint). Called with no
/// connection when the job cannot run (its transaction could not begin or ended early): its
/// caller is then told why the batch failed.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (Finish, bool) + Send>;

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Never sent on: when the last `Writer` is dropped, the checkpointer stops.
    _checkpoints: mpsc::Sender<()>,
    /// Last, so that it is dropped after the senders above: by then the threads are stopping.
    _threads: Arc<Threads>,
}

/// The writer's threads, joined when the last `Writer` is dropped (its senders are gone, so each
/// thread finishes: the writer checkpoints and closes its connection, the checkpointer closes
/// its own, the syncer follows the writer).
struct Threads(Mutex<Vec<JoinHandle<()>>>);

impl Drop for Threads {
    fn drop(&mut self) {
        let handles = std::mem::take(self.0.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for handle in handles {
            // A job that held the last handle would be dropped on the writer thread itself.
            if handle.thread().id() != thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl Writer {
    /// Starts the writer on `conn` and the checkpointer on `checkpoint_conn`, two connections to
    /// the same file. With `fsync_wal` (the file's write-ahead log), callers are answered once it
    /// is fsynced; without, once their commit is written.
    ///
    /// Write failures (a full disk, an I/O error) are reported to `health`, and their callers
    /// get [`DbError::Unavailable`].
    pub fn start(
        conn: Connection,
        checkpoint_conn: Connection,
        fsync_wal: Option<PathBuf>,
        health: Health,
        retention: Retention,
    ) -> Writer {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (checkpoints, stop) = mpsc::channel::<()>();
        // Dropped by the checkpointer once its connection is closed: the writer closes last.
        let (checkpointer_closed, checkpointer_gone) = mpsc::channel::<()>();
        // The writer must never stop to checkpoint or fsync: the other threads do that.
        let _ = conn.pragma_update(None, "wal_autocheckpoint", 0);
        let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        let sync_health = health.clone();
        let mut threads = Vec::with_capacity(3);
        let syncer = fsync_wal.map(|wal| {
            let (committed, waiting) = mpsc::channel::<Vec<Finish>>();
            threads.push(
                thread::Builder::new()
                    .name("db-sync".into())
                    .spawn(move || sync_until_stopped(wal, waiting, sync_health))
                    .expect("spawning the database sync thread"),
            );
            committed
        });
        // The writer first: it is joined first, and the syncer stops once the writer has.
        threads.insert(
            0,
            thread::Builder::new()
                .name("db-writer".into())
                .spawn(move || {
                    run(conn, queue, syncer, health, retention, checkpointer_gone);
                })
                .expect("spawning the database writer thread"),
        );
        threads.push(
            thread::Builder::new()
                .name("db-checkpoint".into())
                .spawn(move || {
                    checkpoint_until_stopped(checkpoint_conn, stop);
                    drop(checkpointer_closed);
                })
                .expect("spawning the database checkpoint thread"),
        );
        Writer { jobs, _checkpoints: checkpoints, _threads: Arc::new(Threads(Mutex::new(threads))) }
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
        let job: Job = Box::new(move |conn| match conn {
            Some(conn) => {
                let (value, keep) = f(conn);
                let finish: Finish = Box::new(move |committed: Result<(), DbError>| {
                    let _ = reply.send(committed.map(|()| value));
                });
                (finish, keep)
            }
            None => {
                let finish: Finish = Box::new(move |failed: Result<(), DbError>| {
                    let _ = reply.send(Err(failed.err().unwrap_or(DbError::WriterGone)));
                });
                (finish, false)
            }
        });
        self.jobs.send(job).map_err(|_| DbError::WriterGone)?;
        // A dropped reply means the job panicked (and was rolled back) or the writer died.
        answer.await.map_err(|_| DbError::WriterGone)?
    }
}

fn run(
    conn: Connection,
    queue: mpsc::Receiver<Job>,
    syncer: Option<mpsc::Sender<Vec<Finish>>>,
    health: Health,
    retention: Retention,
    checkpointer_gone: mpsc::Receiver<()>,
) {
    // Housekeeping runs between batches, or when the queue has been quiet until it is due; while
    // writes fail, a probe runs every PROBE_EVERY instead (housekeeping would fail the same way).
    let mut housekeeping_due = Instant::now() + housekeeping::CATCHING_UP;
    loop {
        let failing = health.failure().is_some();
        let wait = if failing { PROBE_EVERY } else { housekeeping_due.saturating_duration_since(Instant::now()) };
        let first = match queue.recv_timeout(wait) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                if failing {
                    probe(&conn, &health);
                } else {
                    housekeeping_due = keep_house(&conn, &retention);
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let changes_before = conn.total_changes();
        let (jobs, started) = (batch.len(), Instant::now());
        let (finishers, committed) = commit_batch(&conn, batch);
        crate::support::metrics::writer_batch(jobs, started.elapsed());
        let committed = committed.map_err(|e| {
            let reason = describe(&e);
            health.failed(&reason);
            reason
        });
        if committed.is_ok() && conn.total_changes() != changes_before {
            health.recovered();
        }
        match (&syncer, committed) {
            (Some(syncer), Ok(())) => {
                // Only fails if the syncer is gone; then the callers see `WriterGone`.
                let _ = syncer.send(finishers);
            }
            (_, committed) => finish_all(finishers, committed),
        }
        if Instant::now() >= housekeeping_due && health.failure().is_none() {
            housekeeping_due = keep_house(&conn, &retention);
        }
    }
    // SQLite removes -wal and -shm when the last connection closes. Two connections closing at
    // once can each see the other still open, and leave both files behind; so the checkpointer
    // closes first, and this connection checkpoints and closes last.
    let _ = checkpointer_gone.recv();
    if let Err(e) = checkpoint(&conn) {
        tracing::warn!(error = %e, "final WAL checkpoint failed");
    }
}

/// While writes fail and no call comes, finds out whether they work again (space was freed), so
/// `/healthz` recovers by itself. Setting the application id rewrites the header page, so the
/// commit really appends to the log, as a call's would.
fn probe(conn: &Connection, health: &Health) {
    let wrote = exec(conn, "BEGIN IMMEDIATE")
        .and_then(|()| conn.pragma_update(None, "application_id", APPLICATION_ID))
        .and_then(|()| exec(conn, "COMMIT"));
    match wrote {
        Ok(()) => health.recovered(),
        Err(e) => {
            let _ = exec(conn, "ROLLBACK");
            health.failed(describe(&e));
        }
    }
}

/// What an operator (and a refused caller) should read about a failed write.
fn describe(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => "the disk is full".to_string(),
        _ => format!("a write failed: {e}"),
    }
}

/// Runs the housekeeping steps once; returns when they are due again.
fn keep_house(conn: &Connection, retention: &Retention) -> Instant {
    let started = Instant::now();
    let more = housekeeping::run_steps(conn, retention.clone());
    Instant::now() + if more { housekeeping::catching_up_pause(started.elapsed()) } else { housekeeping::EVERY }
}

/// A passive checkpoint copies what no reader still needs, without waiting for anyone.
/// A failure is logged once, not every round (on a full disk it fails until space is freed).
fn checkpoint_until_stopped(conn: Connection, stop: mpsc::Receiver<()>) {
    let mut failing = false;
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Err(e) if !failing => {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying quietly");
                failing = true;
            }
            Err(_) => {}
            Ok(()) => failing = false,
        }
    }
}

/// Answers callers whose commits are fsynced: all that are waiting, with one fsync of the log.
fn sync_until_stopped(wal_path: PathBuf, waiting: mpsc::Receiver<Vec<Finish>>, health: Health) {
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
        let started = Instant::now();
        let synced = wal.and_then(File::sync_data);
        crate::support::metrics::wal_fsync(started.elapsed());
        let synced = synced.map_err(|e| {
            let reason = format!("fsync of the write-ahead log failed: {e}");
            health.failed(&reason);
            reason
        });
        finish_all(finishers, synced);
    }
}

/// Answers a batch's callers: all committed, or none, with why (a write that failed).
fn finish_all(finishers: Vec<Finish>, outcome: Result<(), String>) {
    for finish in finishers {
        finish(outcome.clone().map_err(DbError::Unavailable));
    }
}

/// Runs the batch in one transaction; returns the callers to answer and how the commit went.
fn commit_batch(conn: &Connection, batch: Vec<Job>) -> (Vec<Finish>, rusqlite::Result<()>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, jobs = batch.len(), "cannot begin a write transaction");
        return (batch.into_iter().map(refuse).collect(), Err(e));
    }
    let mut finishers = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    while let Some(job) = jobs.next() {
        finishers.extend(run_job(conn, job));
        if conn.is_autocommit() {
            // SQLite ended the transaction itself (disk full, I/O error): what ran so far is not
            // known to be committed as one group, so none of it is acknowledged, and the jobs not
            // yet run are refused with the same error.
            tracing::error!(jobs = finishers.len(), "SQLite ended the group transaction early");
            finishers.extend(jobs.map(refuse));
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

/// A job that will not run: its caller is answered with the batch's failure.
fn refuse(job: Job) -> Finish {
    job(None).0
}

/// Runs one job in its own savepoint. A job that asks to be undone, or panics, is rolled back
/// alone and the rest of the batch goes on; a panicking job's caller sees `WriterGone` (its reply
/// was dropped).
fn run_job(conn: &Connection, job: Job) -> Option<Finish> {
    let ran =
        savepoint(conn, || catch_unwind(AssertUnwindSafe(|| job(Some(conn)))), |ran| matches!(ran, Ok((_, true))));
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
