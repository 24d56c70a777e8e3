//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25
//! and 2026-07-28, authorization / client registration): an MCP client may use the https URL of a
//! JSON document describing it as its `client_id`. The document is fetched here with ureq on a
//! blocking thread: https only, no redirects, a timeout and a size cap, and never from a loopback,
//! private or link-local address (else a client id could make this server probe its own network),
//! unless the test-only flag `--test-allow-private-client-metadata` allows http and such addresses.
//! Documents (and refusals, briefly) are cached.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;
use warp::http::Uri;

use crate::cache::TtlCache;
use crate::clients::check_redirect_uri;
use crate::config::Config;

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The draft (§4) suggests documents stay under 5 KB; a little more is tolerated.
const MAX_DOCUMENT_BYTES: u64 = 16 * 1024;
const MAX_URL_CHARS: usize = 2000;
const MAX_NAME_CHARS: usize = 100;
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
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            // The document must be at its URL: a redirect could lead anywhere, so none is followed.
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("gpt-todo/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
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
        let (agent, url, allow_private) = (self.agent.clone(), url.to_owned(), self.allow_private);
        tokio::task::spawn_blocking(move || {
            check_addresses(&target, allow_private)?;
            let body = download(&agent, &url)?;
            parse(&url, &body)
        })
        .await
        .map_err(|e| format!("fetching the document failed: {e}"))?
    }
}

/// Where a document URL points: the host and port to check before connecting.
struct Target {
    host: String,
    port: u16,
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

/// Every address the host resolves to must be a public one. (ureq resolves the name again when
/// it connects; a name that changes its answer within that moment is not caught here.)
fn check_addresses(target: &Target, allow_private: bool) -> Result<(), String> {
    let addresses: Vec<IpAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("the client_id host {} cannot be resolved: {e}", target.host))?
        .map(|a| a.ip())
        .collect();
    if addresses.is_empty() {
        return Err(format!("the client_id host {} has no address", target.host));
    }
    if !allow_private && let Some(private) = addresses.iter().find(|ip| !is_public(ip)) {
        return Err(format!(
            "the client_id host {} is at a loopback, private or link-local address ({private}), which is not fetched",
            target.host
        ));
    }
    Ok(())
}

fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(&v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: &Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 198 && (18..20).contains(&b)) // benchmarking (RFC 2544)
        || a >= 240)
}

fn is_public_v6(ip: &Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)) // documentation
}

fn download(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let mut response = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| format!("the client metadata document could not be fetched: {e}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("fetching the client metadata document answered HTTP {status}, not 200"));
    }
    response.body_mut().with_config().limit(MAX_DOCUMENT_BYTES).read_to_vec().map_err(|e| {
        format!("the client metadata document could not be read (at most {MAX_DOCUMENT_BYTES} bytes): {e}")
    })
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
        .filter(|n| !n.is_empty() && n.chars().count() <= MAX_NAME_CHARS && !n.contains(char::is_control))
        .ok_or("the client metadata document needs a client_name (at most 100 characters)")?;
    let redirect_uris: Vec<String> = fields
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|uris| uris.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err("the client metadata document lists no redirect_uris".into());
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri)?;
    }
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
        let local = Target { host: "localhost".into(), port: 443 };
        assert!(check_addresses(&local, false).unwrap_err().contains("loopback"));
        assert!(check_addresses(&local, true).is_ok());
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
