//! Clients: the list with their usage, adding one (shown exactly as `client add` prints it, once),
//! and one client's page: redirect URIs, limit, a new secret, revoking its tokens.

use maud::{Markup, html};
use warp::http::StatusCode;
use warp::reply::Response;

use super::Ask;
use super::audit_page::change;
use super::frame::{self, Section, action_field, button_form, csrf_field, query_value, segment};
use crate::cli::commands as admin;
use crate::operator::manage_clients::{self as manage, ClientSummary};
use crate::operator::{ManageError, ManageResult};
use crate::quota::{Plan, Window};
use crate::store::{StoreError, Tx, client_admin, reports};
use crate::web::html::sentence;
use crate::web::markup::error_block;

/// A client in the list: what `client list` shows, and its use.
struct Listed {
    client: ClientSummary,
    calls_30_days: u64,
    live_tokens: u64,
}

pub async fn list(ask: Ask) -> Response {
    let since = crate::quota::Period::containing(Window::Day, ask.state.config.clock.now() - 29 * 86_400).key();
    let now = ask.state.config.clock.now();
    match ask.state.store.read(move |tx| listed(tx, &since, now)).await {
        Ok(clients) => frame::page(&ask, Section::Clients, "Clients", render_list(&ask, &clients, None)),
        Err(e) => frame::server_error(&e),
    }
}

fn listed(tx: &Tx<'_>, since: &str, now: i64) -> Result<Vec<Listed>, StoreError> {
    client_admin::list(tx)?
        .into_iter()
        .map(|client| {
            let (calls_30_days, live_tokens) = reports::client_use(tx, &client.client_id, since, now)?;
            Ok(Listed { client, calls_30_days, live_tokens })
        })
        .collect()
}

fn render_list(ask: &Ask, clients: &[Listed], error: Option<&str>) -> Markup {
    html! {
        h1 { "Clients" }
        @if clients.is_empty() {
            p { "No clients yet. Add one below for each GPT or app that signs its users in here." }
        } @else {
            (client_table(clients))
        }
        h2 id="add" { "Add a client" }
        (error_block(error))
        form method="post" action="/admin/clients" {
            (csrf_field(ask))
            label for="name" { "Name (shown on the consent page)" }
            input id="name" type="text" name="name" required;
            label for="redirect_uris" { "Redirect URIs, one per line (exact match)" }
            textarea id="redirect_uris" name="redirect_uris" required
                placeholder="https://chat.openai.com/aip/g-…/oauth/callback" {}
            div class="inline" {
                div {
                    label for="call_limit" { "Calls per user (empty: the server's default)" }
                    input id="call_limit" type="number" name="call_limit" min="0" inputmode="numeric";
                }
                div { label for="per" { "Per" } (window_select("per", Window::Total)) }
            }
            div class="inline" {
                input id="public" type="checkbox" name="public" value="yes";
                label for="public" { "Public client (no secret; PKCE S256)" }
            }
            p { button type="submit" { "Add client" } }
        }
    }
}

fn client_table(clients: &[Listed]) -> Markup {
    html! {
        div class="scroll" tabindex="0" {
            // A phone leaves out the 43-character id, which the client's page shows (console.css).
            table class="clients" {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Client id" } th scope="col" { "Type" }
                    th scope="col" { "Registered" } th scope="col" { "Limit" }
                    th scope="col" class="num" { "Calls, 30 days" } th scope="col" class="num" { "Live tokens" }
                } }
                tbody {
                    @for Listed { client, calls_30_days, live_tokens } in clients {
                        tr {
                            td { a href={ "/admin/clients/" (segment(&client.client_id)) } { (client.name) } }
                            td { code { (client.client_id) } }
                            td { (client.kind) }
                            td { (registration_text(&client.registered_by)) }
                            td { (limit_text(client)) }
                            td class="num" { (calls_30_days) }
                            td class="num" { (live_tokens) }
                        }
                    }
                }
            }
        }
    }
}

/// How the client came to be known, for the operator: only `client add` and this console's form
/// are the operator's own; the others added themselves (MCP clients, issue 8).
fn registration_text(registered_by: &str) -> &'static str {
    match registered_by {
        "operator" => "by the operator",
        "dynamic" => "dynamic (RFC 7591)",
        "metadata-document" => "metadata document",
        _ => "unknown",
    }
}

