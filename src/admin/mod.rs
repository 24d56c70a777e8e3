//! The admin commands: they open the database file directly (the server may be running; WAL and
//! the busy timeout let both work) and print plain text, or JSON with `--json`.

mod clients;
mod reports;
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

pub type AdminResult = Result<(), AdminError>;

pub fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::Invalid(message.into())
}

/// Runs one admin command against the database at `db_path`.
pub fn run(db_path: &Path, command: Command) -> AdminResult {
    let conn = db::open_connection(db_path)?;
    db::migrate(&conn)?;
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
        Command::Token(TokenCommand::Issue { user, client, ttl, resource }) => {
            users::issue_token(&conn, &user, &client, ttl, resource.as_deref())
        }
        Command::Usage(args) => reports::usage(&conn, &args),
        Command::Logs(args) => reports::logs(&conn, &args),
        Command::Backup { path } => backup(&conn, &path),
    }
}

fn backup(conn: &Connection, path: &Path) -> AdminResult {
    if path.exists() {
        return Err(invalid(format!("{} already exists; choose a new file", path.display())));
    }
    db::backup(conn, path)?;
    println!("Backed up to {}", path.display());
    Ok(())
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
