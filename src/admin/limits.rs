//! `user set-limit` (and the parsing `client set-limit` shares): a number of calls in a window,
//! or `none`.

use rusqlite::Connection;

use super::{AdminError, AdminResult, invalid};
use crate::ids::ClientId;
use crate::manage::clients::require;
use crate::manage::users::named;
use crate::quota::{self, Plan, Window};

/// `user` is an email of a user here, or (remote user-info mode) a user id of the other server.
pub fn set_user_limit(conn: &Connection, user: &str, client_id: &str, limit: &str, per: Window) -> AdminResult {
    let plan = parse_limit(limit, per)?;
    let user_id = named(conn, user)?;
    require(conn, client_id)?;
    quota::set_user_limit(conn, &user_id, &ClientId::new(client_id), plan)?;
    Ok(match plan {
        Some(plan) => format!("{user} may now make {} with client {client_id}.\n", describe(plan)),
        None => format!("{user} now has the limit of client {client_id}.\n"),
    })
}

/// `N` or `none`; a window given with `none` is ignored.
pub fn parse_limit(limit: &str, per: Window) -> Result<Option<Plan>, AdminError> {
    match limit {
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
