//! `user add`, `user list` and `token issue`.

use std::io::BufRead;
use std::time::Duration;

use rusqlite::Connection;

use super::{AdminResult, invalid, print_table};
use crate::db::tokens::{self, Grant, Kind};
use crate::secrets::random_id;
use crate::users;

pub fn add(conn: &Connection, email: &str, name: Option<&str>, password_stdin: bool) -> AdminResult {
    let email = users::valid_email(email).map_err(invalid)?;
    let password = if password_stdin { read_password_line()? } else { prompt_password()? };
    let id = users::create(conn, &email, name.unwrap_or(""), &password).map_err(invalid)?;
    println!("Added user {email} (id {id})");
    Ok(())
}

fn read_password_line() -> Result<String, super::AdminError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| invalid(format!("cannot read the password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn prompt_password() -> Result<String, super::AdminError> {
    let first =
        rpassword::prompt_password("Password: ").map_err(|e| invalid(format!("cannot read the password: {e}")))?;
    let again = rpassword::prompt_password("Again: ").map_err(|e| invalid(format!("cannot read the password: {e}")))?;
    if first != again {
        return Err(invalid("the passwords do not match"));
    }
    Ok(first)
}

pub fn list(conn: &Connection) -> AdminResult {
    let mut stmt = conn.prepare("SELECT id, email, name, created_at FROM users ORDER BY created_at, email")?;
    let rows = stmt
        .query_map([], |r| Ok(vec![r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))?
        .collect::<Result<Vec<Vec<String>>, _>>()?;
    print_table(&["ID", "EMAIL", "NAME", "CREATED"], &rows);
    Ok(())
}

/// The id of the user with this email (case-insensitive).
pub fn user_id_by_email(conn: &Connection, email: &str) -> Result<String, super::AdminError> {
    users::find_by_email(conn, email)?.map(|(id, _)| id).ok_or_else(|| invalid(format!("no user with email {email}")))
}

/// `resource`: the URL the token is bound to (RFC 8707), e.g. `<public URL>/mcp` for the MCP
/// endpoint; none gives an unbound token, which only the todo API takes.
pub fn issue_token(conn: &Connection, email: &str, client_id: &str, ttl: u64, resource: Option<&str>) -> AdminResult {
    let user_id = user_id_by_email(conn, email)?;
    let known: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM oauth_clients WHERE client_id = ?1)", [client_id], |r| r.get(0))?;
    if !known {
        return Err(invalid(format!("no client with id {client_id}")));
    }
    if ttl == 0 {
        return Err(invalid("--ttl must be at least 1 second"));
    }
    let family_id = random_id();
    let resource = resource.map(|url| url.trim_end_matches('/'));
    let grant =
        Grant { user_id: &user_id, client_id, scope: "todos", family_id: &family_id, code_hash: None, resource };
    println!("{}", tokens::issue(conn, Kind::Access, &grant, Duration::from_secs(ttl))?);
    Ok(())
}
