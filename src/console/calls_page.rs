//! The call log: filters (user, client, status, path, time range), newest first, paged by a
//! cursor (the last id shown), and one call in full.
//!
//! The filters are `operator::call_filters`'s, which `gpt-todo logs` shares; the search is
//! `store::call_search`'s. One page searches at most [`SEARCH_WINDOW`] ids: a filter that matches little (a status or a
//! path no index serves) would otherwise read the whole log before answering. When the window
//! ends before the page is full, the page says so and links on to the older calls.

use warp::http::StatusCode;
use warp::reply::Response;

use super::Ask;
use super::frame::{self, Section};
use crate::operator::call_filters::{CallFilters, Typed};
use crate::store::call_search::{self, Cell, Found, Next};
use crate::web::html::{error_block, escape};

const PAGE: usize = 50;
/// The most ids one page reads (about 20 ms of SQLite on a laptop core).
const SEARCH_WINDOW: i64 = 100_000;

/// The filters, as typed into the form.
#[derive(Default)]
struct Filters {
    user: String,
    client: String,
    status: String,
    path: String,
    from: String,
    to: String,
}

impl Filters {
    fn of(ask: &Ask) -> Filters {
        let get = |name| ask.params.get(name).unwrap_or("").trim().to_owned();
        Filters {
            user: get("user"),
            client: get("client"),
            status: get("status"),
            path: get("path"),
            from: get("from"),
            to: get("to"),
        }
    }

    /// The query string that repeats these filters (for the paging links).
    fn query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("user", &self.user),
            ("client", &self.client),
            ("status", &self.status),
            ("path", &self.path),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }
}

pub async fn list(ask: Ask) -> Response {
    let filters = Filters::of(&ask);
    let before = ask.params.get("before").and_then(|b| b.parse::<i64>().ok());
    let typed = Typed {
        user: &filters.user,
        client: &filters.client,
        status: &filters.status,
        path: &filters.path,
        from: &filters.from,
        to: &filters.to,
    };
    let parsed = match CallFilters::parse(typed) {
        Ok(parsed) => parsed,
        Err(message) => {
            let nothing = Found { lines: Vec::new(), next: None };
            return render(&ask, &filters, &nothing, StatusCode::BAD_REQUEST, Some(&message));
        }
    };
    let read = ask.state.store.read(move |tx| call_search::page(tx, &parsed, before, PAGE, SEARCH_WINDOW)).await;
    match read {
        Ok(found) => render(&ask, &filters, &found, StatusCode::OK, None),
        Err(e) => frame::server_error(&e),
    }
}

fn render(ask: &Ask, f: &Filters, found: &Found, status: StatusCode, error: Option<&str>) -> Response {
    let lines = &found.lines;
    let field = |name: &str, label: &str, value: &str, kind: &str, hint: &str| {
        format!(
            r#"<div><label for="{name}">{label}</label><input id="{name}" type="{kind}" name="{name}" value="{}" placeholder="{hint}"></div>"#,
            escape(value)
        )
    };
    let mut html = format!(
        r#"<h1>Call log</h1>{error}<form method="get" action="/admin/calls" class="filters">{}{}{}{}{}{}<div><button type="submit">Filter</button></div></form>"#,
        field("user", "User (email or id)", &f.user, "text", ""),
        field("client", "Client id", &f.client, "text", ""),
        field("status", "Status", &f.status, "text", "429 or 4xx"),
        field("path", "Path starts with", &f.path, "text", "/api/todos"),
        field("from", "From (UTC)", &f.from, "text", "2026-11-30T00:00"),
        field("to", "Before (UTC)", &f.to, "text", "2026-12-01"),
        error = error_block(error),
    );
    if lines.is_empty() && found.next.is_none() {
        html.push_str("<p>No calls match.</p>");
    } else if lines.is_empty() {
        html.push_str("<p>No calls match among the latest ones searched.</p>");
    } else {
        html.push_str(r#"<div class="scroll" tabindex="0"><table><thead><tr><th scope="col">When (UTC)</th><th scope="col">Call</th><th scope="col" class="num">Status</th><th scope="col">User</th><th scope="col">Client</th><th scope="col" class="num">ms</th></tr></thead><tbody>"#);
        for l in lines {
            html.push_str(&format!(
                r#"<tr><td><a href="/admin/calls/{id}">{at}</a></td><td><code>{method} {path}</code>{error}</td><td class="num">{status}</td><td>{user}</td><td>{client}</td><td class="num">{ms:.1}</td></tr>"#,
                id = l.id,
                at = escape(&l.at),
                method = escape(&l.method),
                path = escape(&l.path),
                status = l.status,
                user = escape(l.user.as_deref().unwrap_or("—")),
                client = escape(l.client_id.as_deref().unwrap_or("—")),
                ms = l.duration_ms,
                error = l.error.as_deref().map(|e| format!("<br><small>{}</small>", escape(e))).unwrap_or_default(),
            ));
        }
        html.push_str("</tbody></table></div>");
    }
    let query = f.query();
    let sep = if query.is_empty() { "" } else { "&" };
    html.push_str("<p>");
    if ask.params.get("before").is_some() {
        html.push_str(&format!(r#"<a href="/admin/calls?{}">Newest</a> "#, escape(&query)));
    }
    match found.next {
        Some(Next::Matches(before)) => {
            html.push_str(&format!(r#"<a href="/admin/calls?{}{sep}before={before}">Older →</a>"#, escape(&query)));
        }
        Some(Next::Unsearched(before)) => html.push_str(&format!(
            r#"Searched back {SEARCH_WINDOW} calls. <a href="/admin/calls?{}{sep}before={before}">Search older calls →</a>"#,
            escape(&query)
        )),
        None => {}
    }
    html.push_str("</p>");
    frame::page_with_status(ask, status, Section::Calls, "Call log", &html)
}

pub async fn detail(id: i64, ask: Ask) -> Response {
    let read = ask.state.store.read(move |tx| call_search::call(tx, id)).await;
    let values = match read {
        Ok(Some(values)) => values,
        Ok(None) => return frame::not_found("such call in the log (older calls are pruned after --call-log-days)"),
        Err(e) => return frame::server_error(&e),
    };
    let names = [
        "When (UTC)",
        "Method",
        "Path",
        "Status",
        "User id",
        "User",
        "Client id",
        "Count after the call",
        "Duration (ms)",
        "Request id",
        "User agent",
        "Error",
    ];
    let mut html = format!(r#"<p><a href="/admin/calls">← Call log</a></p><h1>Call {id}</h1><dl>"#);
    for (name, value) in names.iter().zip(&values) {
        let text = match value {
            Cell::Null => "—".to_owned(),
            Cell::Integer(n) => n.to_string(),
            Cell::Real(x) => format!("{x:.2}"),
            Cell::Text(s) => s.clone(),
            Cell::Blob(length) => format!("<{length} bytes>"),
        };
        html.push_str(&format!("<dt>{name}</dt><dd>{}</dd>", escape(&text)));
    }
    html.push_str("</dl>");
    frame::page(&ask, Section::Calls, &format!("Call {id}"), &html)
}
