//! Users: search, one user's counters per client, and what an admin does to them: reset a counter,
//! disable (their tokens stop working at once) and enable, make admin or not.

use maud::{Markup, html};
use warp::http::StatusCode;
use warp::reply::Response;

use super::Ask;
use super::audit_page::change;
use super::frame::{self, Section, action_field, button_form, query_value, segment};
use super::names::ClientNames;
use crate::operator::counters::Counter;
use crate::operator::{self as manage, ManageError, ManageResult};
use crate::quota::{Period, Plan, Window};
use crate::store::accounts::{self, Profile};
use crate::store::{reports, usage_counters};
use crate::support::ids::UserId;
use crate::web::html::sentence;
use crate::web::markup::error_block;

/// How many users a search shows.
const PAGE: i64 = 100;

pub async fn list(ask: Ask) -> Response {
    let q = ask.params.get("q").unwrap_or("").trim().to_owned();
    let since = Period::containing(Window::Day, ask.state.config.clock.now() - 29 * 86_400).key();
    let query = q.clone();
    let read = ask
        .state
        .store
        .read(move |tx| Ok((accounts::search(tx, &query, PAGE)?, reports::calls_per_user(tx, &since)?)))
        .await;
    let (rows, calls) = match read {
        Ok(found) => found,
        Err(e) => return frame::server_error(&e),
    };
    let html = html! {
        h1 { "Users" }
        form method="get" action="/admin/users" class="inline" role="search" {
            div { label for="q" { "Email or name contains" } input id="q" type="search" name="q" value=(q); }
            button type="submit" { "Search" }
        }
        @if rows.is_empty() {
            p { "No users match." }
        } @else {
            div class="scroll" tabindex="0" {
                table {
                    thead { tr {
                        th scope="col" { "Email" } th scope="col" { "Name" } th scope="col" { "State" }
                        th scope="col" class="num" { "Calls, 30 days" } th scope="col" { "Added" }
                    } }
                    tbody {
                        @for row in &rows {
                            tr {
                                td { a href={ "/admin/users/" (segment(&row.id)) } { (row.email) } }
                                td { (row.name) }
                                td { (tags(row)) }
                                td class="num" { (calls.get(&row.id).copied().unwrap_or(0)) }
                                td { (row.created_at) }
                            }
                        }
                    }
                }
            }
            @if rows.len() as i64 == PAGE {
                p { "The first " (PAGE) " matches; search to narrow them down." }
            }
        }
    };
    frame::page(&ask, Section::Users, "Users", html)
}

fn tags(row: &Profile) -> Markup {
    html! {
        @if row.disabled { span class="tag warn" { "disabled" } " " }
        @if row.admin { span class="tag" { "admin" } }
        @if !row.disabled && !row.admin { "active" }
    }
}

pub async fn detail(user_id: String, ask: Ask) -> Response {
    show(user_id, ask, StatusCode::OK, None, None).await
}

async fn show(
    user_id: String,
    ask: Ask,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let now = ask.state.config.clock.now();
    let default = Plan { limit: ask.state.config.default_call_limit, window: ask.state.config.default_call_window };
    let read = ask
        .state
        .store
        .read(move |tx| {
            let Some(user) = accounts::find(tx, &user_id)? else { return Ok(None) };
            let counters = usage_counters::counters(tx, Some(&UserId::new(user.id.as_str())), None, default, now)?;
            let names = ClientNames::read(tx, counters.iter().map(|c| c.client_id.as_str()))?;
            Ok(Some((user, counters, names)))
        })
        .await;
    let (user, counters, names) = match read {
        Ok(Some(found)) => found,
        Ok(None) => return frame::not_found("such user"),
        Err(e) => return frame::server_error(&e),
    };
    let action = format!("/admin/users/{}", segment(&user.id));
    let (toggle, label, class) = if user.disabled {
        ("enable", "Enable", "")
    } else {
        ("disable", "Disable (their tokens stop working now)", "danger")
    };
    let (admin_toggle, admin_label) =
        if user.admin { ("admin-off", "Remove admin") } else { ("admin-on", "Make admin") };
    let html = html! {
        p { a href="/admin/users" { "← All users" } }
        h1 { (user.email) }
        @if let Some(n) = &notice { p class="notice" role="status" { (n) } }
        (error_block(error.as_deref()))
        dl {
            dt { "Name" } dd { (user.name) }
            dt { "User id" } dd { code { (user.id) } }
            dt { "State" } dd { (tags(&user)) }
            dt { "Added" } dd { (user.created_at) }
        }
        p { a href={ "/admin/calls?user=" (query_value(&user.id)) } { "Their calls in the log" } }
        h2 { "Usage per client" }
        @if counters.is_empty() {
            p { "No calls counted yet." }
        } @else {
            (counter_table(&counters, &names, Some((&ask, &action))))
        }
        h2 { "Account" }
        (button_form(&ask, &action, action_field(toggle), label, class))
        (button_form(&ask, &action, action_field(admin_toggle), admin_label, "secondary"))
    };
    frame::page_with_status(&ask, status, Section::Users, &user.email, html)
}

