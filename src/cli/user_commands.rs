//! `user …` and `token …`: the operations of `crate::operator`, with what to print.

use std::io::BufRead;
use std::time::Duration;

use super::command_result::{AdminError, AdminResult, audited, counted, invalid, printable};
use super::limit_commands::{LimitChange, set_user_limit};
use super::table::Table;
use crate::cli::args::{TokenCommand, UserCommand};
use crate::oauth::SCOPE;
use crate::operator::{self as manage, ManageError, manage_clients::require, or_refused};
use crate::store::Store;
use crate::store::tokens::{self, Grant, Kind, NewToken};
use crate::support::ids::ClientId;
use crate::support::secrets::{HashMemory, random_id};
use crate::web::accounts as users;

/// Runs `command`; `password` is the one [`read_password`] got before the database was opened,
/// `now` is when the command was given.
pub fn run(store: &Store, command: UserCommand, password: Option<String>, now: i64) -> AdminResult {
    let password = password.unwrap_or_default();
    match command {
        UserCommand::Add { email, name, admin, .. } => {
            // Hashing is slow on purpose: done before the transaction, not while holding it.
            let user =
                users::NewUser::prepare(&mut HashMemory::default(), &email, name.as_deref().unwrap_or(""), &password)
                    .map_err(invalid)?;
            let detail = if admin { "admin" } else { "" };
            let new_id = random_id();
            let id = audited(store, "user.add", &email, |tx| {
                let id = match user.insert(tx, &new_id)? {
                    Ok(id) => id,
                    Err(refused) => return Ok(Err(ManageError::Refused(refused.to_string()))),
                };
                if admin {
                    or_refused!(manage::manage_users::set_admin(tx, &email, true));
                }
                Ok(Ok((id, detail.to_owned())))
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
            let changed = audited(store, action, &email, |tx| {
                Ok(manage::manage_users::set_admin(tx, &email, admin)?.map(|changed| (changed, String::new())))
            })?;
            Ok(match (admin, changed) {
                (true, true) => format!("{email} is now an admin: they can sign in at /admin.\n"),
                (true, false) => format!("{email} was already an admin.\n"),
                (false, true) => format!("{email} is no longer an admin.\n"),
                (false, false) => format!("{email} was not an admin.\n"),
            })
        }
        UserCommand::List { json } => {
            let users = store.read_now(|tx| manage::manage_users::list(tx))?;
            Ok(Table::of(&["id", "email", "name", "createdAt", "disabledAt", "admin"], &users).render(json))
        }
        UserCommand::Passwd { email, .. } => {
            let hash = users::hash_new_password(&mut HashMemory::default(), &password).map_err(invalid)?;
            audited(store, "user.set-password", &email, |tx| {
                or_refused!(manage::manage_users::set_password(tx, &email, &hash));
                let said = format!("New password set for {email}; they are signed out of every browser.\n");
                Ok(Ok((said, String::new())))
            })
        }
        UserCommand::Disable { email } => audited(store, "user.disable", &email, |tx| {
            let said = match or_refused!(manage::manage_users::disable(tx, &email, now)) {
                true => format!("Disabled {email}: sign-in is refused and their tokens stop working now.\n"),
                false => format!("{email} was already disabled.\n"),
            };
            Ok(Ok((said, String::new())))
        }),
        UserCommand::Enable { email } => audited(store, "user.enable", &email, |tx| {
            let said = match or_refused!(manage::manage_users::enable(tx, &email)) {
                true => format!("Enabled {email}: they can sign in again.\n"),
                false => format!("{email} was not disabled.\n"),
            };
            Ok(Ok((said, String::new())))
        }),
        UserCommand::Remove { email } => audited(store, "user.remove", &email, |tx| {
            let removed = or_refused!(manage::manage_users::remove(tx, &email));
            let todos = counted(removed.todos, "todo", "todos");
            Ok(Ok((format!("Removed {email} with {todos}; the call log keeps its rows.\n"), todos)))
        }),
        UserCommand::SetLimit { user, client, limit, per, yes } => {
            set_user_limit(store, &user, &client, LimitChange { limit: &limit, per, yes })
        }
        UserCommand::Unlock { email } => audited(store, "user.unlock", &email, |tx| {
            or_refused!(manage::manage_users::unlock(tx, &email, now));
            let said =
                format!("{email} can try to sign in again now (a running server sees it at the next attempt).\n");
            Ok(Ok((said, String::new())))
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

/// Runs `command`; `now` is when it was given.
pub fn token(store: &Store, command: TokenCommand, now: i64) -> AdminResult {
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
            let (family_id, token) = (random_id(), NewToken::new(Kind::Access));
            audited(store, "user.issue-token", &user, |tx| {
                let user_id = or_refused!(manage::manage_users::id_of(tx, &user));
                or_refused!(require(tx, &client));
                let grant = Grant {
                    user_id: &user_id,
                    client_id: &ClientId::new(client.as_str()),
                    scope: SCOPE,
                    family_id: &family_id,
                    code_hash: None,
                    resource,
                };
                tokens::issue(tx, &token, &grant, tokens::expires_at(now, Duration::from_secs(ttl)))?;
                // A client the operator gave a token to is in use: the bound on self-registered
                // clients and housekeeping keep it once the token has expired and gone.
                crate::store::clients::mark_authorized(tx, &client, now)?;
                Ok(Ok((format!("{}\n", token.token), detail.clone())))
            })
        }
        TokenCommand::Revoke { user: None, client: Some(client) } => {
            super::client_commands::revoke_tokens(store, &client, now)
        }
        TokenCommand::Revoke { user: Some(user), client } => {
            let detail = client.as_ref().map(|c| format!("client {c}")).unwrap_or_else(|| "every client".into());
            audited(store, "user.revoke-tokens", &user, |tx| {
                let revoked = or_refused!(manage::manage_users::revoke_tokens(tx, &user, client.as_deref(), now));
                let of = client.as_ref().map(|c| format!(" of client {c}")).unwrap_or_default();
                Ok(Ok((format!("Revoked {} of {user}{of}.\n", counted(revoked, "token", "tokens")), detail.clone())))
            })
        }
        TokenCommand::Revoke { user: None, client: None } => {
            Err(invalid("say whose tokens: --user EMAIL (theirs), --client CLIENT_ID (all of the client's), or both"))
        }
    }
}
