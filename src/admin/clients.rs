//! `client add`, `client list` and `client set-limit`.

use rusqlite::{Connection, params};

use super::{AdminResult, invalid, print_table};
use crate::clients;

pub fn add(
    conn: &Connection,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<u64>,
    public: bool,
    public_url: &str,
) -> AdminResult {
    let registered = clients::register(conn, name, redirect_uris, call_limit, public).map_err(invalid)?;
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
                COALESCE(CAST(call_limit AS TEXT), 'default'), registration, redirect_uris, created_at
           FROM oauth_clients ORDER BY created_at, name",
    )?;
    let rows = stmt
        .query_map([], |r| (0..7).map(|i| r.get(i)).collect::<Result<Vec<String>, _>>())?
        .collect::<Result<Vec<Vec<String>>, _>>()?;
    print_table(&["CLIENT ID", "NAME", "TYPE", "LIMIT", "REGISTERED BY", "REDIRECT URIS", "CREATED"], &rows);
    Ok(())
}

pub fn set_limit(conn: &Connection, client_id: &str, limit: &str) -> AdminResult {
    let limit: Option<i64> = match limit {
        "none" => None,
        n => Some(n.parse::<u32>().map_err(|_| invalid(format!("'{n}' is not a whole number or 'none'")))?.into()),
    };
    let changed =
        conn.execute("UPDATE oauth_clients SET call_limit = ?1 WHERE client_id = ?2", params![limit, client_id])?;
    if changed == 0 {
        return Err(invalid(format!("no client with id {client_id}")));
    }
    match limit {
        Some(n) => println!("Client {client_id} may now make {n} calls per user."),
        None => println!("Client {client_id} now uses the server's default limit."),
    }
    Ok(())
}
