//! Users: search, one user's counters per client, and what an admin does to them: reset a counter,
//! disable (their tokens stop working at once) and enable, make admin or not.

use warp::http::StatusCode;
use warp::reply::Response;

use super::Ask;
use super::audit_page::change;
use super::frame::{self, Section, button_form, query_value, segment};
use crate::operator::counters::Counter;
use crate::operator::{self as manage, ManageError, ManageResult};
use crate::quota::{Period, Plan, Window};
use crate::store::accounts::{self, Profile};
use crate::store::{reports, usage_counters};
use crate::support::ids::UserId;
use crate::web::html::{error_block, escape, sentence};

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
    let mut html = format!(
        r#"<h1>Users</h1><form method="get" action="/admin/users" class="inline" role="search"><div><label for="q">Email or name contains</label><input id="q" type="search" name="q" value="{}"></div><button type="submit">Search</button></form>"#,
        escape(&q)
    );
    if rows.is_empty() {
        html.push_str("<p>No users match.</p>");
    } else {
        html.push_str(r#"<div class="scroll" tabindex="0"><table><thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">State</th><th scope="col" class="num">Calls, 30 days</th><th scope="col">Added</th></tr></thead><tbody>"#);
        for row in &rows {
            html.push_str(&format!(
                r#"<tr><td><a href="/admin/users/{href}">{email}</a></td><td>{name}</td><td>{state}</td><td class="num">{calls}</td><td>{created}</td></tr>"#,
                href = escape(&segment(&row.id)),
                email = escape(&row.email),
                name = escape(&row.name),
                state = tags(row),
                calls = calls.get(&row.id).copied().unwrap_or(0),
                created = escape(&row.created_at),
            ));
        }
        html.push_str("</tbody></table></div>");
        if rows.len() as i64 == PAGE {
            html.push_str(&format!("<p>The first {PAGE} matches; search to narrow them down.</p>"));
        }
    }
    frame::page(&ask, Section::Users, "Users", &html)
}

fn tags(row: &Profile) -> String {
    let mut tags = String::new();
    if row.disabled {
        tags.push_str(r#"<span class="tag warn">disabled</span> "#);
    }
    if row.admin {
        tags.push_str(r#"<span class="tag">admin</span>"#);
    }
    if tags.is_empty() { "active".to_owned() } else { tags }
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
            Ok(Some((user, counters)))
        })
        .await;
    let (user, counters) = match read {
        Ok(Some(found)) => found,
        Ok(None) => return frame::not_found("such user"),
        Err(e) => return frame::server_error(&e),
    };
    let action = format!("/admin/users/{}", segment(&user.id));
    let mut html = format!(
        r#"<p><a href="/admin/users">← All users</a></p><h1>{email}</h1>{notice}{error}
<dl><dt>Name</dt><dd>{name}</dd><dt>User id</dt><dd><code>{id}</code></dd><dt>State</dt><dd>{state}</dd><dt>Added</dt><dd>{created}</dd></dl>
<p><a href="/admin/calls?user={query}">Their calls in the log</a></p><h2>Usage per client</h2>"#,
        email = escape(&user.email),
        notice = notice.map(|n| format!(r#"<p class="notice" role="status">{}</p>"#, escape(&n))).unwrap_or_default(),
        error = error_block(error.as_deref()),
        name = escape(&user.name),
        id = escape(&user.id),
        query = escape(&query_value(&user.id)),
        state = tags(&user),
        created = escape(&user.created_at),
    );
    if counters.is_empty() {
        html.push_str("<p>No calls counted yet.</p>");
    } else {
        html.push_str(&counter_table(&counters, Some((&ask, &action))));
    }
    html.push_str("<h2>Account</h2>");
    let (toggle, label, class) = if user.disabled {
        ("enable", "Enable", "")
    } else {
        ("disable", "Disable (their tokens stop working now)", "danger")
    };
    html.push_str(&button_form(&ask, &action, &hidden_action(toggle), label, class));
    let (toggle, label) = if user.admin { ("admin-off", "Remove admin") } else { ("admin-on", "Make admin") };
    html.push_str(&button_form(&ask, &action, &hidden_action(toggle), label, "secondary"));
    frame::page_with_status(&ask, status, Section::Users, &user.email, &html)
}

fn hidden_action(action: &str) -> String {
    format!(r#"<input type="hidden" name="action" value="{action}">"#)
}

/// The counters as a table; with `reset` (the page and its form action) each current counter
/// gets a reset button.
pub fn counter_table(counters: &[Counter], reset: Option<(&Ask, &str)>) -> String {
    let mut html = String::from(
        r#"<div class="scroll" tabindex="0"><table><thead><tr><th scope="col">User</th><th scope="col">Client</th><th scope="col">Period</th><th scope="col" class="num">Count</th><th scope="col" class="num">Limit</th><th scope="col">Set by</th>"#,
    );
    if reset.is_some() {
        html.push_str(r#"<th scope="col">Reset</th>"#);
    }
    html.push_str("</tr></thead><tbody>");
    for c in counters {
        let who = c.email.as_deref().unwrap_or(&c.user_id);
        html.push_str(&format!(
            r#"<tr><td><a href="/admin/users/{uid}">{who}</a></td><td><a href="/admin/clients/{client_href}">{cid}</a></td><td>{period}{current}</td><td class="num">{count}</td><td class="num">{limit} {window}</td><td>{set_by}</td>"#,
            uid = escape(&segment(&c.user_id)),
            who = escape(who),
            cid = escape(&c.client_id),
            client_href = escape(&segment(&c.client_id)),
            period = escape(&c.period),
            current = if c.current == "yes" { " (now)" } else { "" },
            count = c.count,
            limit = c.limit,
            window = escape(&c.limit_window),
            set_by = c.limit_set_by,
        ));
        if let Some((ask, action)) = reset {
            let fields = format!(
                r#"<input type="hidden" name="action" value="reset"><input type="hidden" name="client" value="{}">"#,
                escape(&c.client_id)
            );
            html.push_str(&format!("<td>{}</td>", button_form(ask, action, &fields, "Reset", "secondary")));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    html
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
