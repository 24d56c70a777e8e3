//! `client …`: the operations of `crate::manage::clients`, with what to print.

use rusqlite::Connection;

use super::limits::{LimitChange, set_client_limit};
use super::table::Table;
use super::{AdminResult, audited, counted, printable};
use crate::cli::ClientCommand;
use crate::clients::Registered;
use crate::manage::clients as manage;
use crate::oauth::endpoints::{EndpointUrls, SCOPE};
use crate::quota::Plan;

pub fn run(conn: &Connection, command: ClientCommand) -> AdminResult {
    match command {
        ClientCommand::Add { name, redirect_uris, call_limit, per, public, public_url } => {
            let plan = call_limit.map(|limit| Plan { limit, window: per });
            let detail =
                format!("name {name:?}, {} redirect URIs{}", redirect_uris.len(), if public { ", public" } else { "" });
            // The console names the new client by its name too (the id is made by the change).
            let registered = audited(conn, "client.add", &name, |conn| {
                Ok((manage::add(conn, &name, &redirect_uris, plan, public)?, detail))
            })?;
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
        ClientCommand::SetLimit { client_id, limit, per, yes } => {
            set_client_limit(conn, &client_id, LimitChange { limit: &limit, per, yes })
        }
        ClientCommand::Remove { client_id } => audited(conn, "client.remove", &client_id, |conn| {
            manage::remove(conn, &client_id)?;
            let said =
                format!("Removed client {client_id} with its tokens and counters; the call log keeps its rows.\n");
            Ok((said, String::new()))
        }),
        ClientCommand::RotateSecret { client_id } => audited(conn, "client.rotate-secret", &client_id, |conn| {
            let secret = manage::rotate_secret(conn, &client_id)?;
            Ok((rotated(&client_id, &secret), String::new()))
        }),
        ClientCommand::AddRedirectUri { client_id, uri } => {
            audited(conn, "client.add-redirect-uri", &client_id, |conn| {
                let uris = manage::add_redirect_uri(conn, &client_id, &uri)?;
                Ok((format!("Redirect URIs of {client_id}:\n  {}\n", uris.join("\n  ")), uri.clone()))
            })
        }
        ClientCommand::RemoveRedirectUri { client_id, uri } => {
            audited(conn, "client.remove-redirect-uri", &client_id, |conn| {
                let uris = manage::remove_redirect_uri(conn, &client_id, &uri)?;
                Ok((format!("Redirect URIs of {client_id}:\n  {}\n", uris.join("\n  ")), uri.clone()))
            })
        }
        ClientCommand::Rename { client_id, name } => audited(conn, "client.rename", &client_id, |conn| {
            manage::rename(conn, &client_id, &name)?;
            let said = format!("Client {client_id} is now called \"{}\".\n", printable(name.trim()));
            Ok((said, format!("name {:?}", name.trim())))
        }),
    }
}

/// Every access and refresh token of the client, of every user (`token revoke --client`).
pub fn revoke_tokens(conn: &Connection, client_id: &str) -> AdminResult {
    audited(conn, "client.revoke-tokens", client_id, |conn| {
        let revoked = manage::revoke_tokens(conn, client_id)?;
        let said = format!(
            "Revoked {} of client {client_id}, of every user; they must sign in and allow it again.\n",
            counted(revoked, "token", "tokens")
        );
        Ok((said, String::new()))
    })
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
