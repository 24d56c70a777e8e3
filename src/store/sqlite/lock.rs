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

use crate::store::sqlite::DbError;
use crate::store::sqlite::file::refused;
use crate::store::sqlite::owner::{self, Ownership};

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
                std::io::ErrorKind::PermissionDenied => denied(&lock_path),
                _ => e.to_string(),
            };
            refused(db_path, &format!("cannot create its lock file {}: {why}", lock_path.display()))
        })?;
        if owner::current_uid() == 0 {
            follow_the_database(db_path, &lock_path)?;
        }
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

/// Gives a lock file root made or holds the database's owner (keeping its mode), so the
/// database's own account can open it once root is done.
fn follow_the_database(db_path: &Path, lock_path: &Path) -> Result<(), DbError> {
    let (Ok(database), Ok(lock)) = (Ownership::of(db_path), Ownership::of(lock_path)) else { return Ok(()) };
    Ownership { uid: database.uid, gid: database.gid, mode: lock.mode }
        .give_to(lock_path)
        .map_err(|e| refused(db_path, &format!("cannot give its lock file {} to its owner: {e}", lock_path.display())))
}

/// Why the lock file cannot be opened: it is another account's, or the directory may not be written.
fn denied(lock_path: &Path) -> String {
    let me = owner::account(owner::current_uid());
    match Ownership::of(lock_path) {
        Ok(lock) => format!(
            "permission denied: it belongs to {}, and this is {me}; run this as its owner, or give it back \
             (chown ACCOUNT: {})",
            lock.describe(),
            lock_path.display()
        ),
        Err(_) => {
            let directory = lock_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let of = Ownership::of(directory).map(|d| format!(" (it is {})", d.describe())).unwrap_or_default();
            format!("permission denied: {me} needs write access to the database's directory{of}")
        }
    }
}

/// `<db>.lock`, beside the database.
pub fn lock_path(db_path: &Path) -> PathBuf {
    crate::store::sqlite::beside(db_path, ".lock")
}
