//! What the file at `--db` is, found out before anything writes to it.
//!
//! A gpt-todo database is an SQLite file whose header carries our `PRAGMA application_id`
//! ([`APPLICATION_ID`], set by a migration), or, for a file made before that migration, one with
//! gpt-todo's tables and a schema version. Everything else (a text file, another application's
//! SQLite file, a file from a newer gpt-todo, a damaged or locked file) is refused with one line
//! saying what is wrong and what to do, and is never modified: the checks run on a read-only
//! connection, before the connection that sets the journal mode and migrates.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::store::sqlite::owner::{self, Ownership};
use crate::store::sqlite::{BUSY_TIMEOUT, DbError, MIGRATIONS};

/// SQLite's header field for "which application's file is this": the ASCII bytes `gtdo`.
pub const APPLICATION_ID: i32 = i32::from_be_bytes(*b"gtdo");

/// Tables every gpt-todo schema has had since migration 1.
const OUR_TABLES: &[&str] = &["users", "oauth_clients", "oauth_tokens", "todos", "api_usage", "api_calls"];

/// Whether a command may make a new database where there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Create,
    Refuse,
}

/// What the file is meant to be, which says how thoroughly to check its pages (`quick_check` on
/// every open of the database, the full `integrity_check` for a backup about to become the live
/// file) and which argument a refusal points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The file at `--db`.
    Database,
    /// The backup given to `restore`.
    Backup,
}

impl Role {
    /// What to check when the file is not what it should be.
    fn check_hint(self) -> &'static str {
        match self {
            Role::Database => "check --db",
            Role::Backup => "check the backup's path",
        }
    }
}

/// What [`inspect`] found at a path.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// No file, an empty file, or an SQLite file without any tables: nothing to lose.
    Nothing,
    /// A gpt-todo database that passed the check.
    Ours,
    /// A gpt-todo database from a newer gpt-todo, at this schema version.
    Newer(i64),
    /// A gpt-todo database (or an SQLite file SQLite reports as damaged) failing the check.
    Damaged(String),
}

impl Found {
    /// Whether this gpt-todo can use the file: a newer schema or a damaged file is refused.
    pub fn usable(self, path: &Path, role: Role) -> Result<Found, DbError> {
        let damaged_hint = match role {
            Role::Database => "restore a backup with `gpt-todo restore BACKUP`",
            Role::Backup => "restore another backup",
        };
        match self {
            Found::Newer(version) => Err(refused(
                path,
                &format!(
                    "its schema version {version} is newer than this gpt-todo {} knows ({}); run the newer \
                     gpt-todo it was used with (downgrades are not supported), or restore a backup made before",
                    env!("CARGO_PKG_VERSION"),
                    MIGRATIONS.len()
                ),
            )),
            Found::Damaged(detail) => {
                Err(refused(path, &format!("the database is damaged ({detail}); {damaged_hint}")))
            }
            usable => Ok(usable),
        }
    }
}

/// Opens the gpt-todo database at `path` for reading and writing, migrated, after checking it is
/// one; creates it (readable by its owner only) if it is missing and `missing` allows.
pub fn open(path: &Path, missing: Missing) -> Result<Connection, DbError> {
    if inspect(path, Role::Database)?.usable(path, Role::Database)? == Found::Nothing {
        if missing == Missing::Refuse {
            return Err(refused(
                path,
                "no gpt-todo database here; check --db (to start a new one: `gpt-todo serve`, \
                 `gpt-todo user add`, or this command with --create)",
            ));
        }
        create_private(path)
            .or_else(|e| if e.kind() == io::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) })
            .map_err(|e| refused(path, &format!("cannot create the database file: {e}")))?;
    }
    let conn = crate::store::sqlite::open_connection(path).map_err(|e| refused(path, &e.to_string()))?;
    crate::store::sqlite::migrate(&conn).map_err(|e| refused(path, &format!("cannot migrate it: {e}")))?;
    Ok(conn)
}

/// Refuses a connection the server could not write with: SQLite silently opens a file it may not
/// write read-only, and every call would then fail.
pub fn ensure_writable(path: &Path, conn: &Connection) -> Result<(), DbError> {
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
        return Err(refused(path, &format!("cannot write it: {}", not_permitted(path))));
    }
    // Takes the write lock, which needs the write-ahead log to be writable too.
    crate::store::sqlite::exec(conn, "BEGIN IMMEDIATE")
        .and_then(|()| crate::store::sqlite::exec(conn, "ROLLBACK"))
        .map_err(|e| refused(path, &format!("cannot write it ({e}): {}", not_permitted(path))))
}

