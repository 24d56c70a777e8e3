//! `client set-limit` and `user set-limit`: a number of calls in a window, or `none`.

use rusqlite::Connection;

use super::{AdminResult, invalid, users::user_id_by_email};
use crate::quota::{self, Plan, Window};

pub fn set_client_limit(conn: &Connection, client_id: &str, limit: &str, per: Window) -> AdminResult {
    let plan = parse_limit(limit, per)?;
    if !quota::set_client_limit(conn, client_id, plan)? {
        return Err(invalid(format!("no client with id {client_id}")));
    }
    match plan {
        Some(plan) => println!("Client {client_id} may now make {} per user.", describe(plan)),
        None => println!("Client {client_id} now uses the server's default limit."),
    }
    Ok(())
}

/// `user` is an email of a user here, or (remote user-info mode) a user id of the other server.
pub fn set_user_limit(conn: &Connection, user: &str, client_id: &str, limit: &str, per: Window) -> AdminResult {
    let plan = parse_limit(limit, per)?;
    let user_id = if user.contains('@') { user_id_by_email(conn, user)? } else { user.to_owned() };
    if crate::clients::find(conn, client_id)?.is_none() {
        return Err(invalid(format!("no client with id {client_id}")));
    }
    quota::set_user_limit(conn, &user_id, client_id, plan)?;
    match plan {
        Some(plan) => println!("{user} may now make {} with client {client_id}.", describe(plan)),
        None => println!("{user} now has the limit of client {client_id}."),
    }
    Ok(())
}

/// `N` or `none`; a window given with `none` is ignored.
fn parse_limit(limit: &str, per: Window) -> Result<Option<Plan>, super::AdminError> {
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
