//! `client add` and `client list`.

use rusqlite::Connection;

use super::{AdminResult, invalid, print_table};
use crate::clients;
use crate::quota::{self, Plan, Window};

pub fn add(
    conn: &Connection,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<Plan>,
    public: bool,
    public_url: &str,
) -> AdminResult {
    let registered =
        clients::register(conn, name, redirect_uris, call_limit.map(|plan| plan.limit), public).map_err(invalid)?;
    if call_limit.is_some_and(|plan| plan.window != Window::Total) {
        quota::set_client_limit(conn, &registered.client_id, call_limit)?;
    }
    let base = public_url.trim_end_matches('/');
    println!("Added client \"{}\".", name.trim());
    println!();
    println!("Paste into the GPT editor (Configure → Actions → Authentication → OAuth):");
    println!("  Client ID:              {}", registered.client_id);
    match &registered.client_secret {
        Some(secret) => println!("  Client Secret:          {secret}   (shown only now; only its hash is stored)"),
        None => println!("  Client Secret:          (none: a public client, which must use PKCE S256)"),
    }
    println!("  Authorization URL:      {base}/api/oauth2/authorize");
    println!("  Token URL:              {base}/api/oauth2/token");
    println!("  Scope:                  todos");
    println!("  Token Exchange Method:  Default (POST request)   (Basic authorization header works too)");
    Ok(())
}

pub fn list(conn: &Connection) -> AdminResult {
    let mut stmt = conn.prepare(
        "SELECT client_id, name, CASE WHEN secret_hash IS NULL THEN 'public' ELSE 'confidential' END,
                call_limit, call_window, redirect_uris, created_at
           FROM oauth_clients ORDER BY created_at, name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            // Without a limit of its own, the client has the server's --default-call-limit and -window.
            let (limit, window) = match quota::plan(r.get(3)?, r.get(4)?) {
                Some(plan) => (plan.limit.to_string(), plan.window.to_string()),
                None => ("default".to_owned(), "default".to_owned()),
            };
            Ok(vec![r.get(0)?, r.get(1)?, r.get(2)?, limit, window, r.get(5)?, r.get(6)?])
        })?
        .collect::<Result<Vec<Vec<String>>, _>>()?;
    print_table(&["CLIENT ID", "NAME", "TYPE", "LIMIT", "WINDOW", "REDIRECT URIS", "CREATED"], &rows);
    Ok(())
}
