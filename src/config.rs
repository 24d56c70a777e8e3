//! The server's configuration: a plain value built from the command line and passed down.
//! It holds no secrets (client secrets and tokens live only as hashes in the database).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::db::Synchronous;

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
}

impl Config {
    pub fn from_args(db_path: PathBuf, args: &ServeArgs) -> Config {
        Config {
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
        }
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
        Config::from_args(db_path.into(), &defaults.serve)
    }

    pub fn public_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or("http://127.0.0.1:8080")
    }
}
