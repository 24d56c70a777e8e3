//! Copies of the database: a consistent backup of the live file, and restoring one (also from
//! the gzipped stream of the README's nightly `backup - | gzip`).

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::store::sqlite::file::{self, Found, Missing, Role, create_private, fsync, refused};
use crate::store::sqlite::lock::ServerLock;
use crate::store::sqlite::owner::{self, Ownership};
use crate::store::sqlite::{DbError, beside, checkpoint, shm_path, wal_path};

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

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// The backup was gzipped, and was unpacked first.
    pub gzipped: bool,
    /// The owner and mode the restored file has: the old file's.
    pub ownership: Ownership,
}

/// Replaces the database at `db_path` with the backup at `backup_path` (or its gzipped form),
/// refusing while a server runs on it. The backup is checked first (a gpt-todo database that
/// passes `integrity_check`); the live file may be damaged (the usual reason to restore) but not
/// another application's file, nor missing unless `missing` allows (a mistyped `--db` must not
/// "restore" into a new file while the real one stays as it was). The restored file keeps the
/// old one's owner and mode: run as root over a service's database, it stays the service's.
/// The copy is written beside the live file, flushed, and renamed over it, so the file at
/// `db_path` is at every moment either the old database or the whole backup.
pub fn restore(db_path: &Path, backup_path: &Path, missing: Missing) -> Result<Restored, DbError> {
    let kept = existing_ownership(db_path)?;
    if let Some(live) = kept {
        let me = owner::current_uid();
        if live.uid != me && me != 0 {
            return Err(refused(
                db_path,
                &format!(
                    "it belongs to {}, and this is {}: the restored file would be yours, and its owner could \
                     not open it. Run restore as its owner (sudo -u {} gpt-todo …) or as root",
                    live.describe(),
                    owner::account(me),
                    owner::user_name(live.uid)
                ),
            ));
        }
    }
    let live = file::inspect(db_path, Role::Database)?;
    if live == Found::Nothing && missing == Missing::Refuse {
        return Err(refused(
            db_path,
            "no gpt-todo database here to restore over; check --db (the service's is the --db its banner \
             prints). To restore into a new file, add --create",
        ));
    }
    let _no_server = ServerLock::acquire(db_path)?;

    let unpacked = unpacked_path(db_path);
    let gzipped = file::is_gzip(backup_path);
    let source = if gzipped {
        gunzip(backup_path, &unpacked)?;
        unpacked.clone()
    } else {
        backup_path.to_path_buf()
    };
    let restored = replace(db_path, &source, backup_path, kept);
    if gzipped {
        let _ = std::fs::remove_file(&unpacked);
    }
    restored.map(|ownership| Restored { gzipped, ownership })
}

/// The owner and mode of the file at `path`, or `None` if there is none.
fn existing_ownership(path: &Path) -> Result<Option<Ownership>, DbError> {
    match Ownership::of(path) {
        Ok(ownership) => Ok(Some(ownership)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(refused(path, &e.to_string())),
    }
}

/// Checks the backup at `source` (named as `backup` in errors: it may be an unpacked copy) and
/// renames a flushed copy of it over `db_path`, with `kept`'s owner and mode (a new file: the
/// caller's, 0600). Returns the owner and mode it has.
fn replace(db_path: &Path, source: &Path, backup: &Path, kept: Option<Ownership>) -> Result<Ownership, DbError> {
    let named_as_backup = |e: DbError| match e {
        DbError::File(message) if source != backup => {
            DbError::File(message.replacen(&source.display().to_string(), &backup.display().to_string(), 1))
        }
        other => other,
    };
    match file::inspect(source, Role::Backup)
        .and_then(|found| found.usable(source, Role::Backup))
        .map_err(named_as_backup)?
    {
        Found::Ours => {}
        _ => return Err(refused(backup, "no gpt-todo backup here (missing or empty); check the path")),
    }
    if file::inspect(db_path, Role::Database)? == Found::Ours {
        // Moves everything into the main file, so the log removed below holds nothing of value.
        if let Err(e) = crate::store::sqlite::open_connection(db_path).and_then(|c| Ok(checkpoint(&c)?)) {
            tracing::warn!(error = %e, "checkpoint before restore failed");
        }
    }

    let staged = beside(db_path, ".restoring");
    remove_if_present(&staged).map_err(|e| refused(&staged, &format!("cannot remove a stale copy: {e}")))?;
    let copy = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    write_copy(&copy, &staged)?;
    drop(copy);
    if let Some(kept) = kept {
        kept.give_to(&staged).map_err(|e| {
            let _ = std::fs::remove_file(&staged);
            refused(&staged, &format!("cannot give it the database's owner and mode ({}): {e}", kept.describe()))
        })?;
    }
    let ownership = Ownership::of(&staged).map_err(|e| refused(&staged, &e.to_string()))?;

    // A log left beside the old file would be replayed into the new one and corrupt it: remove
    // it (and its index) before the new file takes the name.
    for stale in [wal_path(db_path), shm_path(db_path)] {
        remove_if_present(&stale).map_err(|e| refused(&stale, &format!("cannot remove it: {e}")))?;
    }
    std::fs::rename(&staged, db_path).map_err(|e| refused(db_path, &format!("cannot replace it: {e}")))?;
    // The rename itself is durable once the directory is flushed.
    let directory = db_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fsync(directory).map_err(|e| refused(directory, &format!("cannot flush the directory: {e}")))?;
    Ok(ownership)
}

/// Unpacks the gzipped backup at `gzipped` into a new owner-only file `into` (removed again if
/// unpacking fails); a damaged or truncated stream is refused naming the backup.
fn gunzip(gzipped: &Path, into: &Path) -> Result<(), DbError> {
    remove_if_present(into).map_err(|e| refused(into, &format!("cannot remove a stale copy: {e}")))?;
    create_private(into).map_err(|e| refused(into, &format!("cannot create it: {e}")))?;
    let unpacked = std::fs::File::open(gzipped).and_then(|input| {
        let mut output = std::fs::OpenOptions::new().write(true).open(into)?;
        io::copy(&mut flate2::read::MultiGzDecoder::new(io::BufReader::new(input)), &mut output)?;
        output.sync_all()
    });
    unpacked.map_err(|e| {
        let _ = std::fs::remove_file(into);
        refused(gzipped, &format!("cannot unpack this gzipped backup ({e}); is it whole? `gzip -t` checks it"))
    })
}

/// The unpacked copy of a gzipped backup, beside the database.
pub fn unpacked_path(db_path: &Path) -> PathBuf {
    beside(db_path, ".unpacked")
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
