//! The admin commands: they open the database file directly (the server may be running; WAL and
//! the busy timeout let both work) and return what to print: plain text, or JSON with `--json`.

mod clients;
mod limits;
mod reports;
mod table;
mod users;

use std::path::Path;

use rusqlite::Connection;

use crate::cli::{Command, UsageAction, UsageArgs};
use crate::db::{self, DbError};
use crate::manage::{self, ManageError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ManageError> for AdminError {
    fn from(e: ManageError) -> AdminError {
        match e {
            ManageError::Db(e) => AdminError::Db(DbError::Sqlite(e)),
            refused => AdminError::Invalid(refused.to_string()),
        }
    }
}

impl From<rusqlite::Error> for AdminError {
    fn from(e: rusqlite::Error) -> AdminError {
        AdminError::Db(DbError::Sqlite(e))
    }
}

/// What a command prints on success.
pub type AdminResult = Result<String, AdminError>;

pub fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::Invalid(message.into())
}

/// Runs one admin command against the database at `db_path` and returns its output.
pub fn run(db_path: &Path, command: Command) -> AdminResult {
    // A password is read before the database is opened: a command that cannot get one must not
    // leave a new, empty database behind.
    let password = match &command {
        Command::User(user) => users::read_password(user)?,
        _ => None,
    };
    let conn = open(db_path)?;
    match command {
        Command::Serve(_) => unreachable!("serve is handled by main"),
        Command::User(command) => users::run(&conn, command, password),
        Command::Client(command) => clients::run(&conn, command),
        Command::Token(command) => users::token(&conn, command),
        Command::Usage(UsageArgs { action: Some(UsageAction::Reset { user, client }), .. }) => {
            let reset = manage::usage::reset(&conn, &user, client.as_deref())?;
            Ok(format!("Reset {reset} counters of {user}; the call log is kept.\n"))
        }
        Command::Usage(args) => reports::usage(&conn, &args),
        Command::Logs(args) => reports::logs(&conn, &args),
        Command::Backup { path } => backup(&conn, &path),
    }
}

fn open(db_path: &Path) -> Result<Connection, AdminError> {
    let conn = db::open_connection(db_path)?;
    db::migrate(&conn)?;
    Ok(conn)
}

fn backup(conn: &Connection, path: &Path) -> AdminResult {
    if path.exists() {
        return Err(invalid(format!("{} already exists; choose a new file", path.display())));
    }
    db::backup(conn, path)?;
    Ok(format!("Backed up to {}\n", path.display()))
}
