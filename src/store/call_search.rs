//! Searching the call log (`api_calls`) with the operator's filters (`operator::call_filters`): the
//! console's pages of calls and one call in full, and the rows of `gpt-todo logs`.
//!
//! The filters become SQL conditions on `api_calls c` that let SQLite use the index that fits
//! (`api_calls_by_user`, `api_calls_by_client`, or the id order). A time bound becomes an id bound
//! by binary search over ids (ids and times grow together), so a range costs a few point reads.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params_from_iter};

use super::{StoreError, Tx, accounts};
use crate::operator::call_filters::CallFilters;

/// A stored value, as a report shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    /// A blob, by its length.
    Blob(usize),
}

impl From<Value> for Cell {
    fn from(value: Value) -> Cell {
        match value {
            Value::Null => Cell::Null,
            Value::Integer(n) => Cell::Integer(n),
            Value::Real(x) => Cell::Real(x),
            Value::Text(s) => Cell::Text(s),
            Value::Blob(b) => Cell::Blob(b.len()),
        }
    }
}

/// One page of the console's log: its lines, and where the next page starts, if anywhere.
pub struct Found {
    pub lines: Vec<Line>,
    pub next: Option<Next>,
}

pub enum Next {
    /// The page is full: older matches follow, below this id.
    Matches(i64),
    /// The search window ended first: calls below this id have not been searched yet.
    Unsearched(i64),
}

/// A call as the console's list shows it.
pub struct Line {
    pub id: i64,
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    /// The user's email here, else their id.
    pub user: Option<String>,
    pub client_id: Option<String>,
    pub duration_ms: f64,
    pub error: Option<String>,
}

/// At most `page` matches below `before` (newest first), searching at most `window` ids: a filter
/// that matches little (a status or a path no index serves) would otherwise read the whole log
/// before answering.
pub fn page(
    tx: &Tx<'_>,
    filters: &CallFilters,
    before: Option<i64>,
    page: usize,
    window: i64,
) -> Result<Found, StoreError> {
    let Some((floor, upper)) = id_range(tx, filters, before)? else {
        return Ok(Found { lines: Vec::new(), next: None });
    };
    let mut sql = String::from(
        "SELECT c.id, c.at, c.method, c.path, c.status, coalesce(u.email, c.user_id), c.client_id, c.duration_ms, c.error
           FROM api_calls c LEFT JOIN users u ON u.id = c.user_id WHERE 1",
    );
    let mut values: Vec<Value> = Vec::new();
    conditions(tx, filters, &mut sql, &mut values)?;
    // The ids this page searches: [lower, upper), at most `window` of them.
    let lower = floor.max(upper - window);
    values.extend([Value::Integer(lower), Value::Integer(upper)]);
    sql.push_str(&format!(
        " AND c.id >= ?{} AND c.id < ?{} ORDER BY c.id DESC LIMIT {}",
        values.len() - 1,
        values.len(),
        page + 1
    ));
    let mut stmt = tx.sqlite()?.prepare_cached(&sql)?;
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
    let next = if lines.len() > page {
        lines.truncate(page);
        lines.last().map(|line| Next::Matches(line.id))
    } else {
        (lower > floor && upper > lower).then_some(Next::Unsearched(lower))
    };
    Ok(Found { lines, next })
}

/// One call in full: when, method, path, status, user id, the user's email, client id, the count
/// after the call, duration (ms), request id, user agent and error.
pub fn call(tx: &Tx<'_>, id: i64) -> Result<Option<Vec<Cell>>, StoreError> {
    Ok(tx
        .sqlite()?
        .prepare_cached(
            "SELECT c.at, c.method, c.path, c.status, c.user_id, u.email, c.client_id, c.usage_count,
                    c.duration_ms, c.request_id, c.user_agent, c.error
               FROM api_calls c LEFT JOIN users u ON u.id = c.user_id WHERE c.id = ?1",
        )?
        .query_row([id], |r| (0..12).map(|i| r.get::<_, Value>(i).map(Cell::from)).collect::<Result<Vec<_>, _>>())
        .optional()?)
}

/// The columns of [`report`]'s rows.
pub const REPORT_COLUMNS: [&str; 13] = [
    "id",
    "at",
    "method",
    "path",
    "tool",
    "status",
    "userId",
    "clientId",
    "usageCount",
    "durationMs",
    "requestId",
    "userAgent",
    "error",
];