/// The counters as a table, each client by its name; with `reset` (the page and its form action)
/// each current counter gets a reset button.
pub fn counter_table(counters: &[Counter], names: &ClientNames, reset: Option<(&Ask, &str)>) -> Markup {
    html! {
        div class="scroll" tabindex="0" {
            // On one user's page (the one with reset buttons) a phone leaves out the user column.
            table class=[reset.is_some().then_some("per-user")] {
                thead { tr {
                    th scope="col" { "User" } th scope="col" { "Client" } th scope="col" { "Period" }
                    th scope="col" class="num" { "Count" } th scope="col" class="num" { "Limit" }
                    th scope="col" { "Set by" }
                    @if reset.is_some() { th scope="col" { "Reset" } }
                } }
                tbody {
                    @for c in counters {
                        tr {
                            td { a href={ "/admin/users/" (segment(&c.user_id)) } { (c.email.as_deref().unwrap_or(&c.user_id)) } }
                            td { (names.link(&c.client_id)) }
                            td { (c.period) @if c.current == "yes" { " (now)" } }
                            td class="num" { (c.count) }
                            td class="num" { (c.limit) " " (c.limit_window) }
                            td { (c.limit_set_by) }
                            @if let Some((ask, action)) = reset {
                                @let fields = html! {
                                    (action_field("reset")) input type="hidden" name="client" value=(c.client_id);
                                };
                                td { (button_form(ask, action, fields, "Reset", "secondary")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A change on one user's page: one writer job with its audit row, then the page again.
pub async fn change_user(user_id: String, ask: Ask) -> Response {
    let id = user_id.clone();
    let email = match ask.state.store.read(move |tx| accounts::find(tx, &id)).await {
        Ok(Some(user)) => user.email,
        Ok(None) => return frame::not_found("such user"),
        Err(e) => return frame::server_error(&e),
    };
    let who = email.clone();
    let done: ManageResult<String> = match ask.params.get("action") {
        Some("reset") => {
            let client = ask.params.get("client").map(str::to_owned);
            let detail = client.clone().map(|c| format!("client {c}")).unwrap_or_else(|| "every client".into());
            change(&ask, "user.reset-usage", &email, detail, move |tx| {
                Ok(manage::counters::reset(tx, &who, client.as_deref())?
                    .map(|n| format!("Reset {}.", crate::cli::commands::counted(n, "counter", "counters"))))
            })
            .await
        }
        Some("disable") if email.eq_ignore_ascii_case(&ask.admin.email) => {
            Err(ManageError::Refused("you cannot disable your own account here; use the command line".into()))
        }
        Some("disable") => {
            let now = ask.state.config.clock.now();
            change(&ask, "user.disable", &email, String::new(), move |tx| {
                Ok(manage::manage_users::disable(tx, &who, now)?
                    .map(|_| "Disabled: sign-in is refused and their tokens stop working now.".into()))
            })
            .await
        }
        Some("enable") => {
            change(&ask, "user.enable", &email, String::new(), move |tx| {
                Ok(manage::manage_users::enable(tx, &who)?.map(|_| "Enabled: they can sign in again.".into()))
            })
            .await
        }
        Some(toggle @ ("admin-on" | "admin-off")) => {
            let on = toggle == "admin-on";
            if !on && email.eq_ignore_ascii_case(&ask.admin.email) {
                Err(ManageError::Refused("you cannot remove your own admin role here; use the command line".into()))
            } else {
                let action = if on { "user.make-admin" } else { "user.remove-admin" };
                change(&ask, action, &email, String::new(), move |tx| {
                    Ok(manage::manage_users::set_admin(tx, &who, on)?
                        .map(|_| if on { "Now an admin." } else { "No longer an admin." }.into()))
                })
                .await
            }
        }
        _ => Err(ManageError::Refused("this form action is not available".into())),
    };
    match done {
        Ok(notice) => show(user_id, ask, StatusCode::OK, Some(notice), None).await,
        Err(ManageError::Refused(message)) => {
            show(user_id, ask, StatusCode::BAD_REQUEST, None, Some(sentence(&message))).await
        }
        Err(e) => frame::server_error(&e),
    }
}
