//! Copies of the database: a consistent backup of the live file, and restoring one.

use std::io;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::db::file::{self, Check, Found, create_private, fsync, refused};
use crate::db::lock::ServerLock;
use crate::db::{DbError, beside, checkpoint, shm_path, wal_path};

/// Writes a consistent copy of the database `conn` is open on to `target`, which must not exist;
/// the copy is readable by its owner only and flushed to disk. Nothing is left at `target` if the
/// copy fails.
pub fn write_copy(conn: &Connection, target: &Path) -> Result<(), DbError> {
    create_private(target).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => refused(target, "already exists; choose a new file"),
        _ => refused(target, &format!("cannot create the backup: {e}")),
    })?;
    let copied = vacuum_into(conn, target).and_then(|()| fsync(target).map_err(|e| refused(target, &e.to_string())));
    if copied.is_err() {
        let _ = std::fs::remove_file(target);
    }
    copied
}

/// VACUUM INTO writes a compact copy from one read transaction, so a running server goes on
/// meanwhile; the target must be missing or empty (it is the empty file made 0600 above).
fn vacuum_into(conn: &Connection, target: &Path) -> Result<(), DbError> {
    let name = target.to_str().ok_or_else(|| refused(target, "the path is not valid UTF-8"))?;
    conn.execute("VACUUM INTO ?1", [name]).map_err(|e| refused(target, &format!("cannot write the backup: {e}")))?;
    Ok(())
}

/// Replaces the database at `db_path` with the backup at `backup_path`, refusing while a server
/// runs on it. The backup is checked first (a gpt-todo database that passes `integrity_check`);
/// the live file may be missing or damaged (the usual reason to restore) but not another
/// application's file. The copy is written beside the live file, flushed, and renamed over it,
/// so the file at `db_path` is at every moment either the old database or the whole backup.
pub fn restore(db_path: &Path, backup_path: &Path) -> Result<(), DbError> {
    let _no_server = ServerLock::acquire(db_path)?;
    match file::inspect(backup_path, Check::Integrity)?.usable(backup_path)? {
        Found::Ours => {}
        _ => return Err(refused(backup_path, "no gpt-todo backup here (missing or empty); check the path")),
    }
    if file::inspect(db_path, Check::Quick)? == Found::Ours {
        // Moves everything into the main file, so the log removed below holds nothing of value.
        if let Err(e) = crate::db::open_connection(db_path).and_then(|c| Ok(checkpoint(&c)?)) {
            tracing::warn!(error = %e, "checkpoint before restore failed");
        }
    }

    let staged = beside(db_path, ".restoring");
    remove_if_present(&staged).map_err(|e| refused(&staged, &format!("cannot remove a stale copy: {e}")))?;
    let source = Connection::open_with_flags(backup_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    write_copy(&source, &staged)?;
    drop(source);

    // A log left beside the old file would be replayed into the new one and corrupt it: remove
    // it (and its index) before the new file takes the name.
    for stale in [wal_path(db_path), shm_path(db_path)] {
        remove_if_present(&stale).map_err(|e| refused(&stale, &format!("cannot remove it: {e}")))?;
    }
    std::fs::rename(&staged, db_path).map_err(|e| refused(db_path, &format!("cannot replace it: {e}")))?;
    // The rename itself is durable once the directory is flushed.
    let directory = db_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fsync(directory).map_err(|e| refused(directory, &format!("cannot flush the directory: {e}")))?;
    Ok(())
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
