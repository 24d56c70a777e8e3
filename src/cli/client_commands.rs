//! `client …`: the operations of `crate::operator::manage_clients`, with what to print.

use super::command_result::{AdminResult, audited, counted, printable};
use super::limit_commands::{LimitChange, set_client_limit};
use super::table::Table;
use crate::cli::args::ClientCommand;
use crate::oauth::client_rules::Registered;
use crate::oauth::endpoints::{EndpointUrls, SCOPE};
use crate::operator::manage_clients as manage;
use crate::operator::or_refused;
use crate::quota::Plan;
use crate::store::Store;

pub fn run(store: &Store, command: ClientCommand) -> AdminResult {
    match command {
        ClientCommand::Add { name, redirect_uris, call_limit, per, public, public_url } => {
            let plan = call_limit.map(|limit| Plan { limit, window: per });
            let detail =
                format!("name {name:?}, {} redirect URIs{}", redirect_uris.len(), if public { ", public" } else { "" });
            // The console names the new client by its name too (the id is made by the change).
            let registered = audited(store, "client.add", &name, |tx| {
                Ok(manage::add(tx, &name, &redirect_uris, plan, public)?.map(|added| (added, detail.clone())))
            })?;
            Ok(added(&name, &registered, &public_url))
        }
        ClientCommand::List { json } => {
            let clients = store.read_now(|tx| manage::list(tx))?;
            Ok(Table::of(
                &["clientId", "name", "type", "callLimit", "callWindow", "redirectUris", "registeredBy", "createdAt"],
                &clients,
            )
            .render(json))
        }
        ClientCommand::SetLimit { client_id, limit, per, yes } => {
            set_client_limit(store, &client_id, LimitChange { limit: &limit, per, yes })
        }
        ClientCommand::Remove { client_id } => audited(store, "client.remove", &client_id, |tx| {
            or_refused!(manage::remove(tx, &client_id));
            let said =
                format!("Removed client {client_id} with its tokens and counters; the call log keeps its rows.\n");
            Ok(Ok((said, String::new())))
        }),
        ClientCommand::RotateSecret { client_id } => {
            let secret = manage::new_secret();
            audited(store, "client.rotate-secret", &client_id, |tx| {
                or_refused!(manage::rotate_secret(tx, &client_id, &secret));
                Ok(Ok((rotated(&client_id, &secret), String::new())))
            })
        }
        ClientCommand::AddRedirectUri { client_id, uri } => {
            audited(store, "client.add-redirect-uri", &client_id, |tx| {
                let uris = or_refused!(manage::add_redirect_uri(tx, &client_id, &uri));
                Ok(Ok((format!("Redirect URIs of {client_id}:\n  {}\n", uris.join("\n  ")), uri.clone())))
            })
        }
        ClientCommand::RemoveRedirectUri { client_id, uri } => {
            audited(store, "client.remove-redirect-uri", &client_id, |tx| {
                let uris = or_refused!(manage::remove_redirect_uri(tx, &client_id, &uri));
                Ok(Ok((format!("Redirect URIs of {client_id}:\n  {}\n", uris.join("\n  ")), uri.clone())))
            })
        }
        ClientCommand::Rename { client_id, name } => audited(store, "client.rename", &client_id, |tx| {
            or_refused!(manage::rename(tx, &client_id, &name));
            let said = format!("Client {client_id} is now called \"{}\".\n", printable(name.trim()));
            Ok(Ok((said, format!("name {:?}", name.trim()))))
        }),
    }
}

/// Every access and refresh token of the client, of every user, as of `now` (`token revoke
/// --client`).
pub fn revoke_tokens(store: &Store, client_id: &str, now: i64) -> AdminResult {
    audited(store, "client.revoke-tokens", client_id, |tx| {
        let revoked = or_refused!(manage::revoke_tokens(tx, client_id, now));
        let said = format!(
            "Revoked {} of client {client_id}, of every user; they must sign in and allow it again.\n",
            counted(revoked, "token", "tokens")
        );
        Ok(Ok((said, String::new())))
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
