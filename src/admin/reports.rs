//! `usage` and `logs`: read-only reports for operators, as a table or `--json`.

use rusqlite::types::Value;
use rusqlite::{Connection, params};
use serde_json::{Map, json};

use super::{AdminResult, invalid, print_table};
use crate::cli::{LogsArgs, UsageArgs};
use crate::users;

/// `--user` takes an email (built-in users) or a raw user id (remote user-info mode).
const USER_MATCHES: &str = "(?1 IS NULL OR user_id = ?1 OR user_id = (SELECT id FROM users WHERE email = ?1))";

pub fn usage(conn: &Connection, args: &UsageArgs) -> AdminResult {
    check_user(conn, args.user.as_deref())?;
    let sql = format!(
        "SELECT user_id, (SELECT email FROM users WHERE id = user_id), client_id, count,
                (SELECT call_limit FROM oauth_clients c WHERE c.client_id = api_usage.client_id)
           FROM api_usage
          WHERE {USER_MATCHES} AND (?2 IS NULL OR client_id = ?2)
          ORDER BY user_id, client_id"
    );
    let columns = ["userId", "email", "clientId", "count", "clientLimit"];
    report(conn, &sql, params![args.user, args.client], &columns, args.json)
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
fn check_user(conn: &Connection, user: Option<&str>) -> AdminResult {
    match user {
        Some(email) if email.contains('@') && users::find_by_email(conn, email)?.is_none() => {
            Err(invalid(format!("no user with email {email}")))
        }
        _ => Ok(()),
    }
}

/// Runs a query and prints it as a table, or as a JSON array of objects keyed by `columns`.
fn report(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    columns: &[&str],
    as_json: bool,
) -> AdminResult {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(params, |r| (0..columns.len()).map(|i| r.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>())?
        .collect::<Result<Vec<Vec<Value>>, _>>()?;
    if as_json {
        let objects: Vec<Map<String, serde_json::Value>> = rows
            .iter()
            .map(|row| columns.iter().zip(row).map(|(c, v)| (c.to_string(), to_json(v))).collect())
            .collect();
        println!("{}", serde_json::to_string_pretty(&objects).unwrap_or_default());
    } else {
        let header: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let cells: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(to_text).collect()).collect();
        print_table(&header, &cells);
    }
    Ok(())
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

fn to_text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::Text(s) => s.clone(),
        other => to_json(other).to_string(),
    }
}
