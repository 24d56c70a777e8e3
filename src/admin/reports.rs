//! `usage` and `logs`: read-only reports for operators, as a table or `--json`.

use rusqlite::types::Value;
use rusqlite::{Connection, params};
use serde_json::json;

use super::table::Table;
use super::{AdminError, AdminResult, invalid};
use crate::cli::{LogsArgs, UsageArgs};
use crate::clock::unix_now;
use crate::quota::{self, Limits, Period, Plan};
use crate::users;

/// `--user` takes an email (built-in users) or a raw user id (remote user-info mode).
const USER_MATCHES: &str = "(?1 IS NULL OR user_id = ?1 OR user_id = (SELECT id FROM users WHERE email = ?1))";

/// One row per counter: per (user, client) and period. The limit in force and whether the row's
/// period is the one the server checks now are worked out with the server's own rule.
pub fn usage(conn: &Connection, args: &UsageArgs) -> AdminResult {
    check_user(conn, args.user.as_deref())?;
    let sql = format!(
        "SELECT user_id, (SELECT email FROM users WHERE id = user_id), client_id, period, count,
                (SELECT call_limit FROM api_limit_overrides o WHERE o.user_id = u.user_id AND o.client_id = u.client_id),
                (SELECT call_window FROM api_limit_overrides o WHERE o.user_id = u.user_id AND o.client_id = u.client_id),
                (SELECT call_limit FROM oauth_clients c WHERE c.client_id = u.client_id),
                (SELECT call_window FROM oauth_clients c WHERE c.client_id = u.client_id)
           FROM api_usage u
          WHERE {USER_MATCHES} AND (?2 IS NULL OR client_id = ?2)
          ORDER BY user_id, client_id, period DESC"
    );
    let default = Plan { limit: args.default_limit.limit, window: args.default_limit.window };
    let now = unix_now();
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![args.user, args.client], |r| {
            let limits = Limits { user: quota::plan(r.get(5)?, r.get(6)?), client: quota::plan(r.get(7)?, r.get(8)?) };
            let (plan, set_by) = limits.in_force(default);
            let period: String = r.get(3)?;
            let count: i64 = r.get(4)?;
            let current = Period::containing(plan.window, now).key() == period;
            let remaining = current.then(|| plan.limit.saturating_sub(count.max(0) as u64));
            Ok(vec![
                r.get::<_, Value>(0)?,
                r.get(1)?,
                r.get(2)?,
                Value::Text(Period::window_of_key(&period).to_string()),
                Value::Text(period),
                Value::Integer(count),
                Value::Text(if current { "yes" } else { "no" }.into()),
                Value::Integer(i64::try_from(plan.limit).unwrap_or(i64::MAX)),
                Value::Text(plan.window.to_string()),
                Value::Text(set_by.as_str().into()),
                remaining.map_or(Value::Null, |n| Value::Integer(n as i64)),
            ])
        })?
        .collect::<Result<Vec<Vec<Value>>, _>>()?;
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
    let rows = rows.iter().map(|row| row.iter().map(to_json).collect()).collect();
    let mut out = Table::new(&columns, rows).render(args.json);
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
