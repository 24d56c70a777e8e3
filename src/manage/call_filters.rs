//! The call log's filters, one set for the console's form and for `gpt-todo logs`: a user (email
//! or id), a client id, a status (a code such as 429, or a class such as 4xx), a path prefix, and
//! a time range (UTC).
//!
//! They become SQL conditions on `api_calls c` that let SQLite use the index that fits
//! (`api_calls_by_user`, `api_calls_by_client`, or the id order). A time bound becomes an id bound
//! by binary search over ids (ids and times grow together), so a range costs a few point reads.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

/// The filters that are set; `None` (or empty text when parsed) is no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilters {
    /// An email of a user here, or a user id (remote user-info mode).
    pub user: Option<String>,
    pub client: Option<String>,
    /// Statuses in `[low, high)`.
    pub status: Option<(i64, i64)>,
    /// A prefix: `/api/todos` also finds `/api/todos/42`.
    pub path: Option<String>,
    /// Calls at or after this time (RFC 3339 text, as `api_calls.at` holds it).
    pub from: Option<String>,
    /// Calls before this time.
    pub to: Option<String>,
}

/// What was typed into the filters; empty text is no filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Typed<'a> {
    pub user: &'a str,
    pub client: &'a str,
    pub status: &'a str,
    pub path: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}

impl CallFilters {
    /// Checks what was typed; the error is a sentence naming the filter that is wrong.
    pub fn parse(typed: Typed<'_>) -> Result<CallFilters, String> {
        let text = |value: &str| Some(value.trim()).filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(CallFilters {
            user: text(typed.user),
            client: text(typed.client),
            status: status_range(typed.status.trim())?,
            path: text(typed.path),
            from: time_bound(typed.from.trim(), "from")?,
            to: time_bound(typed.to.trim(), "to")?,
        })
    }

    /// Appends ` AND …` conditions on `c` (`api_calls`) for the user, client, status and path
    /// filters, numbering their parameters after those already in `values`.
    pub fn conditions(&self, conn: &Connection, sql: &mut String, values: &mut Vec<Value>) -> rusqlite::Result<()> {
        let mut bind = |clause: &str, value: Value| {
            values.push(value);
            sql.push_str(&clause.replace('?', &format!("?{}", values.len())));
        };
        if let Some(user) = &self.user {
            let id: Option<String> = conn
                .prepare_cached("SELECT id FROM users WHERE email = ?1")?
                .query_row([user], |r| r.get(0))
                .optional()?;
            bind(" AND c.user_id = ?", Value::Text(id.unwrap_or_else(|| user.clone())));
        }
        if let Some(client) = &self.client {
            bind(" AND c.client_id = ?", Value::Text(client.clone()));
        }
        if let Some((low, high)) = self.status {
            bind(" AND c.status >= ?", Value::Integer(low));
            bind(" AND c.status < ?", Value::Integer(high));
        }
        if let Some(path) = &self.path {
            bind(" AND substr(c.path, 1, ?)", Value::Integer(path.chars().count() as i64));
            bind(" = ?", Value::Text(path.clone()));
        }
        Ok(())
    }

    /// The ids `[floor, upper)` the time range leaves, below `before` if given; `None` when the
    /// log is empty.
    pub fn id_range(&self, conn: &Connection, before: Option<i64>) -> rusqlite::Result<Option<(i64, i64)>> {
        let Some((first, last)) = id_span(conn)? else { return Ok(None) };
        let floor = match &self.from {
            Some(from) => first_id_at_or_after(conn, (first, last), from)?,
            None => first,
        };
        let mut upper = before.map_or(last + 1, |b| b.min(last + 1));
        if let Some(to) = &self.to {
            upper = upper.min(first_id_at_or_after(conn, (first, last), to)?);
        }
        Ok(Some((floor, upper)))
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
        _ => Err(format!("status: '{status}' is not a status; use a code such as 429 or a class such as 4xx")),
    }
}

/// A time bound: a date or a date and time (UTC), as the console's inputs send them.
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
        Err(format!("{name}: '{text}' is not a time; use a UTC date such as 2026-11-30 or 2026-11-30T14:00"))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_codes_or_classes() {
        let parse = |status| CallFilters::parse(Typed { status, ..Typed::default() }).map(|f| f.status);
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("429"), Ok(Some((429, 430))));
        assert_eq!(parse("4xx"), Ok(Some((400, 500))));
        assert_eq!(parse(" 5xx "), Ok(Some((500, 600))));
        for bad in ["4x", "6xx", "0xx", "99", "600", "abc", "-1"] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains("4xx") && error.contains(bad), "{bad}: {error}");
        }
    }

    #[test]
    fn times_are_utc_dates_or_date_times() {
        let parse = |from| CallFilters::parse(Typed { from, ..Typed::default() }).map(|f| f.from);
        assert_eq!(parse("2026-11-30"), Ok(Some("2026-11-30".to_owned())));
        assert_eq!(parse("2026-11-30 14:00"), Ok(Some("2026-11-30T14:00".to_owned())));
        assert!(parse("yesterday").unwrap_err().starts_with("from:"));
    }
}
