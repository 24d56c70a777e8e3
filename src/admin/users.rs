//! `user add`, `user list` and `token issue`.

use std::io::BufRead;
use std::time::Duration;

use rusqlite::Connection;

use super::table::Table;
use super::{AdminError, AdminResult, invalid};
use crate::db::tokens::{self, Grant, Kind};
use crate::secrets::random_id;
use crate::users;

pub fn add(conn: &Connection, email: &str, name: Option<&str>, password: &str) -> AdminResult {
    let id = users::create(conn, email, name.unwrap_or(""), password).map_err(invalid)?;
    Ok(format!("Added user {} (id {id})\n", email.trim()))
}

/// The new password: the first line of standard input, or asked for twice on the terminal. The
/// email is checked first, so a typo does not cost typing the password.
pub fn read_password(email: &str, from_stdin: bool) -> Result<String, AdminError> {
    users::valid_email(email).map_err(invalid)?;
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| invalid(format!("cannot read the password: {e}")))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    // rpassword asks on the terminal itself (/dev/tty), whatever stdin is; without one (a script,
    // cron, a pasted block's pipe) say what to do instead of "No such device or address".
    if std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_err() {
        return Err(invalid(
            "no terminal to ask for the password on; pipe it in instead: \
             echo 'the password' | gpt-todo user add EMAIL --password-stdin",
        ));
    }
    let ask = |prompt| rpassword::prompt_password(prompt).map_err(|e| invalid(format!("cannot read the password: {e}")));
    let first = ask("Password: ")?;
    if first != ask("Again: ")? {
        return Err(invalid("the passwords do not match"));
    }
    Ok(first)
}

pub fn list(conn: &Connection, as_json: bool) -> AdminResult {
    let mut stmt = conn.prepare("SELECT id, email, name, created_at FROM users ORDER BY created_at, email")?;
    let rows = stmt
        .query_map([], |r| Ok(vec![r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))?
        .collect::<Result<Vec<Vec<String>>, _>>()?;
    let rows = rows.into_iter().map(|row| row.into_iter().map(serde_json::Value::String).collect()).collect();
    Ok(Table::new(&["id", "email", "name", "createdAt"], rows).render(as_json))
}

/// The id of the user with this email (case-insensitive).
pub fn user_id_by_email(conn: &Connection, email: &str) -> Result<String, AdminError> {
    users::find_by_email(conn, email)?.map(|(id, _)| id).ok_or_else(|| invalid(format!("no user with email {email}")))
}

pub fn issue_token(conn: &Connection, email: &str, client_id: &str, ttl: u64) -> AdminResult {
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
    let grant = Grant { user_id: &user_id, client_id, scope: "todos", family_id: &family_id, code_hash: None };
    Ok(format!("{}\n", tokens::issue(conn, Kind::Access, &grant, Duration::from_secs(ttl))?))
}
