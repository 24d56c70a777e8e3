//! OAuth clients (one per GPT): registering them and checking their redirect URIs.

use rusqlite::{Connection, OptionalExtension, params};

use crate::secrets::{hash_secret, random_secret};

pub const CLIENT_ID_PREFIX: &str = "gtc_";
pub const CLIENT_SECRET_PREFIX: &str = "gts_";

/// A registered client as the OAuth endpoints need it.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// `None` for a public client, which must use PKCE instead.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
}

impl Client {
    /// Exact string comparison, as OAuth 2.1 and SPEC require: no prefix or pattern matching.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|registered| registered == uri)
    }

    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }
}

/// What registering a client gives back, once: the secret is not stored.
pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<String>,
}

pub fn register(
    conn: &Connection,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<u64>,
    public: bool,
) -> Result<Registered, String> {
    if name.trim().is_empty() {
        return Err("the client name must not be empty".into());
    }
    for uri in redirect_uris {
        check_redirect_uri(uri)?;
    }
    let client_id = random_secret(CLIENT_ID_PREFIX);
    let client_secret = (!public).then(|| random_secret(CLIENT_SECRET_PREFIX));
    let uris = serde_json::to_string(redirect_uris).map_err(|e| e.to_string())?;
    let call_limit =
        call_limit.map(i64::try_from).transpose().map_err(|_| "the call limit is too large".to_string())?;
    conn.execute(
        "INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, call_limit, call_window)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 IS NOT NULL THEN 'total' END)",
        params![client_id, client_secret.as_deref().map(hash_secret), name.trim(), uris, call_limit],
    )
    .map_err(|e| format!("cannot add the client: {e}"))?;
    Ok(Registered { client_id, client_secret })
}

/// An absolute `https` URI (or `http` for a loopback host), without a fragment (RFC 6749 3.1.2).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let refuse = || {
        Err(format!(
            "redirect URI '{uri}' must be an absolute https:// URI (http:// only for localhost) without a fragment"
        ))
    };
    if uri.contains('#') || uri.contains(char::is_whitespace) || uri.chars().any(char::is_control) {
        return refuse();
    }
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", ""));
    // The authority ends at the first '/', '?' (or the end); it must not hide a user part ("x@host").
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return refuse();
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
    match scheme {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => refuse(),
    }
}

pub fn find(conn: &Connection, client_id: &str) -> rusqlite::Result<Option<Client>> {
    conn.prepare_cached("SELECT client_id, name, secret_hash, redirect_uris FROM oauth_clients WHERE client_id = ?1")?
        .query_row([client_id], |r| {
            let uris: String = r.get(3)?;
            Ok(Client {
                client_id: r.get(0)?,
                name: r.get(1)?,
                secret_hash: r.get(2)?,
                redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
            })
        })
        .optional()
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http() {
        for good in [
            "https://chatgpt.com/aip/g-1/oauth/callback",
            "http://localhost/cb",
            "http://127.0.0.1:8080/cb?x=1",
            "http://[::1]:9/cb",
        ] {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.com/cb",
            "http://example.com/cb",
            "http://localhost.evil.com/cb",
            "http://localhost@evil.com/cb",
            "https://x.example/cb#frag",
            "https:///cb",
            "chatgpt.com/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