/// At most `limit` matching calls, newest first, with the [`REPORT_COLUMNS`] (`gpt-todo logs`).
pub fn report(tx: &Tx<'_>, filters: &CallFilters, limit: i64) -> Result<Vec<Vec<Cell>>, StoreError> {
    let Some((floor, upper)) = id_range(tx, filters, None)? else { return Ok(Vec::new()) };
    let mut sql = String::from(
        "SELECT c.id, c.at, c.method, c.path, c.tool, c.status, c.user_id, c.client_id, c.usage_count,
                round(c.duration_ms, 2), c.request_id, c.user_agent, c.error
           FROM api_calls c WHERE 1",
    );
    let mut values: Vec<Value> = Vec::new();
    conditions(tx, filters, &mut sql, &mut values)?;
    values.extend([Value::Integer(floor), Value::Integer(upper), Value::Integer(limit)]);
    let n = values.len();
    sql.push_str(&format!(" AND c.id >= ?{} AND c.id < ?{} ORDER BY c.id DESC LIMIT ?{n}", n - 2, n - 1));
    let mut stmt = tx.sqlite()?.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), |r| {
        (0..REPORT_COLUMNS.len()).map(|i| r.get::<_, Value>(i).map(Cell::from)).collect()
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Appends ` AND …` conditions on `c` (`api_calls`) for the user, client, status and path
/// filters, numbering their parameters after those already in `values`.
fn conditions(tx: &Tx<'_>, filters: &CallFilters, sql: &mut String, values: &mut Vec<Value>) -> Result<(), StoreError> {
    let mut bind = |clause: &str, value: Value| {
        values.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", values.len())));
    };
    if let Some(user) = &filters.user {
        // An email nobody here has names no one: NULL equals no user id.
        let id = accounts::named(tx, user)?;
        bind(" AND c.user_id = ?", id.map_or(Value::Null, |id| Value::Text(id.as_str().to_owned())));
    }
    if let Some(client) = &filters.client {
        bind(" AND c.client_id = ?", Value::Text(client.clone()));
    }
    if let Some((low, high)) = filters.status {
        bind(" AND c.status >= ?", Value::Integer(low));
        bind(" AND c.status < ?", Value::Integer(high));
    }
    if let Some(path) = &filters.path {
        bind(" AND substr(c.path, 1, ?)", Value::Integer(path.chars().count() as i64));
        bind(" = ?", Value::Text(path.clone()));
    }
    Ok(())
}

/// The ids `[floor, upper)` the time range leaves, below `before` if given; `None` when the log
/// is empty.
fn id_range(tx: &Tx<'_>, filters: &CallFilters, before: Option<i64>) -> Result<Option<(i64, i64)>, StoreError> {
    let Some((first, last)) = id_span(tx)? else { return Ok(None) };
    let floor = match &filters.from {
        Some(from) => first_id_at_or_after(tx, (first, last), from)?,
        None => first,
    };
    let mut upper = before.map_or(last + 1, |b| b.min(last + 1));
    if let Some(to) = &filters.to {
        upper = upper.min(first_id_at_or_after(tx, (first, last), to)?);
    }
    Ok(Some((floor, upper)))
}

/// The first and last id in the log, or `None` when it is empty. Two subqueries, so each is one
/// step down the rowid tree: `min(id), max(id)` in one select scans a whole index instead.
fn id_span(tx: &Tx<'_>) -> Result<Option<(i64, i64)>, StoreError> {
    let span: (Option<i64>, Option<i64>) = tx
        .sqlite()?
        .prepare_cached("SELECT (SELECT min(id) FROM api_calls), (SELECT max(id) FROM api_calls)")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(span.0.zip(span.1))
}

/// The first id logged at or after `at` (or one past the last id), between the log's first and
/// last ids: a binary search over ids, since ids and times grow together.
fn first_id_at_or_after(tx: &Tx<'_>, (mut low, high): (i64, i64), at: &str) -> Result<i64, StoreError> {
    let mut high = high + 1;
    let mut at_or_after =
        tx.sqlite()?.prepare_cached("SELECT id, at FROM api_calls WHERE id >= ?1 ORDER BY id LIMIT 1")?;
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
