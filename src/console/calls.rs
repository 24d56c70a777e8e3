//! The call log: filters (user, client, status, path, time range), newest first, paged by a
//! cursor (the last id shown), and one call in full.
//!
//! The query is built from the filters that are set, so SQLite can use the index that fits
//! (`api_calls_by_user`, `api_calls_by_client`, or the id order). A time bound becomes an id bound
//! by binary search over ids (ids and times grow together), so a range costs a few point reads.
//! One page searches at most [`SEARCH_WINDOW`] ids: a filter that matches little (a status or a
//! path no index serves) would otherwise read the whole log before answering. When the window
//! ends before the page is full, the page says so and links on to the older calls.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use warp::http::StatusCode;
use warp::reply::Response;

use super::Ask;
use super::frame::{self, Section};
use crate::db::DbError;
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

/// A status filter: one code, or a class such as `4xx`.
fn status_range(status: &str) -> Result<Option<(i64, i64)>, String> {
    if status.is_empty() {
        return Ok(None);
    }
    if let Some(class) = status.strip_suffix("xx").and_then(|d| d.parse::<i64>().ok()).filter(|d| (1..=5).contains(d)) {
        return Ok(Some((class * 100, class * 100 + 100)));
    }
    match status.parse::<i64>() {
        Ok(code) if (100..=599).contains(&code) => Ok(Some((code, code + 1))),
        _ => Err(format!("'{status}' is not a status: use a code such as 429 or a class such as 4xx")),
    }
}

/// A time bound: a date or a date and time (UTC) as the form's inputs send them.
fn time_bound(text: &str, name: &str) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let ok = text.len() >= 10
        && text.len() <= 24
        && text.bytes().all(|b| b.is_ascii_digit() || b"-:T.Z ".contains(&b))
        && text.as_bytes()[4] == b'-';
    if ok {
        Ok(Some(text.replace(' ', "T")))
    } else {
        Err(format!("{name}: use a UTC date such as 2026-11-30 or 2026-11-30T14:00"))
    }
}

/// One page of the log: its lines (at most `PAGE`), and where the next page starts, if anywhere.
struct Found {
    lines: Vec<Line>,
    next: Option<Next>,
}

enum Next {
    /// The page is full: older matches follow, below this id.
    Matches(i64),
    /// The search window ended first: calls below this id have not been searched yet.
    Unsearched(i64),
}

struct Line {
    id: i64,
    at: String,
    method: String,
    path: String,
    status: i64,
    user: Option<String>,
    client_id: Option<String>,
    duration_ms: f64,
    error: Option<String>,
}

pub async fn list(ask: Ask) -> Response {
    let filters = Filters::of(&ask);
    let before = ask.params.get("before").and_then(|b| b.parse::<i64>().ok());
    let checked = (|| {
        Ok::<_, String>((
            status_range(&filters.status)?,
            time_bound(&filters.from, "From")?,
            time_bound(&filters.to, "To")?,
        ))
    })();
    let (status, from, to) = match checked {
        Ok(checked) => checked,
        Err(message) => {
            let nothing = Found { lines: Vec::new(), next: None };
            return render(&ask, &filters, &nothing, StatusCode::BAD_REQUEST, Some(&message));
        }
    };
    let (user, client, path) = (filters.user.clone(), filters.client.clone(), filters.path.clone());
    let read = ask
        .state
        .db
        .read(move |conn| query(conn, &user, &client, status, &path, from.as_deref(), to.as_deref(), before))
        .await;
    match read {
        Ok(found) => render(&ask, &filters, &found, StatusCode::OK, None),
        Err(e) => frame::server_error(&e),
    }
}

