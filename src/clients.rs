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
    /// A client whose id is the https URL of its Client ID Metadata Document: the URL's host is
    /// what a person can check, since anyone can write any name into a document.
    pub fn metadata_document_host(&self) -> Option<&str> {
        let rest = self.client_id.strip_prefix("https://").or_else(|| self.client_id.strip_prefix("http://"))?;
        rest.split(['/', '?', '#']).next().filter(|host| !host.is_empty())
    }

    /// Exact string comparison (RFC 9700 §2.1, OAuth 2.1): no prefix or pattern matching, so an
    /// attacker cannot register a lookalike path under an allowed prefix.
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

/// How a client came to be known (the `registration` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `gpt-todo client add`.
    Operator,
    /// RFC 7591, at `POST /api/oauth2/register`.
    Dynamic,
}

impl Registration {
    fn as_str(self) -> &'static str {
        match self {
            Registration::Operator => "operator",
            Registration::Dynamic => "dynamic",
        }
    }
}

/// Registers a client as the operator does (`client add`).
pub fn register(
    conn: &Connection,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<u64>,
    public: bool,
) -> Result<Registered, String> {
    register_as(conn, Registration::Operator, name, redirect_uris, call_limit, public)
}

pub fn register_as(
    conn: &Connection,
    registration: Registration,
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
        "INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, call_limit, call_window, registration)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 IS NOT NULL THEN 'total' END, ?6)",
        params![
            client_id,
            client_secret.as_deref().map(hash_secret),
            name.trim(),
            uris,
            call_limit,
            registration.as_str()
        ],
    )
    .map_err(|e| format!("cannot add the client: {e}"))?;
    Ok(Registered { client_id, client_secret })
}

/// Records a client known by the URL of its Client ID Metadata Document, as its document says
/// now: a public client, with the server's default limit unless the operator set one. Codes and
/// tokens refer to clients, so such a client needs its row too; it also shows in `client list`.
pub fn remember_metadata_document(
    conn: &Connection,
    client_id: &str,
    name: &str,
    redirect_uris: &[String],
) -> rusqlite::Result<()> {
    let uris = serde_json::to_string(redirect_uris).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, registration)
         VALUES (?1, NULL, ?2, ?3, 'metadata-document')
         ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris
         WHERE registration = 'metadata-document'",
    )?
    .execute(params![client_id, name, uris])?;
    Ok(())
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
