//! The admin commands: they open the database file directly (`Store::open_direct`; the server
//! may be running, WAL and the busy timeout let both work) and return what to print: plain text, or JSON with `--json`.
//! Each change is one transaction with its `admin_audit` row, marked as made with the CLI, so the
//! console's "Latest changes" shows it beside the console's own.

// What the console shows exactly as the commands print it, and the limit syntax it shares.
pub use super::client_commands::{added, rotated};
pub use super::command_result::{AdminError, AdminResult, counted, printable};
pub use super::limit_commands::{describe, parse_limit};

use super::command_result::{audited, invalid};

use std::io::Write;
use std::path::Path;

use crate::cli::args::{ClientCommand, Command, UsageAction, UsageArgs, UserCommand};
use crate::operator::{self as manage, or_refused};
use crate::store::Location;
use crate::store::Store;
use crate::store::sqlite as db;
use crate::store::sqlite::file::Missing;
use crate::support::clock::unix_now;

/// Runs one admin command against the database `--db` names and returns its output. Only the
/// commands that add the first user or client (or any with `create`) make an SQLite database
/// where there is none: for the others a missing file is a mistyped `--db`. On PostgreSQL the
/// file operations (`backup`, `restore`) are refused in one line naming PostgreSQL's own tools.
pub fn run(db: &Location, create: bool, command: Command) -> AdminResult {
    match &command {
        Command::Backup { .. } => drop(db.file_only("backup", "pg_dump").map_err(invalid)?),
        Command::Restore { .. } => drop(db.file_only("restore", "pg_restore").map_err(invalid)?),
        _ => {}
    }
    if let Command::Restore { backup } = &command {
        let db_path = db.sqlite_path().expect("checked above");
        let missing = if create { Missing::Create } else { Missing::Refuse };
        let restored = db::backup::restore(db_path, backup, missing)?;
        let unpacked = if restored.gzipped { " (gunzipped)" } else { "" };
        return Ok(format!(
            "Restored {} from {}{unpacked}; the file is {}.\n",
            db_path.display(),
            backup.display(),
            restored.ownership.describe()
        ));
    }
    // A password is read before the database is opened: a command that cannot get one must not
    // leave a new, empty database behind.
    let password = match &command {
        Command::User(user) => super::user_commands::read_password(user)?,
        _ => None,
    };
    let first_use =
        matches!(command, Command::User(UserCommand::Add { .. }) | Command::Client(ClientCommand::Add { .. }));
    let missing = if create || first_use { Missing::Create } else { Missing::Refuse };
    let store = match db {
        Location::Sqlite(path) => Store::open_direct(path, missing)?,
        // One connection is all a command uses; the second lets a retry find a fresh one.
        Location::Postgres(pg) => Store::open_postgres(pg, 2, crate::support::clock::Clock::system())?,
    };
    match command {
        Command::Serve(_) => unreachable!("serve is handled by main"),
        Command::User(command) => super::user_commands::run(&store, command, password, unix_now()),
        Command::Client(command) => super::client_commands::run(&store, command),
        Command::Token(command) => super::user_commands::token(&store, command, unix_now()),
        Command::Usage(UsageArgs { action: Some(UsageAction::Reset { user, client }), .. }) => {
            let detail = client.as_ref().map(|c| format!("client {c}")).unwrap_or_else(|| "every client".into());
            audited(&store, "user.reset-usage", &user, |tx| {
                let reset = or_refused!(manage::counters::reset(tx, &user, client.as_deref()));
                let said =
                    format!("Reset {} of {user}; the call log is kept.\n", counted(reset, "counter", "counters"));
                Ok(Ok((said, detail.clone())))
            })
        }
        Command::Usage(args) => super::report_commands::usage(&store, &args, unix_now()),
        Command::Logs(args) => super::report_commands::logs(&store, &args),
        Command::Backup { path } if path.as_os_str() == "-" => {
            backup_to_stdout(&store, db.sqlite_path().expect("checked above"))
        }
        Command::Backup { path } => {
            backup_file(&store, &path)?;
            Ok(format!("Backed up to {}\n", path.display()))
        }
        Command::Restore { .. } => unreachable!("restore is handled above"),
    }
}

/// `backup -`: SQLite writes a copy only to a file, so it is staged beside the database (owner-only,
/// removed afterwards) and then streamed out.
fn backup_to_stdout(store: &Store, db_path: &Path) -> AdminResult {
    let staged = db::beside(db_path, &format!(".backup-{}", std::process::id()));
    let streamed = backup_file(store, &staged).and_then(|()| {
        std::fs::File::open(&staged)
            .and_then(|mut file| {
                let mut out = std::io::stdout().lock();
                std::io::copy(&mut file, &mut out)?;
                out.flush()
            })
            .map_err(|e| invalid(format!("cannot write the backup to standard output: {e}")))
    });
    let _ = std::fs::remove_file(&staged);
    streamed.map(|()| String::new())
}

/// SQLite's online backup of the command's store into `target`.
fn backup_file(store: &Store, target: &Path) -> Result<(), AdminError> {
    match store.with_sqlite_file(|conn| db::backup::write_copy(conn, target)) {
        Some(copied) => Ok(copied?),
        None => Err(invalid("backup copies an SQLite file; this database is not one")),
    }
}
