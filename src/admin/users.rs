//! `user …` and `token …`: the operations of `crate::manage`, with what to print.

use std::io::BufRead;
use std::time::Duration;

use rusqlite::Connection;

use super::limits::{LimitChange, set_user_limit};
use super::table::Table;
use super::{AdminError, AdminResult, audited, counted, invalid, printable};
use crate::cli::{TokenCommand, UserCommand};
use crate::clock::unix_now;
use crate::ids::ClientId;
use crate::manage::{self, clients::require};
use crate::oauth::SCOPE;
use crate::secrets::{HashMemory, random_id};
use crate::store::Tx;
use crate::store::tokens::{self, Grant, Kind, NewToken};
use crate::users;

/// Runs `command`; `password` is the one [`read_password`] got before the database was opened.
pub fn run(conn: &Connection, command: UserCommand, password: Option<String>) -> AdminResult {
    let password = password.unwrap_or_default();
    match command {
        UserCommand::Add { email, name, admin, .. } => {
            // Hashing is slow on purpose: done before the transaction, not while holding it.
            let user =
                users::NewUser::prepare(&mut HashMemory::default(), &email, name.as_deref().unwrap_or(""), &password)
                    .map_err(invalid)?;
            let detail = if admin { "admin" } else { "" };
            let id = audited(conn, "user.add", &email, |conn| {
                let id = users::insert(conn, &user)?;
                if admin {
                    manage::users::set_admin(conn, &email, true)?;
                }
                Ok((id, detail.to_owned()))
            })?;
            let email = printable(email.trim());
            Ok(match admin {
                true => format!("Added user {email} (id {id}), an admin: they can sign in at /admin\n"),
                false => format!("Added user {email} (id {id})\n"),
            })
        }
        UserCommand::SetAdmin { email, state } => {
            let admin = state == "on";
            let action = if admin { "user.make-admin" } else { "user.remove-admin" };
            let changed = audited(conn, action, &email, |conn| {
                Ok((manage::users::set_admin(conn, &email, admin)?, String::new()))
            })?;
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
            let hash = users::hash_new_password(&mut HashMemory::default(), &password).map_err(invalid)?;
            audited(conn, "user.set-password", &email, |conn| {
                manage::users::set_password(conn, &email, &hash)?;
                Ok((format!("New password set for {email}; they are signed out of every browser.\n"), String::new()))
            })
        }
        UserCommand::Disable { email } => audited(conn, "user.disable", &email, |conn| {
            let said = match manage::users::disable(conn, &email)? {
                true => format!("Disabled {email}: sign-in is refused and their tokens stop working now.\n"),
                false => format!("{email} was already disabled.\n"),
            };
            Ok((said, String::new()))
        }),
        UserCommand::Enable { email } => audited(conn, "user.enable", &email, |conn| {
            let said = match manage::users::enable(conn, &email)? {
                true => format!("Enabled {email}: they can sign in again.\n"),
                false => format!("{email} was not disabled.\n"),
            };
            Ok((said, String::new()))
        }),
        UserCommand::Remove { email } => audited(conn, "user.remove", &email, |conn| {
            let removed = manage::users::remove(conn, &email)?;
            let todos = counted(removed.todos, "todo", "todos");
            Ok((format!("Removed {email} with {todos}; the call log keeps its rows.\n"), todos))
        }),
        UserCommand::SetLimit { user, client, limit, per, yes } => {
            set_user_limit(conn, &user, &client, LimitChange { limit: &limit, per, yes })
        }
        UserCommand::Unlock { email } => audited(conn, "user.unlock", &email, |conn| {
            manage::users::unlock(conn, &email)?;
            let said =
                format!("{email} can try to sign in again now (a running server sees it at the next attempt).\n");
            Ok((said, String::new()))
        }),
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
            if ttl == 0 {
                return Err(invalid("--ttl must be at least 1 second"));
            }
            // `resource`: the URL the token is bound to (RFC 8707), e.g. `<public URL>/mcp` for
            // the MCP endpoint; none gives an unbound token, which only the todo API takes.
            let resource = resource.as_deref().map(|url| url.trim_end_matches('/'));
            let mut detail = format!("client {client}, {ttl} s");
            if let Some(resource) = resource {
                detail.push_str(&format!(", for {resource}"));
            }
            audited(conn, "user.issue-token", &user, |conn| {
                let user_id = manage::users::id_of(conn, &user)?;
                require(conn, &client)?;
                let family_id = random_id();
                let grant = Grant {
                    user_id: &user_id,
                    client_id: &ClientId::new(client.as_str()),
                    scope: SCOPE,
                    family_id: &family_id,
                    code_hash: None,
                    resource,
                };
                let token = NewToken::new(Kind::Access);
                let expires_at = tokens::expires_at(unix_now(), Duration::from_secs(ttl));
                tokens::issue(&Tx::sqlite_at(conn, &crate::clock::Clock::system()), &token, &grant, expires_at)
                    .map_err(|e| crate::db::DbError::from(e.into_rusqlite()))?;
                Ok((format!("{}\n", token.token), detail))
            })
        }
        TokenCommand::Revoke { user: None, client: Some(client) } => super::clients::revoke_tokens(conn, &client),
        TokenCommand::Revoke { user: Some(user), client } => {
            let detail = client.as_ref().map(|c| format!("client {c}")).unwrap_or_else(|| "every client".into());
            audited(conn, "user.revoke-tokens", &user, |conn| {
                let revoked = manage::users::revoke_tokens(conn, &user, client.as_deref())?;
                let of = client.as_ref().map(|c| format!(" of client {c}")).unwrap_or_default();
                Ok((format!("Revoked {} of {user}{of}.\n", counted(revoked, "token", "tokens")), detail))
            })
        }
        TokenCommand::Revoke { user: None, client: None } => {
            Err(invalid("say whose tokens: --user EMAIL (theirs), --client CLIENT_ID (all of the client's), or both"))
        }
    }
}