#[allow(clippy::too_many_arguments)]
fn query(
    conn: &Connection,
    user: &str,
    client: &str,
    status: Option<(i64, i64)>,
    path: &str,
    from: Option<&str>,
    to: Option<&str>,
    before: Option<i64>,
) -> Result<Found, DbError> {
    let Some((first, last)) = id_span(conn)? else { return Ok(Found { lines: Vec::new(), next: None }) };
    let mut sql = String::from(
        "SELECT c.id, c.at, c.method, c.path, c.status, coalesce(u.email, c.user_id), c.client_id, c.duration_ms, c.error
           FROM api_calls c LEFT JOIN users u ON u.id = c.user_id WHERE 1",
    );
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, value: Value| {
        values.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", values.len())));
    };
    if !user.is_empty() {
        let id: Option<String> =
            conn.prepare_cached("SELECT id FROM users WHERE email = ?1")?.query_row([user], |r| r.get(0)).optional()?;
        bind(&mut sql, " AND c.user_id = ?", Value::Text(id.unwrap_or_else(|| user.to_owned())));
    }
    if !client.is_empty() {
        bind(&mut sql, " AND c.client_id = ?", Value::Text(client.to_owned()));
    }
    if let Some((low, high)) = status {
        bind(&mut sql, " AND c.status >= ?", Value::Integer(low));
        bind(&mut sql, " AND c.status < ?", Value::Integer(high));
    }
    if !path.is_empty() {
        // A prefix: `/api/todos` also finds `/api/todos/42`.
        bind(&mut sql, " AND substr(c.path, 1, ?)", Value::Integer(path.chars().count() as i64));
        bind(&mut sql, " = ?", Value::Text(path.to_owned()));
    }
    // The ids this page searches: [lower, upper), at most SEARCH_WINDOW of them.
    let floor = match from {
        Some(from) => first_id_at_or_after(conn, (first, last), from)?,
        None => first,
    };
    let mut upper = before.map_or(last + 1, |b| b.min(last + 1));
    if let Some(to) = to {
        upper = upper.min(first_id_at_or_after(conn, (first, last), to)?);
    }
    let lower = floor.max(upper - SEARCH_WINDOW);
    bind(&mut sql, " AND c.id >= ?", Value::Integer(lower));
    bind(&mut sql, " AND c.id < ?", Value::Integer(upper));
    sql.push_str(&format!(" ORDER BY c.id DESC LIMIT {}", PAGE + 1));
    let mut stmt = conn.prepare_cached(&sql)?;
    let lines = stmt.query_map(params_from_iter(values), |r| {
        Ok(Line {
            id: r.get(0)?,
            at: r.get(1)?,
            method: r.get(2)?,
            path: r.get(3)?,
            status: r.get(4)?,
            user: r.get(5)?,
            client_id: r.get(6)?,
            duration_ms: r.get(7)?,
            error: r.get(8)?,
        })
    })?;
    let mut lines = lines.collect::<Result<Vec<_>, _>>()?;
    let next = if lines.len() > PAGE {
        lines.truncate(PAGE);
        lines.last().map(|line| Next::Matches(line.id))
    } else {
        (lower > floor && upper > lower).then_some(Next::Unsearched(lower))
    };
    Ok(Found { lines, next })
}

/// The first and last id in the log, or `None` when it is empty. Two subqueries, so each is one
/// step down the rowid tree: `min(id), max(id)` in one select scans a whole index instead.
fn id_span(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    let span: (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT (SELECT min(id) FROM api_calls), (SELECT max(id) FROM api_calls)")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(span.0.zip(span.1))
}

/// The first id logged at or after `at` (or one past the last id), between the log's first and
/// last ids: a binary search over ids, since ids and times grow together.
fn first_id_at_or_after(conn: &Connection, (mut low, high): (i64, i64), at: &str) -> rusqlite::Result<i64> {
    let mut high = high + 1;
    let mut at_or_after = conn.prepare_cached("SELECT id, at FROM api_calls WHERE id >= ?1 ORDER BY id LIMIT 1")?;
    while low < high {
        let mid = low + (high - low) / 2;
        let row: Option<(i64, String)> = at_or_after.query_row([mid], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        match row {
            Some((id, logged)) if logged.as_str() < at => low = id + 1,
            _ => high = mid,
        }
    }
    Ok(low)
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
    let read = ask
        .state
        .db
        .read(move |conn| -> Result<_, DbError> {
            Ok(conn
                .prepare_cached(
                    "SELECT c.at, c.method, c.path, c.status, c.user_id, u.email, c.client_id, c.usage_count,
                            c.duration_ms, c.request_id, c.user_agent, c.error
                       FROM api_calls c LEFT JOIN users u ON u.id = c.user_id WHERE c.id = ?1",
                )?
                .query_row([id], |r| (0..12).map(|i| r.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>())
                .optional()?)
        })
        .await;
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
            Value::Null => "—".to_owned(),
            Value::Integer(n) => n.to_string(),
            Value::Real(x) => format!("{x:.2}"),
            Value::Text(s) => s.clone(),
            Value::Blob(b) => format!("<{} bytes>", b.len()),
        };
        html.push_str(&format!("<dt>{name}</dt><dd>{}</dd>", escape(&text)));
    }
    html.push_str("</dl>");
    frame::page(&ask, Section::Calls, &format!("Call {id}"), &html)
}
