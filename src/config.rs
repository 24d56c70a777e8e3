//! The server's configuration: a plain value built from the command line and passed down.
//! It holds no secrets (client secrets and tokens live only as hashes in the database).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{ServeArgs, Synchronous};

#[derive(Debug, Clone)]
pub struct Config {
    pub db_path: PathBuf,
    /// Where clients reach us; `None` until the listener is bound, then the listen address.
    pub public_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub default_client_id: Option<String>,
    pub default_call_limit: u64,
    pub allow_signup: bool,
    /// Empty means any origin: bearer tokens are not ambient credentials, so CORS guards nothing.
    pub cors_origins: Vec<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub userinfo_timeout: Duration,
    pub userinfo_cache_ttl: Duration,
    pub synchronous: Synchronous,
    /// RFC 7591 registration at POST /api/oauth2/register.
    pub dynamic_registration: bool,
    /// Clients identified by the URL of their Client ID Metadata Document.
    pub client_metadata_documents: bool,
    /// Tests only: such documents may be fetched over http and from loopback or private addresses.
    pub allow_private_client_metadata: bool,
}

impl Config {
    /// The configuration `serve` runs with; a malformed flag is a one-line error.
    pub fn from_args(db_path: PathBuf, args: &ServeArgs) -> Result<Config, String> {
        for origin in &args.cors_origin {
            check_origin(origin)?;
        }
        Ok(Config {
            db_path,
            public_url: args.public_url.as_deref().map(|u| u.trim_end_matches('/').to_string()),
            userinfo_url: args.userinfo_url.clone(),
            default_client_id: args.default_client_id.clone(),
            default_call_limit: args.default_call_limit,
            allow_signup: args.allow_signup,
            cors_origins: args.cors_origin.clone(),
            access_token_ttl: Duration::from_secs(args.access_token_ttl),
            refresh_token_ttl: Duration::from_secs(args.refresh_token_ttl),
            userinfo_timeout: Duration::from_secs(5),
            userinfo_cache_ttl: Duration::from_secs(args.userinfo_cache_ttl),
            synchronous: args.synchronous,
            dynamic_registration: !args.no_dynamic_registration,
            client_metadata_documents: !args.no_client_metadata_documents,
            allow_private_client_metadata: args.test_allow_private_client_metadata,
        })
    }

    /// A configuration with the defaults of `serve`, for tests and tools.
    pub fn for_database(db_path: impl Into<PathBuf>) -> Config {
        use clap::Parser;
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let defaults = Defaults::parse_from(["gpt-todo"]);
        Config::from_args(db_path.into(), &defaults.serve).expect("the defaults are valid")
    }

    pub fn public_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or("http://127.0.0.1:8080")
    }

    /// The MCP endpoint's URL: the resource (RFC 8707) that tokens for /mcp are bound to.
    pub fn mcp_resource(&self) -> String {
        format!("{}/mcp", self.public_url())
    }

    /// The origin (scheme, host, port) of the public URL: browsers on it may call /mcp.
    pub fn public_origin(&self) -> &str {
        let url = self.public_url();
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        match url[after_scheme..].find('/') {
            Some(path) => &url[..after_scheme + path],
            None => url,
        }
    }
}

/// A browser origin: `http(s)://host[:port]`, nothing after it.
pub fn check_origin(origin: &str) -> Result<(), String> {
    let refuse =
        || Err(format!("--cors-origin '{origin}' must look like https://example.com (scheme, host, optional port)"));
    let Some(authority) = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) else {
        return refuse();
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) && host.is_ascii();
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    if host_ok && port_ok { Ok(()) } else { refuse() }
}

#[cfg(test)]
mod tests {
    use super::check_origin;

    #[test]
    fn cors_origins_are_scheme_host_and_port() {
        for good in ["https://chatgpt.com", "http://localhost:3000", "https://a.example:8443"] {
            assert!(check_origin(good).is_ok(), "{good}");
        }
        for bad in ["example.com", "https://", "https://a.example/", "https://a.example:x", "ftp://a.example"] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