fn limit_text(client: &ClientSummary) -> String {
    let window = client.call_window.as_deref().and_then(Window::from_stored).unwrap_or(Window::Total);
    match client.call_limit {
        Some(limit) => admin::describe(Plan { limit: limit.max(0) as u64, window }),
        None => "server default".to_owned(),
    }
}

fn window_select(name: &str, selected: Window) -> Markup {
    html! {
        select id=(name) name=(name) {
            @for w in [Window::Total, Window::Day, Window::Month] {
                option value=(w.as_str()) selected[w == selected] {
                    @match w {
                        Window::Total => "in total",
                        Window::Day => "per UTC day",
                        Window::Month => "per UTC month",
                    }
                }
            }
        }
    }
}

/// A limit from the form's `call_limit` and `per`; an empty number is the server's default.
fn plan_from(ask: &Ask) -> ManageResult<Option<Plan>> {
    let window = Window::from_stored(ask.params.get("per").unwrap_or("total"))
        .ok_or_else(|| ManageError::Refused("choose a window: in total, per day or per month".into()))?;
    match ask.params.get("call_limit").map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) => admin::parse_limit(n, window).map_err(|e| ManageError::Refused(e.to_string())),
    }
}

pub async fn add(ask: Ask) -> Response {
    let name = ask.params.get("name").unwrap_or("").trim().to_owned();
    let uris: Vec<String> = ask
        .params
        .get("redirect_uris")
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let public = ask.params.get("public") == Some("yes");
    let added = match plan_from(&ask) {
        Err(e) => Err(e),
        Ok(plan) => {
            let (n, u) = (name.clone(), uris.clone());
            let detail = format!("name {name:?}, {} redirect URIs{}", uris.len(), if public { ", public" } else { "" });
            change(&ask, "client.add", &name, detail, move |tx| manage::add(tx, &n, &u, plan, public)).await
        }
    };
    match added {
        Ok(registered) => {
            let printed = admin::added(&name, &registered, ask.state.config.public_url());
            let content = html! {
                h1 { "Client added" }
                p class="notice" role="status" {
                    "Copy these now: the secret is shown only this once (only its hash is stored)."
                }
                pre { (printed) }
                p {
                    a href={ "/admin/clients/" (segment(&registered.client_id)) } { "Go to the client" }
                    " · " a href="/admin/clients" { "All clients" }
                }
            };
            frame::page(&ask, Section::Clients, "Client added", content)
        }
        Err(ManageError::Refused(message)) => refused_add(ask, &message).await,
        Err(e) => frame::server_error(&e),
    }
}

async fn refused_add(ask: Ask, message: &str) -> Response {
    let since = crate::quota::Period::containing(Window::Day, ask.state.config.clock.now() - 29 * 86_400).key();
    let now = ask.state.config.clock.now();
    let clients = match ask.state.store.read(move |tx| listed(tx, &since, now)).await {
        Ok(clients) => clients,
        Err(e) => return frame::server_error(&e),
    };
    let html = render_list(&ask, &clients, Some(&sentence(message)));
    frame::page_with_status(&ask, StatusCode::BAD_REQUEST, Section::Clients, "Clients", html)
}

/// One client's page.
pub async fn detail(client_id: String, ask: Ask) -> Response {
    show(client_id, ask, StatusCode::OK, None, None).await
}

async fn show(
    client_id: String,
    ask: Ask,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let id = client_id.clone();
    let client = match ask.state.store.read(move |tx| client_admin::summary_of(tx, &id)).await {
        Ok(Some(client)) => client,
        Ok(None) => return frame::not_found("such client"),
        Err(e) => return frame::server_error(&e),
    };
    let content = render_detail(&ask, &client, notice.as_deref(), error.as_deref());
    frame::page_with_status(&ask, status, Section::Clients, &client.name, content)
}

