//! OAuth clients (one per GPT): what a client is, checking its redirect URIs, and preparing a new
//! one. Their statements are `crate::store::clients`'s.

use crate::support::secrets::{hash_secret, random_secret};

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
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Operator => "operator",
            Registration::Dynamic => "dynamic",
            Registration::MetadataDocument => "metadata-document",
        }
    }

    pub fn from_stored(stored: &str) -> Registration {
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

/// A client about to be registered: checked, its id and secret drawn, before the job that stores
/// it (`store::clients::insert`).
pub struct NewClient {
    pub client_id: String,
    /// Shown once, never stored; `None` for a public client.
    pub client_secret: Option<String>,
    pub secret_hash: Option<String>,
    pub registration: Registration,
    pub name: String,
    pub redirect_uris_json: String,
    pub call_limit: Option<i64>,
}

impl NewClient {
    /// Checks the name and the redirect URIs, and draws the id and (unless `public`) the secret.
    pub fn prepare(
        registration: Registration,
        name: &str,
        redirect_uris: &[String],
        call_limit: Option<u64>,
        public: bool,
    ) -> Result<NewClient, String> {
        if name.trim().is_empty() {
            return Err("the client name must not be empty".into());
        }
        for uri in redirect_uris {
            check_redirect_uri(uri)?;
        }
        let client_secret = (!public).then(|| random_secret(CLIENT_SECRET_PREFIX));
        let redirect_uris_json = serde_json::to_string(redirect_uris).map_err(|e| e.to_string())?;
        let call_limit =
            call_limit.map(i64::try_from).transpose().map_err(|_| "the call limit is too large".to_string())?;
        Ok(NewClient {
            client_id: random_secret(CLIENT_ID_PREFIX),
            secret_hash: client_secret.as_deref().map(hash_secret),
            client_secret,
            registration,
            name: name.trim().to_owned(),
            redirect_uris_json,
            call_limit,
        })
    }

    /// What registering it gives back, once it is stored.
    pub fn registered(&self) -> Registered {
        Registered { client_id: self.client_id.clone(), client_secret: self.client_secret.clone() }
    }
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
