//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25
//! and 2026-07-28, authorization / client registration): an MCP client may use the https URL of a
//! JSON document describing it as its `client_id`. The document is fetched here with ureq on a
//! blocking thread: https only, no redirects, no proxy, a timeout and a size cap, and only from a
//! public address (`crate::http::public_address`; else a client id could make this server probe its own
//! network). The test-only flag `--test-allow-private-client-metadata` allows http and loopback
//! addresses, where tests serve their documents; every other special-purpose range stays refused. The host is resolved once, by the agent's own resolver, which hands the
//! connection only the addresses it checked: a name that answers differently the second time
//! (DNS rebinding) gains nothing.
//!
//! Whatever goes wrong before a document arrives is told to the person in one sentence that says
//! nothing about what was found there (an unreachable port, a refused connection, a bad
//! certificate, a private address would otherwise let a stranger map networks through this
//! server); the log has the detail. Documents (and refusals, briefly) are cached.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use warp::http::Uri;

use crate::cli::config::Config;
use crate::http::public_address::is_public;
use crate::oauth::client_names::check_unambiguous_name;
use crate::oauth::client_rules::check_self_registered_redirect_uris;
use crate::support::cache::TtlCache;

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The draft (§4) suggests documents stay under 5 KB; a little more is tolerated.
const MAX_DOCUMENT_BYTES: u64 = 16 * 1024;
const MAX_URL_CHARS: usize = 2000;
const MAX_NAME_CHARS: usize = 100;
/// What the person is told when the document could not be fetched, whatever the reason.
/// The same for every failure, so it tells a stranger nothing about what answered at the URL.
pub const NOT_FETCHED: &str = "the client metadata document could not be fetched from its URL (it must answer \
    200 over https from a public address, never a loopback, private or link-local one)";
const DOCUMENT_TTL: Duration = Duration::from_secs(5 * 60);
/// A refused document is asked for again soon, so a fixed one works almost at once.
const REFUSAL_TTL: Duration = Duration::from_secs(30);
const CACHE_CAPACITY: usize = 1000;
const MAX_FETCHES: usize = 16;

/// What this server takes from a client's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
}

pub struct ClientMetadataDocuments {
    agent: ureq::Agent,
    allow_private: bool,
    fetches: Semaphore,
    cache: TtlCache<Result<Document, String>>,
}

impl ClientMetadataDocuments {
    pub fn new(config: &Config) -> ClientMetadataDocuments {
        let agent_config = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            // The document must be at its URL: a redirect could lead anywhere, so none is followed.
            .max_redirects(0)
            // A proxy from the environment would be resolved and reached instead of the host.
            .proxy(None)
            .http_status_as_error(false)
            .user_agent(concat!("gpt-todo/", env!("CARGO_PKG_VERSION")))
            .build();
        let resolver = PublicOnly { allow_loopback: config.allow_private_client_metadata };
        let agent = ureq::Agent::with_parts(agent_config, DefaultConnector::default(), resolver);
        ClientMetadataDocuments {
            agent,
            allow_private: config.allow_private_client_metadata,
            fetches: Semaphore::new(MAX_FETCHES),
            cache: TtlCache::new(CACHE_CAPACITY),
        }
    }

    /// Whether `client_id` is meant as a document URL (rather than an id this server issued).
    pub fn is_document_url(&self, client_id: &str) -> bool {
        client_id.starts_with("https://") || (self.allow_private && client_id.starts_with("http://"))
    }

    /// The document at `url`, checked; or why it cannot be used, in words for the person signing in.
    pub async fn resolve(&self, url: &str) -> Result<Document, String> {
        let ttl = |answer: &Result<Document, String>| if answer.is_ok() { DOCUMENT_TTL } else { REFUSAL_TTL };
        if let Some(answer) = self.cache.get(url, ttl) {
            return answer;
        }
        let answer = self.fetch(url).await;
        if let Err(reason) = &answer {
            tracing::info!(client_id = url, %reason, "client metadata document refused");
        }
        self.cache.insert(url.to_owned(), answer.clone(), DOCUMENT_TTL);
        answer
    }

    async fn fetch(&self, url: &str) -> Result<Document, String> {
        let target = check_url(url, self.allow_private)?;
        let busy = |_| "the server is busy fetching other client documents; try again".to_owned();
        let _slot = tokio::time::timeout(FETCH_TIMEOUT, self.fetches.acquire()).await.map_err(busy)?;
        let (agent, url) = (self.agent.clone(), url.to_owned());
        tokio::task::spawn_blocking(move || {
            let body = download(&agent, &url).map_err(|detail| {
                tracing::warn!(client_id = %url, host = %target.host, port = target.port, %detail,
                    "client metadata document not fetched");
                NOT_FETCHED.to_owned()
            })?;
            parse(&url, &body)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "client metadata document fetch task failed");
            NOT_FETCHED.to_owned()
        })?
    }
}

/// Where a document URL points: its host and port, for the log.
struct Target {
    host: String,
    port: u16,
}

/// ureq's resolver for document hosts: the system's answer, handed on only if every address is
/// public, so the connection is made to an address that was checked.
#[derive(Debug)]
struct PublicOnly {
    /// The test flag: loopback addresses too.
    allow_loopback: bool,
}

impl Resolver for PublicOnly {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = DefaultResolver::default().resolve(uri, config, timeout)?;
        let addresses: Vec<IpAddr> = resolved.iter().map(|a| a.ip()).collect();
        check_addresses(uri.host().unwrap_or(""), &addresses, self.allow_loopback)
            .map_err(|refused| ureq::Error::Io(io::Error::new(io::ErrorKind::PermissionDenied, refused)))?;
        Ok(resolved)
    }
}

