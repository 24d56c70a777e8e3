//! The call log: filters (user, client, status, path, time range), newest first, paged by a
//! cursor (the last id shown), and one call in full.
//!
//! The filters are `operator::call_filters`'s, which `gpt-todo logs` shares; the search is
//! `store::call_search`'s. One page searches at most [`SEARCH_WINDOW`] ids: a filter that matches little (a status or a
//! path no index serves) would otherwise read the whole log before answering. When the window
//! ends before the page is full, the page says so and links on to the older calls.

use maud::{Markup, html};
use warp::http::StatusCode;
use warp::reply::Response;

use super::Ask;
use super::frame::{self, Section};
use super::names::ClientNames;
use crate::operator::call_filters::{CallFilters, Typed};
use crate::store::call_search::{self, Cell, Found, Line, Next};
use crate::web::markup::{Query, error_block};

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

    /// The query string that repeats these filters, and `before` (for the paging links).
    fn query(&self, before: Option<i64>) -> Query {
        let before = before.map(|b| b.to_string()).unwrap_or_default();
        Query::of([
            ("user", self.user.as_str()),
            ("client", &self.client),
            ("status", &self.status),
            ("path", &self.path),
            ("from", &self.from),
            ("to", &self.to),
            ("before", &before),
        ])
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
            let nothing = (Found { lines: Vec::new(), next: None }, ClientNames::default());
            return render(&ask, &filters, &nothing, StatusCode::BAD_REQUEST, Some(&message));
        }
    };
    let read = ask
        .state
        .store
        .read(move |tx| {
            let found = call_search::page(tx, &parsed, before, PAGE, SEARCH_WINDOW)?;
            let names = ClientNames::read(tx, found.lines.iter().filter_map(|l| l.client_id.as_deref()))?;
            Ok((found, names))
        })
        .await;
    match read {
        Ok(found) => render(&ask, &filters, &found, StatusCode::OK, None),
        Err(e) => frame::server_error(&e),
    }
}

fn render(
    ask: &Ask,
    f: &Filters,
    (found, names): &(Found, ClientNames),
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let lines = &found.lines;
    let field = |name: &str, label: &str, value: &str, hint: &str| {
        html! {
            div {
                label for=(name) { (label) }
                input id=(name) type="text" name=(name) value=(value) placeholder=(hint);
            }
        }
    };
    let html = html! {
        h1 { "Call log" }
        (error_block(error))
        form method="get" action="/admin/calls" class="filters" {
            (field("user", "User (email or id)", &f.user, ""))
            (field("client", "Client id", &f.client, ""))
            (field("status", "Status", &f.status, "429 or 4xx"))
            (field("path", "Path starts with", &f.path, "/api/todos"))
            (field("from", "From (UTC)", &f.from, "2026-11-30T00:00"))
            (field("to", "Before (UTC)", &f.to, "2026-12-01"))
            div { button type="submit" { "Filter" } }
        }
        @if lines.is_empty() && found.next.is_none() {
            p { "No calls match." }
        } @else if lines.is_empty() {
            p { "No calls match among the latest ones searched." }
        } @else {
            (call_table(lines, names))
        }
        p {
            @if ask.params.get("before").is_some() {
                a href={ "/admin/calls?" (f.query(None)) } { "Newest" } " "
            }
            @match found.next {
                Some(Next::Matches(before)) => {
                    a href={ "/admin/calls?" (f.query(Some(before))) } { "Older →" }
                }
                Some(Next::Unsearched(before)) => {
                    "Searched back " (SEARCH_WINDOW) " calls. "
                    a href={ "/admin/calls?" (f.query(Some(before))) } { "Search older calls →" }
                }
                None => {}
            }
        }
    };
    frame::page_with_status(ask, status, Section::Calls, "Call log", html)
}

fn call_table(lines: &[Line], names: &ClientNames) -> Markup {
    html! {
        div class="scroll" tabindex="0" {
            // A phone shows each call as a card, its status first (console.css).
            table class="calls" {
                thead { tr {
                    th scope="col" { "When (UTC)" } th scope="col" { "Call" } th scope="col" class="num" { "Status" }
                    th scope="col" { "User" } th scope="col" { "Client" } th scope="col" class="num" { "ms" }
                } }
                tbody {
                    @for l in lines {
                        tr {
                            td { a href={ "/admin/calls/" (l.id) } { (l.at) } }
                            td {
                                code { (l.method) " " (l.path) }
                                @if let Some(e) = &l.error { br; small { (e) } }
                            }
                            td class="num" { (l.status) }
                            td { (l.user.as_deref().unwrap_or("—")) }
                            td { @match &l.client_id { Some(id) => (names.link(id)), None => "—" } }
                            td class="num" { (format!("{:.1}", l.duration_ms)) }
                        }
                    }
                }
            }
        }
    }
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
    let text = |value: &Cell| match value {
        Cell::Null => "—".to_owned(),
        Cell::Integer(n) => n.to_string(),
        Cell::Real(x) => format!("{x:.2}"),
        Cell::Text(s) => s.clone(),
        Cell::Blob(length) => format!("<{length} bytes>"),
    };
    let html = html! {
        p { a href="/admin/calls" { "← Call log" } }
        h1 { "Call " (id) }
        dl {
            @for (name, value) in names.iter().zip(&values) {
                dt { (name) } dd { (text(value)) }
            }
        }
    };
    frame::page(&ask, Section::Calls, &format!("Call {id}"), html)
}
