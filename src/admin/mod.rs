//! The admin commands: they open the database file directly (the server may be running; WAL and
//! the busy timeout let both work) and return what to print: plain text, or JSON with `--json`.

mod clients;
mod reports;
mod table;
mod users;

use std::path::Path;

use rusqlite::Connection;

use crate::cli::{ClientCommand, Command, TokenCommand, UserCommand};
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
        Command::User(UserCommand::Add { email, password_stdin, .. }) => Some(users::read_password(email, *password_stdin)?),
        _ => None,
    };
    let conn = open(db_path)?;
    match command {
        Command::Serve(_) => unreachable!("serve is handled by main"),
        Command::User(UserCommand::Add { email, name, .. }) => {
            users::add(&conn, &email, name.as_deref(), &password.unwrap_or_default())
        }
        Command::User(UserCommand::List { json }) => users::list(&conn, json),
        Command::Client(ClientCommand::Add { name, redirect_uris, call_limit, public, public_url }) => {
            clients::add(&conn, &name, &redirect_uris, call_limit, public, &public_url)
        }
        Command::Client(ClientCommand::List { json }) => clients::list(&conn, json),
        Command::Client(ClientCommand::SetLimit { client_id, limit }) => clients::set_limit(&conn, &client_id, &limit),
        Command::Token(TokenCommand::Issue { user, client, ttl }) => users::issue_token(&conn, &user, &client, ttl),
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
