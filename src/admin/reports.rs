//! `usage` and `logs`: read-only reports for operators, as a table or `--json`.

use rusqlite::Connection;
use rusqlite::types::Value;
use serde_json::json;

use super::table::Table;
use super::{AdminError, AdminResult, invalid};
use crate::cli::{LogsArgs, UsageArgs};
use crate::clock::unix_now;
use crate::manage;
use crate::manage::call_filters::{CallFilters, Typed};
use crate::quota::Plan;
use crate::users;

/// One row per counter: per (user, client) and period, with the limit in force.
pub fn usage(conn: &Connection, args: &UsageArgs) -> AdminResult {
    check_user(conn, args.user.as_deref())?;
    let default = Plan { limit: args.default_limit.limit, window: args.default_limit.window };
    let counters = manage::usage::counters(conn, args.user.as_deref(), args.client.as_deref(), default, unix_now())?;
    let columns = [
        "userId",
        "email",
        "clientId",
        "window",
        "period",
        "count",
        "current",
        "limit",
        "limitWindow",
        "limitSetBy",
        "remaining",
    ];
    let mut out = Table::of(&columns, &counters).render(args.json);
    if !args.json {
        out.push_str(
            "\nCounts are kept per period of a window: `total` (lifetime), a UTC day (2026-11-30) or a UTC\n\
             month (2026-11). LIMIT is the limit in force now (set by the user's override, else the\n\
             client's, else the server default); the server checks the CURRENT period's count against it.\n\
             Other rows are past periods (or another window's), kept for reading.\n",
        );
    }
    Ok(out)
}

/// The call log, newest first, with the console's filters (`manage::call_filters`).
pub fn logs(conn: &Connection, args: &LogsArgs) -> AdminResult {
    check_user(conn, args.user.as_deref())?;
    let text = |value: &Option<String>| value.as_deref().unwrap_or("").to_owned();
    let (user, client, status, path, from, to) =
        (text(&args.user), text(&args.client), text(&args.status), text(&args.path), text(&args.from), text(&args.to));
    let typed = Typed { user: &user, client: &client, status: &status, path: &path, from: &from, to: &to };
    let filters = CallFilters::parse(typed).map_err(|message| invalid(format!("--{message}")))?;
    let columns = [
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
    let Some((floor, upper)) = filters.id_range(conn, None)? else {
        return Ok(Table::new(&columns, Vec::new()).render(args.json));
    };
    let mut sql = String::from(
        "SELECT c.id, c.at, c.method, c.path, c.tool, c.status, c.user_id, c.client_id, c.usage_count,
                round(c.duration_ms, 2), c.request_id, c.user_agent, c.error
           FROM api_calls c WHERE 1",
    );
    let mut values: Vec<Value> = Vec::new();
    filters.conditions(conn, &mut sql, &mut values)?;
    values.extend([Value::Integer(floor), Value::Integer(upper), Value::Integer(args.limit.into())]);
    let n = values.len();
    sql.push_str(&format!(" AND c.id >= ?{} AND c.id < ?{} ORDER BY c.id DESC LIMIT ?{n}", n - 2, n - 1));
    let params: Vec<&dyn rusqlite::ToSql> = values.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
    report(conn, &sql, &params, &columns, args.json)
}

/// An email must name a user here; anything else may be a remote user id, which is not checked.
fn check_user(conn: &Connection, user: Option<&str>) -> Result<(), AdminError> {
    match user {
        Some(email) if email.contains('@') && users::find_by_email(conn, email)?.is_none() => {
            Err(invalid(format!("no user with email {email}")))
        }
        _ => Ok(()),
    }
}

/// Runs a query and renders it as a table, or as a JSON array of objects keyed by `columns`.
fn report(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    columns: &[&'static str],
    as_json: bool,
) -> AdminResult {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(params, |r| (0..columns.len()).map(|i| Ok(to_json(&r.get::<_, Value>(i)?))).collect())?
        .collect::<Result<Vec<Vec<serde_json::Value>>, _>>()?;
    Ok(Table::new(columns, rows).render(as_json))
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(n) => json!(n),
        Value::Real(x) => json!(x),
        Value::Text(s) => json!(s),
        Value::Blob(b) => json!(format!("<{} bytes>", b.len())),
    }
}
