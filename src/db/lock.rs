//! One server per database file, and no restore under a running server.
//!
//! SQLite's own locks would let a second `serve` on the same file run (both writers would take
//! turns), but each server assumes its writer is the only one (it alone checkpoints and fsyncs the
//! log), and two servers on one file are almost always a mistake: an old one still running. So a
//! server holds an advisory lock (`flock`) on `<db>.lock` for as long as it runs; `restore` takes
//! the same lock. The operating system drops the lock when the process ends, however it ends, so a
//! lock file left behind by a crash does not block anything; it is never deleted (deleting a lock
//! file while another process waits on it would let two holders in).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::db::DbError;
use crate::db::file::refused;

/// Held while a server runs on (or `restore` replaces) the database; released when dropped.
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
}

impl ServerLock {
    /// Takes the lock without waiting; refuses while another server (or restore) holds it.
    pub fn acquire(db_path: &Path) -> Result<ServerLock, DbError> {
        let lock_path = lock_path(db_path);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&lock_path).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied: the server needs write access to the database's directory".to_string()
                }
                _ => e.to_string(),
            };
            refused(db_path, &format!("cannot create its lock file {}: {why}", lock_path.display()))
        })?;
        match file.try_lock() {
            Ok(()) => Ok(ServerLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(refused(
                db_path,
                &format!(
                    "a gpt-todo server is running on this database (it holds {}); stop it first, or use another --db",
                    lock_path.display()
                ),
            )),
            Err(TryLockError::Error(e)) => Err(refused(db_path, &format!("cannot lock {}: {e}", lock_path.display()))),
        }
    }
}

/// `<db>.lock`, beside the database.
pub fn lock_path(db_path: &Path) -> PathBuf {
    crate::db::beside(db_path, ".lock")
}
