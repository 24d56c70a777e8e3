//! `user …` and `token …`: the operations of `crate::manage`, with what to print.

use std::io::BufRead;
use std::time::Duration;

use rusqlite::Connection;

use super::table::Table;
use super::{AdminError, AdminResult, invalid, printable};
use crate::cli::{TokenCommand, UserCommand};
use crate::db::tokens::{self, Grant, Kind};
use crate::ids::ClientId;
use crate::manage::{self, clients::require};
use crate::oauth::SCOPE;
use crate::secrets::{HashMemory, random_id};
use crate::users;

/// Runs `command`; `password` is the one [`read_password`] got before the database was opened.
pub fn run(conn: &Connection, command: UserCommand, password: Option<String>) -> AdminResult {
    let password = password.unwrap_or_default();
    match command {
        UserCommand::Add { email, name, admin, .. } => {
            let id = users::create(conn, &email, name.as_deref().unwrap_or(""), &password)?;
            if admin {
                manage::users::set_admin(conn, &email, true)?;
                return Ok(format!(
                    "Added user {} (id {id}), an admin: they can sign in at /admin\n",
                    printable(email.trim())
                ));
            }
            Ok(format!("Added user {} (id {id})\n", printable(email.trim())))
        }
        UserCommand::SetAdmin { email, state } => {
            let admin = state == "on";
            let changed = manage::users::set_admin(conn, &email, admin)?;
            Ok(match (admin, changed) {
                (true, true) => format!("{email} is now an admin: they can sign in at /admin.\n"),
                (true, false) => format!("{email} was already an admin.\n"),
                (false, true) => format!("{email} is no longer an admin.\n"),
                (false, false) => format!("{email} was not an admin.\n"),
            })
        }
        UserCommand::List { json } => {
            let users = manage::users::list(conn)?;
            Ok(Table::of(&["id", "email", "name", "createdAt", "disabledAt", "admin"], &users).render(json))
        }
        UserCommand::Passwd { email, .. } => {
            manage::users::set_password(
                conn,
                &email,
                &users::hash_new_password(&mut HashMemory::default(), &password).map_err(invalid)?,
            )?;
            Ok(format!("New password set for {email}; they are signed out of every browser.\n"))
        }
        UserCommand::Disable { email } => Ok(match manage::users::disable(conn, &email)? {
            true => format!("Disabled {email}: sign-in is refused and their tokens stop working now.\n"),
            false => format!("{email} was already disabled.\n"),
        }),
        UserCommand::Enable { email } => Ok(match manage::users::enable(conn, &email)? {
            true => format!("Enabled {email}: they can sign in again.\n"),
            false => format!("{email} was not disabled.\n"),
        }),
        UserCommand::Remove { email } => {
            let removed = manage::users::remove(conn, &email)?;
            Ok(format!("Removed {email} with {} todos; the call log keeps its rows.\n", removed.todos))
        }
        UserCommand::SetLimit { user, client, limit, per } => {
            super::limits::set_user_limit(conn, &user, &client, &limit, per)
        }
        UserCommand::Unlock { email } => {
            manage::users::unlock(conn, &email)?;
            Ok(format!("{email} can try to sign in again now (a running server sees it at the next attempt).\n"))
        }
    }
}

/// The password a command needs, read before the database is opened: the first line of standard
/// input, or asked for twice on the terminal. The email is checked first, so a typo does not cost
/// typing the password.
pub fn read_password(command: &UserCommand) -> Result<Option<String>, AdminError> {
    let (email, from_stdin) = match command {
        UserCommand::Add { email, password_stdin, .. } | UserCommand::Passwd { email, password_stdin } => {
            (email, *password_stdin)
        }
        _ => return Ok(None),
    };
    users::valid_email(email).map_err(invalid)?;
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| invalid(format!("cannot read the password: {e}")))?;
        return Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()));
    }
    // rpassword asks on the terminal itself (/dev/tty), whatever stdin is; without one (a script,
    // cron, a pasted block's pipe) say what to do instead of "No such device or address".
    if std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_err() {
        return Err(invalid(
            "no terminal to ask for the password on; pipe it in instead: \
             echo 'the password' | gpt-todo user add EMAIL --password-stdin",
        ));
    }
    let ask =
        |prompt| rpassword::prompt_password(prompt).map_err(|e| invalid(format!("cannot read the password: {e}")));
    let first = ask("Password: ")?;
    if first != ask("Again: ")? {
        return Err(invalid("the passwords do not match"));
    }
    Ok(Some(first))
}

pub fn token(conn: &Connection, command: TokenCommand) -> AdminResult {
    match command {
        TokenCommand::Issue { user, client, ttl, resource } => {
            let user_id = manage::users::id_of(conn, &user)?;
            require(conn, &client)?;
            if ttl == 0 {
                return Err(invalid("--ttl must be at least 1 second"));
            }
            let family_id = random_id();
            // `resource`: the URL the token is bound to (RFC 8707), e.g. `<public URL>/mcp` for
            // the MCP endpoint; none gives an unbound token, which only the todo API takes.
            let resource = resource.as_deref().map(|url| url.trim_end_matches('/'));
            let grant = Grant {
                user_id: &user_id,
                client_id: &ClientId::new(client.as_str()),
                scope: SCOPE,
                family_id: &family_id,
                code_hash: None,
                resource,
            };
            Ok(format!("{}\n", tokens::issue(conn, Kind::Access, &grant, Duration::from_secs(ttl))?))
        }
        TokenCommand::Revoke { user, client } => {
            let revoked = manage::users::revoke_tokens(conn, &user, client.as_deref())?;
            let of = client.map(|c| format!(" of client {c}")).unwrap_or_default();
            Ok(format!("Revoked {revoked} tokens of {user}{of}.\n"))
        }
    }
}