/// The draft's rules for the URL (§3): https, a path, no fragment, no user info, no dot segments.
fn check_url(url: &str, allow_http: bool) -> Result<Target, String> {
    let refuse = |why: &str| Err(format!("the client_id URL {why}"));
    if url.len() > MAX_URL_CHARS || url.contains(char::is_whitespace) || url.contains('#') {
        return refuse("is too long, or has spaces or a fragment");
    }
    let uri: Uri = url.parse().map_err(|_| "the client_id is not a valid URL".to_owned())?;
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        Some("http") if allow_http => 80,
        _ => return refuse("must use https"),
    };
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if authority.contains('@') {
        return refuse("must not contain a user name or password");
    }
    let path = uri.path();
    if path.is_empty() || path == "/" {
        return refuse("must have a path (e.g. https://app.example/client.json)");
    }
    if path.split('/').any(|segment| segment == "." || segment == "..") {
        return refuse("must not contain . or .. path segments");
    }
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| "the client_id URL has no host".to_owned())?;
    Ok(Target { host: host.trim_matches(['[', ']']).to_owned(), port: uri.port_u16().unwrap_or(default_port) })
}

/// Every address the host resolves to must be a public one (or, with `allow_loopback`, loopback).
fn check_addresses(host: &str, addresses: &[IpAddr], allow_loopback: bool) -> Result<(), String> {
    let allowed = |ip: &IpAddr| is_public(ip) || (allow_loopback && ip.to_canonical().is_loopback());
    match addresses.iter().find(|ip| !allowed(ip)) {
        Some(private) => Err(format!(
            "the client_id host {host} is at a loopback, private, link-local or other special-purpose address \
             ({private}), which is not fetched"
        )),
        None => Ok(()),
    }
}

fn download(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let mut response = agent.get(url).header("Accept", "application/json").call().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("answered HTTP {status}, not 200"));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_DOCUMENT_BYTES)
        .read_to_vec()
        .map_err(|e| format!("the body could not be read (at most {MAX_DOCUMENT_BYTES} bytes): {e}"))
}

/// The document's required fields, checked (draft §4, MCP client registration).
fn parse(url: &str, body: &[u8]) -> Result<Document, String> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err("the client metadata document is not a JSON object".into());
    };
    if fields.get("client_id").and_then(Value::as_str) != Some(url) {
        return Err("the client metadata document's client_id is not exactly its URL".into());
    }
    // A document is public for anyone to read, so it cannot hold a secret (draft §4.1).
    let method = fields.get("token_endpoint_auth_method").and_then(Value::as_str).unwrap_or("none");
    if method != "none" || fields.contains_key("client_secret") {
        return Err("a client metadata document must describe a public client (token_endpoint_auth_method none)".into());
    }
    let client_name = fields
        .get("client_name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= MAX_NAME_CHARS)
        .ok_or("the client metadata document needs a client_name (at most 100 characters)")?;
    check_unambiguous_name(client_name).map_err(|why| format!("the client metadata document's client_name {why}"))?;
    let redirect_uris: Vec<String> = fields
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|uris| uris.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err("the client metadata document lists no redirect_uris".into());
    }
    check_self_registered_redirect_uris(&redirect_uris)?;
    Ok(Document { client_name: client_name.to_owned(), redirect_uris })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_drafts_rules() {
        assert!(check_url("https://app.example/client.json", false).is_ok());
        let target = check_url("https://app.example:8443/oauth/c.json", false).unwrap();
        assert_eq!((target.host.as_str(), target.port), ("app.example", 8443));
        for bad in [
            "http://app.example/client.json",
            "https://app.example",
            "https://app.example/",
            "https://user@app.example/c.json",
            "https://app.example/a/../c.json",
            "https://app.example/c.json#x",
            "ftp://app.example/c.json",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9/c.json", true).is_ok(), "the test flag allows http");
    }

    #[test]
    fn private_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(&private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(is_public(&public.parse().unwrap()), "{public}");
        }
        use std::net::ToSocketAddrs;
        let local: Vec<IpAddr> = ("localhost", 443).to_socket_addrs().unwrap().map(|a| a.ip()).collect();
        assert!(check_addresses("localhost", &local, false).unwrap_err().contains("loopback"));
        assert!(check_addresses("localhost", &local, true).is_ok());
        assert!(check_addresses("example", &["93.184.216.34".parse().unwrap()], false).is_ok());
        // The test flag allows loopback only: NAT64 and 6to4 forms of it stay refused.
        for special in ["64:ff9b::7f00:1", "2002:7f00:1::1", "::127.0.0.1", "192.0.0.1", "10.0.0.1"] {
            assert!(check_addresses("x", &[special.parse().unwrap()], true).is_err(), "{special}");
        }
    }

    #[test]
    fn documents_must_name_themselves_and_their_redirects() {
        let url = "https://app.example/c.json";
        let good = r#"{"client_id":"https://app.example/c.json","client_name":"App","redirect_uris":["http://127.0.0.1:3000/cb"]}"#;
        let document = parse(url, good.as_bytes()).unwrap();
        assert_eq!(
            document,
            Document { client_name: "App".into(), redirect_uris: vec!["http://127.0.0.1:3000/cb".into()] }
        );
        let refused = |body: &str| parse(url, body.as_bytes()).unwrap_err();
        assert!(refused(&good.replace("c.json\",", "other.json\",")).contains("client_id"));
        assert!(refused(&good.replace("\"App\"", "\"\"")).contains("client_name"));
        assert!(refused(&good.replace("http://127.0.0.1:3000/cb", "http://evil.example/cb")).contains("redirect URI"));
        assert!(
            refused(&good.replace("}", r#","token_endpoint_auth_method":"client_secret_basic"}"#)).contains("public")
        );
        assert!(refused("[1]").contains("JSON object"));
    }
}