fn render_detail(ask: &Ask, client: &ClientSummary, notice: Option<&str>, error: Option<&str>) -> Markup {
    let action = format!("/admin/clients/{}", segment(&client.client_id));
    let current = client.call_window.as_deref().and_then(Window::from_stored).unwrap_or(Window::Total);
    let add_redirect = html! {
        (action_field("add-redirect"))
        div { label for="uri" { "Add a redirect URI" } input id="uri" type="text" name="uri" required; }
    };
    let set_limit = html! {
        (action_field("set-limit"))
        div {
            label for="call_limit" { "Calls per user" }
            input id="call_limit" type="number" name="call_limit" min="0" value=[client.call_limit];
        }
        div { label for="per" { "Per" } (window_select("per", current)) }
    };
    html! {
        p { a href="/admin/clients" { "← All clients" } }
        h1 { (client.name) }
        @if let Some(n) = notice { pre class="notice" role="status" { (n) } }
        (error_block(error))
        dl {
            dt { "Client id" } dd { code { (client.client_id) } }
            dt { "Type" } dd { (client.kind) }
            dt { "Registered" } dd { (registration_text(&client.registered_by)) }
            dt { "Limit" } dd { (limit_text(client)) }
            dt { "Added" } dd { (client.created_at) }
        }
        p { a href={ "/admin/calls?client=" (query_value(&client.client_id)) } { "Its calls in the log" } }
        h2 { "Redirect URIs" }
        ul {
            @for uri in &client.redirect_uris {
                @let fields = html! { (action_field("remove-redirect")) input type="hidden" name="uri" value=(uri); };
                li { code { (uri) } " " (button_form(ask, &action, fields, "Remove", "secondary")) }
            }
        }
        (button_form(ask, &action, add_redirect, "Add", ""))
        h2 { "Limit" }
        p { "Calls each user may make. Empty: the server's default." }
        (button_form(ask, &action, set_limit, "Set limit", ""))
        h2 { "Secret and tokens" }
        @if client.kind == "confidential" {
            (button_form(ask, &action, action_field("rotate-secret"), "Rotate the secret", "secondary"))
        }
        (button_form(ask, &action, action_field("revoke-tokens"), "Revoke all its tokens", "danger"))
    }
}

/// A change on one client's page: one writer job with its audit row, then the page again.
pub async fn change_client(client_id: String, ask: Ask) -> Response {
    let id = client_id.clone();
    let uri = ask.params.get("uri").unwrap_or("").trim().to_owned();
    let done: ManageResult<Option<String>> = match ask.params.get("action") {
        Some("add-redirect") => {
            let detail = uri.clone();
            change(&ask, "client.add-redirect-uri", &client_id, detail, move |tx| {
                Ok(manage::add_redirect_uri(tx, &id, &uri)?.map(|_| Some("Redirect URI added.".to_owned())))
            })
            .await
        }
        Some("remove-redirect") => {
            let detail = uri.clone();
            change(&ask, "client.remove-redirect-uri", &client_id, detail, move |tx| {
                Ok(manage::remove_redirect_uri(tx, &id, &uri)?.map(|_| Some("Redirect URI removed.".to_owned())))
            })
            .await
        }
        Some("set-limit") => match plan_from(&ask) {
            Err(e) => Err(e),
            Ok(plan) => {
                let detail = plan.map_or("server default".to_owned(), admin::describe);
                let notice = format!("Limit set: {detail}.");
                change(&ask, "client.set-limit", &client_id, detail, move |tx| {
                    Ok(manage::set_limit(tx, &id, plan)?.map(|()| Some(notice.clone())))
                })
                .await
            }
        },
        Some("rotate-secret") => {
            let secret = manage::new_secret();
            change(&ask, "client.rotate-secret", &client_id, String::new(), move |tx| {
                Ok(manage::rotate_secret(tx, &id, &secret)?.map(|()| Some(admin::rotated(&id, &secret))))
            })
            .await
        }
        Some("revoke-tokens") => {
            let now = ask.state.config.clock.now();
            change(&ask, "client.revoke-tokens", &client_id, String::new(), move |tx| {
                Ok(manage::revoke_tokens(tx, &id, now)?
                    .map(|n| Some(format!("Revoked {}.", admin::counted(n, "token", "tokens")))))
            })
            .await
        }
        _ => Err(ManageError::Refused("this form action is not available".into())),
    };
    match done {
        Ok(notice) => show(client_id, ask, StatusCode::OK, notice, None).await,
        Err(ManageError::NoClient(_)) => frame::not_found("such client"),
        Err(ManageError::Refused(message)) => {
            show(client_id, ask, StatusCode::BAD_REQUEST, None, Some(sentence(&message))).await
        }
        Err(e) => frame::server_error(&e),
    }
}
