//! The server's configuration: a plain value built from the command line and passed down.
//! It holds no secrets (client secrets and tokens live only as hashes in the database).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::args::{ServeArgs, Synchronous};
use crate::http::rate_limit::PublicRates;
use crate::http::server::{Limits, raise_open_file_limit};
use crate::quota::{Plan, Window};
use crate::store::Location;
use crate::support::clock::Clock;

#[derive(Debug, Clone)]
pub struct Config {
    /// `--db`: an SQLite file (absolute) or a PostgreSQL URL.
    pub db: Location,
    /// `--db-pool-size`, on PostgreSQL.
    pub db_pool_size: u32,
    /// Where clients reach us; `None` until the listener is bound, then the listen address.
    pub public_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub default_client_id: Option<String>,
    pub default_call_limit: u64,
    pub default_call_window: Window,
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
    /// Tests only: such documents may be fetched over http and from loopback addresses.
    pub allow_private_client_metadata: bool,
    /// Proxies whose `X-Forwarded-For` names the client in the log (`--trusted-proxy`).
    pub trusted_proxies: Vec<IpAddr>,
    /// The time quota windows are counted in: the system clock, or a test's.
    pub clock: Clock,
    /// Connection deadlines and the connection cap.
    pub limits: Limits,
    /// Call-log rows older than this many days are pruned (`--call-log-days`).
    pub call_log_days: u32,
    /// Where `GET /metrics` is served, if anywhere (`--metrics-listen`).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The per-address budgets of the public endpoints.
    pub public_rates: PublicRates,
    /// How many self-registered clients that never completed an authorization are kept
    /// (`--max-unused-clients`); older ones beyond it are removed.
    pub max_unused_clients: u32,
}

impl Config {
    /// The configuration `serve` runs with; a malformed flag is a one-line error.
    pub fn from_args(db: Location, args: &ServeArgs) -> Result<Config, String> {
        for origin in &args.cors_origin {
            check_origin(origin)?;
        }
        // Absolute, so the banner can print it for admin commands run from any directory.
        let db = match db {
            Location::Sqlite(path) => {
                Location::Sqlite(std::path::absolute(&path).map_err(|e| format!("--db {}: {e}", path.display()))?)
            }
            postgres => postgres,
        };
        Ok(Config {
            db,
            db_pool_size: args.db_pool_size,
            public_url: args.public_url.as_deref().map(check_public_url).transpose()?,
            userinfo_url: args.userinfo_url.clone(),
            default_client_id: args.default_client_id.clone(),
            default_call_limit: args.default_limit.limit,
            default_call_window: args.default_limit.window,
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
            trusted_proxies: args
                .trusted_proxy
                .iter()
                .map(|ip| ip.parse::<IpAddr>().map_err(|_| format!("--trusted-proxy '{ip}' is not an IP address")))
                .collect::<Result<_, _>>()?,
            clock: Clock::system(),
            limits: limits(args)?,
            call_log_days: args.call_log_days,
            metrics_listen: args.metrics_listen,
            public_rates: PublicRates {
                failed_sign_ins: args.failed_sign_in_rate,
                sign_ins: args.sign_in_rate,
                bad_grants: args.bad_grant_rate,
                failed_client_auth: args.failed_client_auth_rate,
                registrations: args.registration_rate,
            },
            max_unused_clients: args.max_unused_clients,
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
        Config::from_args(Location::Sqlite(db_path.into()), &defaults.serve).expect("the defaults are valid")
    }

    /// The limit of a client that has none of its own.
    pub fn default_plan(&self) -> Plan {
        Plan { limit: self.default_call_limit, window: self.default_call_window }
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

/// The base URL clients are given: an absolute http(s) URL without query or fragment (a path is
/// kept, for a proxy that serves gpt-todo under one). Returned without a trailing `/`.
fn check_public_url(url: &str) -> Result<String, String> {
    if url.trim().is_empty() {
        return Err("--public-url is empty; give the https URL clients reach this server at, or leave it out".into());
    }
    let refuse = |why: &str| {
        Err(format!("--public-url '{url}' {why}; it must look like https://todo.example.com (scheme and host)"))
    };
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return refuse("is not an http:// or https:// URL");
    };
    if url.contains(['?', '#']) {
        return refuse("has a query or fragment");
    }
    if url.contains(char::is_whitespace) || url.chars().any(char::is_control) {
        return refuse("contains spaces");
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || authority.starts_with(':') {
        return refuse("has no host");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// What an operator should hear about at start-up: addresses nobody outside can use, or that
/// ChatGPT will refuse.
pub fn startup_warnings(public_url: Option<&str>, listen: SocketAddr) -> Vec<String> {
    let mut warnings = Vec::new();
    match public_url {
        None if !listen.ip().is_loopback() => warnings.push(format!(
            "listening on {listen}, reachable from other machines, but without --public-url: clients are \
             given http://{listen}/... URLs, which they cannot use. Set --public-url (GPT_TODO_PUBLIC_URL) to \
             the https URL they reach this server at."
        )),
        Some(url) if url.starts_with("http://") && !is_loopback_url(url) => warnings.push(format!(
            "--public-url {url} is plain http: ChatGPT needs https, and the sign-in cookie is not Secure. \
             Put a TLS proxy (see deploy/Caddyfile) or a tunnel in front and give its https:// URL."
        )),
        _ => {}
    }
    warnings
}

fn is_loopback_url(url: &str) -> bool {
    let authority = url.split("://").nth(1).unwrap_or("").split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The deadlines, and the connection cap: never above what the descriptor limit (raised to its
/// hard maximum here) leaves room for.
fn limits(args: &ServeArgs) -> Result<Limits, String> {
    let seconds = |value: f64, flag: &str| {
        Duration::try_from_secs_f64(value)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("--{flag} must be a positive number of seconds, not {value}"))
    };
    let allowed = raise_open_file_limit();
    Ok(Limits {
        header_read: seconds(args.header_timeout, "header-timeout")?,
        idle: seconds(args.idle_timeout, "idle-timeout")?,
        body_stall: seconds(args.body_timeout, "body-timeout")?,
        max_connections: match args.max_connections {
            0 => allowed,
            asked => asked.min(allowed),
        },
    })
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
    use super::{check_origin, check_public_url, startup_warnings};

    #[test]
    fn public_urls_are_absolute_http_urls_without_query_or_fragment() {
        assert_eq!(check_public_url("https://todo.example.com/").unwrap(), "https://todo.example.com");
        assert_eq!(check_public_url("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(check_public_url("https://example.com/todo").unwrap(), "https://example.com/todo");
        for bad in ["", " ", "todo.example.com", "ftp://x", "https://", "https://x/?a=1", "https://x/#f", "https://u@x"]
        {
            assert!(check_public_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn warns_about_urls_nobody_can_use() {
        let anywhere = "0.0.0.0:8080".parse().unwrap();
        let loopback = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(startup_warnings(None, anywhere).len(), 1);
        assert!(startup_warnings(None, loopback).is_empty());
        assert!(startup_warnings(Some("http://todo.example.com"), loopback)[0].contains("plain http"));
        assert!(startup_warnings(Some("http://localhost:8080"), anywhere).is_empty());
        assert!(startup_warnings(Some("https://todo.example.com"), anywhere).is_empty());
    }

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
