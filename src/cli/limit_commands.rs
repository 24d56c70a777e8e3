//! `client set-limit` and `user set-limit`: a number of calls in a window, or `none`. A change of
//! the number alone keeps the window in force; a limit of 0 (every call refused, likely meant as
//! "no limit") needs `--yes`.

use super::command_result::{AdminError, AdminResult, audited, invalid};
use crate::operator::manage_clients::{self as clients, require};
use crate::operator::manage_users::named;
use crate::operator::or_refused;
use crate::quota::{Limits, Plan, Window};
use crate::store::Store;
use crate::support::ids::ClientId;

/// What a `set-limit` command asks for, as typed.
pub struct LimitChange<'a> {
    /// A number of calls, or `none`.
    pub limit: &'a str,
    /// `--per`; `None` keeps the window in force.
    pub per: Option<Window>,
    /// `--yes`: a limit of 0 is meant.
    pub yes: bool,
}

pub fn set_client_limit(store: &Store, client_id: &str, change: LimitChange<'_>) -> AdminResult {
    let limit = parse_number(change.limit, change.yes)?;
    audited(store, "client.set-limit", client_id, |tx| {
        let kept = or_refused!(clients::limits(tx, client_id, None));
        let plan = limit.map(|limit| plan_keeping(limit, change.per, kept));
        crate::store::quota::set_client_limit(tx, client_id, plan)?;
        let said = match plan {
            Some(plan) => format!(
                "Client {client_id} may now make {} per user{}.\n",
                describe(plan),
                window_note(change.per, kept)
            ),
            None => format!("Client {client_id} now uses the server's default limit.\n"),
        };
        Ok(Ok((said, plan.map_or("server default".to_owned(), describe))))
    })
}

/// `user` is an email of a user here, or (remote user-info mode) a user id of the other server.
pub fn set_user_limit(store: &Store, user: &str, client_id: &str, change: LimitChange<'_>) -> AdminResult {
    let limit = parse_number(change.limit, change.yes)?;
    audited(store, "user.set-limit", user, |tx| {
        let user_id = or_refused!(named(tx, user));
        or_refused!(require(tx, client_id));
        let kept = or_refused!(clients::limits(tx, client_id, Some(&user_id)));
        let plan = limit.map(|limit| plan_keeping(limit, change.per, kept));
        crate::store::quota::set_user_limit(tx, &user_id, &ClientId::new(client_id), plan)?;
        let said = match plan {
            Some(plan) => format!(
                "{user} may now make {} with client {client_id}{}.\n",
                describe(plan),
                window_note(change.per, kept)
            ),
            None => format!("{user} now has the limit of client {client_id}.\n"),
        };
        let detail = format!("client {client_id}: {}", plan.map_or("the client's limit".to_owned(), describe));
        Ok(Ok((said, detail)))
    })
}

/// `N` or `none`; 0 only with `yes`.
fn parse_number(limit: &str, yes: bool) -> Result<Option<u64>, AdminError> {
    let Some(plan) = parse_limit(limit, Window::Total)? else { return Ok(None) };
    if plan.limit == 0 && !yes {
        return Err(invalid(
            "a limit of 0 refuses every call; `none` removes a limit (the next one applies: the client's, \
             else the server's default). To refuse every call on purpose, add --yes",
        ));
    }
    Ok(Some(plan.limit))
}

/// The new number in `per`, or else in the window in force now: the user's own limit's, else the
/// client's, else `total` (the server's default window is the server's to know).
fn plan_keeping(limit: u64, per: Option<Window>, kept: Limits) -> Plan {
    let window = per.or(kept.user.or(kept.client).map(|plan| plan.window)).unwrap_or(Window::Total);
    Plan { limit, window }
}

/// Says where the window came from when `--per` was not given.
fn window_note(per: Option<Window>, kept: Limits) -> &'static str {
    match (per, kept.user.or(kept.client)) {
        (Some(_), _) => "",
        (None, Some(_)) => " (the window it had; --per total|day|month for another)",
        (None, None) => " (no window of its own before: total; --per day|month for another)",
    }
}

/// `N` or `none`; a window given with `none` is ignored. The console's form shares it.
pub fn parse_limit(limit: &str, per: Window) -> Result<Option<Plan>, AdminError> {
    match limit.trim() {
        "none" => Ok(None),
        n => {
            let limit = n.parse::<u32>().map_err(|_| invalid(format!("'{n}' is not a whole number or 'none'")))?;
            Ok(Some(Plan { limit: limit.into(), window: per }))
        }
    }
}

/// "100 calls per day", "1000 calls in total".
pub fn describe(plan: Plan) -> String {
    match plan.window {
        Window::Total => format!("{} calls in total", plan.limit),
        window => format!("{} calls per {window}", plan.limit),
    }
}
