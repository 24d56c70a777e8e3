//! `client add`, `client list` and `client set-limit`.

use rusqlite::{Connection, params};
use serde_json::Value;

use super::table::Table;
use super::{AdminResult, invalid};
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
    let secret = match &registered.client_secret {
        Some(secret) => format!("{secret}   (shown only now; only its hash is stored)"),
        None => "(none: a public client, which must use PKCE S256)".to_owned(),
    };
    Ok(format!(
        "Added client \"{}\".\n\n\
         Paste into the GPT editor (Configure → Actions → Authentication → OAuth):\n\
         \x20 Client ID:              {}\n\
         \x20 Client Secret:          {secret}\n\
         \x20 Authorization URL:      {base}/api/oauth2/authorize\n\
         \x20 Token URL:              {base}/api/oauth2/token\n\
         \x20 Scope:                  todos\n\
         \x20 Token Exchange Method:  Default (POST request)   (Basic authorization header works too)\n",
        name.trim(),
        registered.client_id,
    ))
}

pub fn list(conn: &Connection, as_json: bool) -> AdminResult {
    let mut stmt = conn.prepare(
        "SELECT client_id, name, CASE WHEN secret_hash IS NULL THEN 'public' ELSE 'confidential' END,
                call_limit, redirect_uris, created_at
           FROM oauth_clients ORDER BY created_at, name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            let uris: String = r.get(4)?;
            Ok(vec![
                Value::String(r.get(0)?),
                Value::String(r.get(1)?),
                Value::String(r.get(2)?),
                r.get::<_, Option<i64>>(3)?.map_or(Value::Null, Value::from),
                serde_json::from_str(&uris).unwrap_or(Value::Null),
                Value::String(r.get(5)?),
            ])
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Table::new(&["clientId", "name", "type", "callLimit", "redirectUris", "createdAt"], rows).render(as_json))
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
    Ok(match limit {
        Some(n) => format!("Client {client_id} may now make {n} calls per user.\n"),
        None => format!("Client {client_id} now uses the server's default limit.\n"),
    })
}
