//! `usage` and `logs`: read-only reports for operators, as a table or `--json`.

use serde_json::json;

use super::command_result::{AdminError, AdminResult, invalid};
use super::table::Table;
use crate::cli::args::{LogsArgs, UsageArgs};
use crate::operator as manage;
use crate::operator::call_filters::{CallFilters, Typed};
use crate::quota::Plan;
use crate::store::call_search::{self, Cell, REPORT_COLUMNS};
use crate::store::{Store, StoreError, Tx, accounts};

/// One row per counter: per (user, client) and period, with the limit in force at `now`.
pub fn usage(store: &Store, args: &UsageArgs, now: i64) -> AdminResult {
    let default = Plan { limit: args.default_limit.limit, window: args.default_limit.window };
    let (user, client) = (args.user.as_deref(), args.client.as_deref());
    let counters = store.read_now(|tx| {
        Ok(match unknown_email(tx, user)? {
            Some(email) => Err(email),
            None => Ok(manage::counters::counters(tx, user, client, default, now)?),
        })
    })?;
    let counters = counters.map_err(no_user)?;
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

/// The call log, newest first, with the console's filters (`operator::call_filters`).
pub fn logs(store: &Store, args: &LogsArgs) -> AdminResult {
    let text = |value: &Option<String>| value.as_deref().unwrap_or("").to_owned();
    let (user, client, status, path, from, to) =
        (text(&args.user), text(&args.client), text(&args.status), text(&args.path), text(&args.from), text(&args.to));
    let typed = Typed { user: &user, client: &client, status: &status, path: &path, from: &from, to: &to };
    let filters = CallFilters::parse(typed).map_err(|message| format!("--{message}"));
    let limit = i64::from(args.limit);
    let rows = store.read_now(|tx| {
        if let Some(email) = unknown_email(tx, args.user.as_deref())? {
            return Ok(Err(no_user(email)));
        }
        Ok(match &filters {
            Ok(filters) => Ok(call_search::report(tx, filters, limit)?),
            Err(message) => Err(invalid(message.clone())),
        })
    })??;
    let rows = rows.iter().map(|row| row.iter().map(to_json).collect()).collect();
    Ok(Table::new(&REPORT_COLUMNS, rows).render(args.json))
}

/// The email in `user` when no user here has it (`accounts::named`: any other text may be a
/// remote user id, which is not checked).
fn unknown_email(tx: &Tx<'_>, user: Option<&str>) -> Result<Option<String>, StoreError> {
    Ok(match user {
        Some(user) if accounts::named(tx, user)?.is_none() => Some(user.to_owned()),
        _ => None,
    })
}

fn no_user(email: String) -> AdminError {
    invalid(format!("no user with email {email}"))
}

fn to_json(cell: &Cell) -> serde_json::Value {
    match cell {
        Cell::Null => serde_json::Value::Null,
        Cell::Integer(n) => json!(n),
        Cell::Real(x) => json!(x),
        Cell::Text(s) => json!(s),
        Cell::Blob(length) => json!(format!("<{length} bytes>")),
    }
}
