//! `client …`: the operations of `crate::manage::clients`, with what to print.

use rusqlite::Connection;

use super::limits::{describe, parse_limit};
use super::table::Table;
use super::{AdminResult, printable};
use crate::cli::ClientCommand;
use crate::clients::Registered;
use crate::manage::clients as manage;
use crate::oauth::endpoints::{EndpointUrls, SCOPE};
use crate::quota::Plan;

pub fn run(conn: &Connection, command: ClientCommand) -> AdminResult {
    match command {
        ClientCommand::Add { name, redirect_uris, call_limit, per, public, public_url } => {
            let plan = call_limit.map(|limit| Plan { limit, window: per });
            let registered = manage::add(conn, &name, &redirect_uris, plan, public)?;
            Ok(added(&name, &registered, &public_url))
        }
        ClientCommand::List { json } => {
            let clients = manage::list(conn)?;
            Ok(Table::of(
                &["clientId", "name", "type", "callLimit", "callWindow", "redirectUris", "registeredBy", "createdAt"],
                &clients,
            )
            .render(json))
        }
        ClientCommand::SetLimit { client_id, limit, per } => {
            let plan = parse_limit(&limit, per)?;
            manage::set_limit(conn, &client_id, plan)?;
            Ok(match plan {
                Some(plan) => format!("Client {client_id} may now make {} per user.\n", describe(plan)),
                None => format!("Client {client_id} now uses the server's default limit.\n"),
            })
        }
        ClientCommand::Remove { client_id } => {
            manage::remove(conn, &client_id)?;
            Ok(format!("Removed client {client_id} with its tokens and counters; the call log keeps its rows.\n"))
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = manage::rotate_secret(conn, &client_id)?;
            Ok(rotated(&client_id, &secret))
        }
        ClientCommand::AddRedirectUri { client_id, uri } => {
            let uris = manage::add_redirect_uri(conn, &client_id, &uri)?;
            Ok(format!("Redirect URIs of {client_id}:\n  {}\n", uris.join("\n  ")))
        }
        ClientCommand::RemoveRedirectUri { client_id, uri } => {
            let uris = manage::remove_redirect_uri(conn, &client_id, &uri)?;
            Ok(format!("Redirect URIs of {client_id}:\n  {}\n", uris.join("\n  ")))
        }
        ClientCommand::Rename { client_id, name } => {
            manage::rename(conn, &client_id, &name)?;
            Ok(format!("Client {client_id} is now called \"{}\".\n", printable(name.trim())))
        }
    }
}

/// What `client add` prints (the console shows the same, once).
pub fn added(name: &str, registered: &Registered, public_url: &str) -> String {
    let secret = match &registered.client_secret {
        Some(secret) => format!("{secret}   (shown only now; only its hash is stored)"),
        None => "(none: a public client, which must use PKCE S256)".to_owned(),
    };
    format!(
        "Added client \"{}\".\n\n{}",
        printable(name.trim()),
        paste_block(&registered.client_id, &secret, public_url)
    )
}

/// What `client rotate-secret` prints (the console shows the same, once).
pub fn rotated(client_id: &str, secret: &str) -> String {
    format!(
        "New secret for {client_id} (shown only now; the old one no longer works):\n\
         \x20 Client Secret:          {secret}\n\
         Paste it into the GPT editor's OAuth settings; tokens already issued stay valid.\n"
    )
}

/// What to paste into the GPT editor's OAuth settings.
fn paste_block(client_id: &str, secret: &str, public_url: &str) -> String {
    let urls = EndpointUrls::under(public_url);
    format!(
        "Paste into the GPT editor (Configure → Actions → Authentication → OAuth):\n\
         \x20 Client ID:              {client_id}\n\
         \x20 Client Secret:          {secret}\n\
         \x20 Authorization URL:      {authorize}\n\
         \x20 Token URL:              {token}\n\
         \x20 Scope:                  {SCOPE}\n\
         \x20 Token Exchange Method:  Default (POST request)   (Basic authorization header works too)\n",
        authorize = urls.authorize,
        token = urls.token,
    )
}