/// Finds out, without writing, whether `path` holds a gpt-todo database in good order. A file
/// that is not one (not SQLite, another application's, locked by another process) is an `Err`.
pub fn inspect(path: &Path, role: Role) -> Result<Found, DbError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => return Err(refused(path, &e.to_string())),
        Ok(meta) if meta.is_dir() => return Err(refused(path, "this is a directory; --db names the database file")),
        Ok(meta) if meta.len() == 0 => return Ok(Found::Nothing),
        Ok(_) => {}
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let looked = Connection::open_with_flags(path, flags).and_then(|conn| {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let header = read_header(&conn)?;
        Ok((conn, header))
    });
    let (conn, header) = match looked {
        Ok(looked) => looked,
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseCorrupt) => {
            return Ok(Found::Damaged(e.to_string()));
        }
        Err(e) => return Err(explain(path, e, role)),
    };
    let Header { application_id, version, tables } = header;
    if application_id != i64::from(APPLICATION_ID) {
        if application_id != 0 {
            return Err(refused(
                path,
                &format!(
                    "this SQLite file belongs to another application (application_id {application_id:#010x}); \
                     gpt-todo will not touch it: {}",
                    role.check_hint()
                ),
            ));
        }
        if tables.is_empty() && version == 0 {
            return Ok(Found::Nothing);
        }
        // A gpt-todo file from before the application id was set (the next migration sets it).
        let ours = version >= 1 && OUR_TABLES.iter().all(|t| tables.iter().any(|have| have == t));
        if !ours {
            return Err(refused(
                path,
                &format!(
                    "this SQLite file is not a gpt-todo database (it lacks gpt-todo's tables); gpt-todo will \
                     not touch it: {}",
                    role.check_hint()
                ),
            ));
        }
    }
    if version > MIGRATIONS.len() as i64 {
        return Ok(Found::Newer(version));
    }
    let pragma = match role {
        Role::Database => "PRAGMA quick_check(1)",
        Role::Backup => "PRAGMA integrity_check(1)",
    };
    match conn.query_row(pragma, [], |r| r.get::<_, String>(0)) {
        Ok(verdict) if verdict == "ok" => Ok(Found::Ours),
        // The first line only names the schema ("*** in database main ***"); the problem follows.
        Ok(verdict) => {
            Ok(Found::Damaged(format!("{pragma}: {}", verdict.lines().take(2).collect::<Vec<_>>().join(" "))))
        }
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseCorrupt) => Ok(Found::Damaged(e.to_string())),
        Err(e) => Err(explain(path, e, role)),
    }
}

struct Header {
    application_id: i64,
    version: i64,
    tables: Vec<String>,
}

fn read_header(conn: &Connection) -> rusqlite::Result<Header> {
    let pragma = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    Ok(Header {
        application_id: pragma("PRAGMA application_id")?,
        version: pragma("PRAGMA user_version")?,
        tables: conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?,
    })
}

/// Creates an empty file only its owner may read or write (it will hold emails, todos and
/// password hashes); SQLite gives the -wal and -shm files beside it the same permissions.
pub fn create_private(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// Flushes a file to disk (and, called on a directory, the names in it).
pub fn fsync(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// One line naming the file, what is wrong with it, and what to do.
pub fn refused(path: &Path, what: &str) -> DbError {
    DbError::File(format!("{}: {what}", path.display()))
}

/// Turns SQLite's answer about a file into what the operator should know.
fn explain(path: &Path, e: rusqlite::Error, role: Role) -> DbError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) if role == Role::Backup && is_gzip(path) => refused(
            path,
            "this backup is gzipped and cannot be read as it is; unpack it first (gunzip -k FILE), \
             or give it to `gpt-todo restore`, which reads gzip",
        ),
        Some(ErrorCode::NotADatabase) => refused(
            path,
            &format!("this file is not an SQLite database; gpt-todo will not touch it: {}", role.check_hint()),
        ),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            refused(path, "another process holds a lock on the database (database is locked); stop it, then try again")
        }
        Some(ErrorCode::PermissionDenied | ErrorCode::CannotOpen | ErrorCode::ReadOnly) => {
            refused(path, &format!("cannot open it ({e}): {}", not_permitted(path)))
        }
        _ => refused(path, &e.to_string()),
    }
}

/// Why this process may not use `path`, as far as its owner and mode say: the file is another
/// account's (root's, after a command run as root), or else the directory is in the way.
pub fn not_permitted(path: &Path) -> String {
    let me = owner::current_uid();
    match Ownership::of(path) {
        Ok(file) if file.uid != me && me != 0 => format!(
            "permission denied: the file belongs to {}, and this is {}; run this as its owner, or give it \
             back to the account that runs gpt-todo (chown ACCOUNT: FILE)",
            file.describe(),
            owner::account(me)
        ),
        Ok(file) => format!(
            "permission denied: the file is {} (this is {}); this user needs read and write access to it and to \
             its directory (for the -wal and -shm files beside it)",
            file.describe(),
            owner::account(me)
        ),
        Err(_) => "permission denied: check that this user may read it and its directory".to_owned(),
    }
}

/// Whether the file starts with gzip's magic bytes (RFC 1952 §2.3.1: 0x1f 0x8b).
pub fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path).and_then(|mut file| io::Read::read_exact(&mut file, &mut magic)).is_ok() && magic == [0x1f, 0x8b]
}
