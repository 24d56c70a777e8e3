//! `usage` and `logs`: read-only reports for operators, as a table or `--json`.

use rusqlite::types::Value;
use rusqlite::{Connection, params};
use serde_json::json;

use super::table::Table;
use super::{AdminError, AdminResult, invalid};
use crate::cli::{LogsArgs, UsageArgs};
use crate::clock::unix_now;
use crate::manage::{self, usage::USER_MATCHES};
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

pub fn logs(conn: &Connection, args: &LogsArgs) -> AdminResult {
    check_user(conn, args.user.as_deref())?;
    let sql = format!(
        "SELECT id, at, method, path, tool, status, user_id, client_id, usage_count, round(duration_ms, 2),
                request_id, user_agent, error
           FROM api_calls
          WHERE {USER_MATCHES} AND (?2 IS NULL OR client_id = ?2) AND (?3 IS NULL OR status = ?3)
          ORDER BY id DESC LIMIT ?4"
    );
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
    report(conn, &sql, params![args.user, args.client, args.status, args.limit], &columns, args.json)
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
