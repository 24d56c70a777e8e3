//! The admin commands: they open the database file directly (the server may be running; WAL and
//! the busy timeout let both work) and print plain text, or JSON with `--json`.

mod clients;
mod reports;
mod users;

use std::io::Write;
use std::path::Path;

use rusqlite::Connection;

use crate::cli::{ClientCommand, Command, TokenCommand, UserCommand};
use crate::db::file::Missing;
use crate::db::{self, DbError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for AdminError {
    fn from(e: rusqlite::Error) -> AdminError {
        AdminError::Db(DbError::Sqlite(e))
    }
}

pub type AdminResult = Result<(), AdminError>;

pub fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::Invalid(message.into())
}

/// Runs one admin command against the database at `db_path`. Only the commands that add the
/// first user or client (or any with `create`) make a database where there is none: for the
/// others a missing file is a mistyped `--db`.
pub fn run(db_path: &Path, create: bool, command: Command) -> AdminResult {
    if let Command::Restore { backup } = &command {
        db::backup::restore(db_path, backup)?;
        println!("Restored {} from {}", db_path.display(), backup.display());
        return Ok(());
    }
    let first_use =
        matches!(command, Command::User(UserCommand::Add { .. }) | Command::Client(ClientCommand::Add { .. }));
    let missing = if create || first_use { Missing::Create } else { Missing::Refuse };
    let conn = db::file::open(db_path, missing)?;
    match command {
        Command::Serve(_) => unreachable!("serve is handled by main"),
        Command::User(UserCommand::Add { email, name, password_stdin }) => {
            users::add(&conn, &email, name.as_deref(), password_stdin)
        }
        Command::User(UserCommand::List) => users::list(&conn),
        Command::Client(ClientCommand::Add { name, redirect_uris, call_limit, public, public_url }) => {
            clients::add(&conn, &name, &redirect_uris, call_limit, public, &public_url)
        }
        Command::Client(ClientCommand::List) => clients::list(&conn),
        Command::Client(ClientCommand::SetLimit { client_id, limit }) => clients::set_limit(&conn, &client_id, &limit),
        Command::Token(TokenCommand::Issue { user, client, ttl }) => users::issue_token(&conn, &user, &client, ttl),
        Command::Usage(args) => reports::usage(&conn, &args),
        Command::Logs(args) => reports::logs(&conn, &args),
        Command::Backup { path } if path.as_os_str() == "-" => backup_to_stdout(&conn, db_path),
        Command::Backup { path } => {
            db::backup::write_copy(&conn, &path)?;
            println!("Backed up to {}", path.display());
            Ok(())
        }
        Command::Restore { .. } => unreachable!("restore is handled above"),
    }
}

/// `backup -`: SQLite writes a copy only to a file, so it is staged beside the database (owner-only,
/// removed afterwards) and then streamed out.
fn backup_to_stdout(conn: &Connection, db_path: &Path) -> AdminResult {
    let staged = db::beside(db_path, &format!(".backup-{}", std::process::id()));
    let streamed = db::backup::write_copy(conn, &staged).map_err(AdminError::from).and_then(|()| {
        std::fs::File::open(&staged)
            .and_then(|mut file| {
                let mut out = std::io::stdout().lock();
                std::io::copy(&mut file, &mut out)?;
                out.flush()
            })
            .map_err(|e| invalid(format!("cannot write the backup to standard output: {e}")))
    });
    let _ = std::fs::remove_file(&staged);
    streamed
}

/// Prints rows under a header, each column as wide as its widest cell.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
