//! OAuth clients (one per GPT): registering them, checking their redirect URIs, and keeping the
//! clients strangers create (RFC 7591 registrations, metadata documents) bounded.

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::unix_now;
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
    pub registration: Registration,
}

/// The host (with its port, if any) of an http(s) URL.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    Some(host).filter(|host| !host.is_empty())
}

impl Client {
    /// A client whose id is the https URL of its Client ID Metadata Document: the URL's host is
    /// what a person can check, since anyone can write any name into a document.
    pub fn metadata_document_host(&self) -> Option<&str> {
        (self.registration == Registration::MetadataDocument).then(|| url_host(&self.client_id)).flatten()
    }

    /// Whether the client registered itself (RFC 7591, or a metadata document): its name is what
    /// it says it is, nobody checked it.
    pub fn registered_itself(&self) -> bool {
        self.registration != Registration::Operator
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
    /// Known by the URL of its Client ID Metadata Document.
    MetadataDocument,
}

impl Registration {
    fn as_str(self) -> &'static str {
        match self {
            Registration::Operator => "operator",
            Registration::Dynamic => "dynamic",
            Registration::MetadataDocument => "metadata-document",
        }
    }

    fn from_stored(stored: &str) -> Registration {
        match stored {
            "dynamic" => Registration::Dynamic,
            "metadata-document" => Registration::MetadataDocument,
            _ => Registration::Operator,
        }
    }
}

/// How many redirect URIs a client that registers itself may list, how long each may be, and how
/// long all of them together: a row a stranger creates stays small.
pub const MAX_SELF_REGISTERED_REDIRECT_URIS: usize = 10;
pub const MAX_SELF_REGISTERED_URI_BYTES: usize = 1000;
pub const MAX_SELF_REGISTERED_URIS_BYTES: usize = 4000;

/// The redirect URIs of a client that registers itself: each one valid, and within the bounds.
pub fn check_self_registered_redirect_uris(uris: &[String]) -> Result<(), String> {
    if uris.len() > MAX_SELF_REGISTERED_REDIRECT_URIS {
        return Err(format!("at most {MAX_SELF_REGISTERED_REDIRECT_URIS} redirect_uris"));
    }
    if let Some(long) = uris.iter().find(|uri| uri.len() > MAX_SELF_REGISTERED_URI_BYTES) {
        let start: String = long.chars().take(40).collect();
        return Err(format!("a redirect URI may have at most {MAX_SELF_REGISTERED_URI_BYTES} bytes ({start}…)"));
    }
    if uris.iter().map(String::len).sum::<usize>() > MAX_SELF_REGISTERED_URIS_BYTES {
        return Err(format!("the redirect_uris may have at most {MAX_SELF_REGISTERED_URIS_BYTES} bytes together"));
    }
    uris.iter().try_for_each(|uri| check_redirect_uri(uri))
}

/// Registers a client as the operator does (`client add`).
pub fn register(
    conn: &Connection,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<u64>,
    public: bool,
) -> Result<Registered, String> {
    register_as(conn, Registration::Operator, name, redirect_uris, call_limit, public, unix_now())
}

/// Registers a client, as of `now` (unix seconds, the server's clock).
pub fn register_as(
    conn: &Connection,
    registration: Registration,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<u64>,
    public: bool,
    now: i64,
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
        "INSERT INTO oauth_clients
           (client_id, secret_hash, name, redirect_uris, call_limit, call_window, registration, registered_at)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 IS NOT NULL THEN 'total' END, ?6, ?7)",
        params![
            client_id,
            client_secret.as_deref().map(hash_secret),
            name.trim(),
            uris,
            call_limit,
            registration.as_str(),
            now
        ],
    )
    .map_err(|e| format!("cannot add the client: {e}"))?;
    Ok(Registered { client_id, client_secret })
}

/// Records a client known by the URL of its Client ID Metadata Document, as its document says
/// now: a public client, with the server's default limit unless the operator set one. Codes and
/// tokens refer to clients, so such a client needs its row too; it also shows in `client list`.
/// The authorization pages store it only when they issue it a code, so asking for pages stores
/// nothing.
pub fn remember_metadata_document(
    conn: &Connection,
    client_id: &str,
    name: &str,
    redirect_uris: &[String],
) -> rusqlite::Result<()> {
    remember_metadata_document_at(conn, client_id, name, redirect_uris, unix_now())
}

/// [`remember_metadata_document`] as of `now` (unix seconds, the server's clock).
pub fn remember_metadata_document_at(
    conn: &Connection,
    client_id: &str,
    name: &str,
    redirect_uris: &[String],
    now: i64,
) -> rusqlite::Result<()> {
    let uris = serde_json::to_string(redirect_uris).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_uris, registration, registered_at)
         VALUES (?1, NULL, ?2, ?3, 'metadata-document', ?4)
         ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris
         WHERE registration = 'metadata-document'",
    )?
    .execute(params![client_id, name, uris, now])?;
    Ok(())
}

/// Notes that the client completed an authorization (its first tokens were issued): from then on
/// the bound below never removes it.
pub fn mark_authorized(conn: &Connection, client_id: &str, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE oauth_clients SET authorized_at = ?2 WHERE client_id = ?1 AND authorized_at IS NULL")?
        .execute(params![client_id, now])?;
    Ok(())
}

/// A client that registered itself is kept at least this long, so a person who is still signing
/// in when a flood of registrations passes loses nothing.
pub const UNUSED_CLIENT_GRACE: i64 = 15 * 60;

/// The clients strangers can create and nobody has used: self-registered, never authorized,
/// holding no token (an operator's `token issue` can give one to any client) and no live code.
/// Everything is counted here, in SQL, so instances that share a database share the bound.
const UNUSED_CLIENTS: &str = "registration <> 'operator' AND authorized_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.client_id = oauth_clients.client_id)
    AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.client_id = oauth_clients.client_id AND c.expires_at > ?1)";

/// Removes the oldest unused clients beyond the newest `keep`, but none registered within
/// [`UNUSED_CLIENT_GRACE`] of `now`; at most `limit` of them. Returns how many went.
pub fn evict_unused(conn: &Connection, now: i64, keep: u32, limit: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(&format!(
        "DELETE FROM oauth_clients WHERE client_id IN (
           SELECT client_id FROM (
             SELECT client_id, registered_at FROM oauth_clients WHERE {UNUSED_CLIENTS}
              ORDER BY registered_at DESC, client_id DESC LIMIT -1 OFFSET ?2)
            WHERE registered_at <= ?1 - {UNUSED_CLIENT_GRACE}
            LIMIT ?3)"
    ))?
    .execute(params![now, keep, limit])
}

/// Removes unused clients registered `older_than` seconds before `now` or earlier; at most
/// `limit` of them. Returns how many went.
pub fn prune_unused(conn: &Connection, now: i64, older_than: i64, limit: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(&format!(
        "DELETE FROM oauth_clients WHERE client_id IN (
           SELECT client_id FROM oauth_clients WHERE {UNUSED_CLIENTS} AND registered_at <= ?1 - ?2 LIMIT ?3)"
    ))?
    .execute(params![now, older_than, limit])
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
    conn.prepare_cached(
        "SELECT client_id, name, secret_hash, redirect_uris, registration FROM oauth_clients WHERE client_id = ?1",
    )?
    .query_row([client_id], |r| {
        let uris: String = r.get(3)?;
        Ok(Client {
            client_id: r.get(0)?,
            name: r.get(1)?,
            secret_hash: r.get(2)?,
            redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
            registration: Registration::from_stored(&r.get::<_, String>(4)?),
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
