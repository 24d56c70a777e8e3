//! gpt-todo: a todo API for ChatGPT Actions and MCP clients behind OAuth 2.0 bearer tokens, with
//! a per-user-per-client call quota and a log of every call, all in one SQLite file.
//!
//! `routes(state)` is the whole HTTP surface and `serve(listener, state, shutdown)` runs it; the
//! binary and the tests share both. The layers, top to bottom (docs/architecture.md has the map):
//! `cli` → `http` → the features (`todos`, `mcp`, `oauth`, `web`, `console`, `operator`) →
//! `chain` → `quota` → `store` → `support`. [`AppState`] here is the one thing all of them share.

pub mod chain;
pub mod cli;
pub mod console;
pub mod http;
pub mod mcp;
pub mod oauth;
pub mod operator;
pub mod quota;
pub mod store;
pub mod support;
pub mod todos;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub use http::route_table::{ROUTE_TABLE, allowed_methods};
pub use http::routes::{routes, routes_with};

use crate::chain::auth_step::{Authenticator, RemoteUserinfo};
use crate::cli::args::Synchronous;
use crate::cli::config::Config;
use crate::http::client_address::Forwarding;
use crate::http::rate_limit::PublicLimits;
use crate::oauth::ClientMetadataDocuments;
use crate::store::sqlite::DbError;
use crate::store::{Location, Store};
use crate::web::Guards;

/// What every request handler shares. Every route clones it per request, so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: Arc<Config>,
    /// Every statement goes through it.
    pub store: Store,
    pub auth: Authenticator,
    /// Clients known by the URL of their Client ID Metadata Document, fetched and cached.
    pub client_documents: ClientMetadataDocuments,
    /// Per-address limits of the endpoints anyone may call without an account.
    pub limits: PublicLimits,
    /// Which peers are believed about the client's address (`--trusted-proxy`).
    pub forwarding: Arc<Forwarding>,
    /// What guards the sign-in and sign-up password checks: the per-account lockout and the
    /// bound on concurrent password hashing (one per server, like the limits).
    pub sign_in: Guards,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Opens and migrates the database and picks the auth mode from the configuration.
    /// A database that cannot be used is one line: an SQLite file's own refusal as it is, any
    /// other failure after `cannot open <--db>` (the password redacted).
    pub fn new(config: Config) -> Result<AppState, String> {
        let cannot_open = |e: &dyn std::fmt::Display| format!("cannot open {}: {e}", config.db);
        let store = match &config.db {
            Location::Sqlite(path) => Store::open_server(
                path,
                config.synchronous == Synchronous::Full,
                store::sqlite::Retention {
                    call_log_days: config.call_log_days,
                    max_unused_clients: config.max_unused_clients,
                    clock: config.clock.clone(),
                },
            )
            .map_err(|e| match e {
                DbError::File(message) => message,
                other => cannot_open(&other),
            })?,
            Location::Postgres(pg) => {
                Store::open_postgres(pg, config.db_pool_size, config.clock.clone()).map_err(|e| cannot_open(&e))?
            }
        };
        let auth = match &config.userinfo_url {
            Some(url) => Authenticator::Remote(Box::new(RemoteUserinfo::new(url.clone(), &config))),
            None => Authenticator::Local,
        };
        let client_documents = ClientMetadataDocuments::new(&config);
        let (limits, sign_in) = (PublicLimits::new(config.public_rates), Guards::default());
        let forwarding = Arc::new(Forwarding::new(&config.trusted_proxies));
        let shared = Shared { config: Arc::new(config), store, auth, client_documents, limits, forwarding, sign_in };
        Ok(AppState(Arc::new(shared)))
    }
}

/// Serves until `shutdown` resolves, lets in-flight requests finish, then checkpoints the WAL so
/// the database is one self-contained file again.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) {
    serve_with(listener, state, http::routes::no_routes(), shutdown).await
}

/// [`serve`] with your own API routes beside the todo API (see [`routes_with`] and
/// `examples/notes.rs`).
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    extra: impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let store = state.store.clone();
    let limits = state.config.limits;
    http::server::run(listener, routes_with(state, extra), limits, shutdown).await;
    if let Err(e) = store.checkpoint().await {
        tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
    }
}

/// Fills in the public URL from the bound address when none was configured.
pub fn with_public_url(mut config: Config, listener: &TcpListener) -> std::io::Result<Config> {
    if config.public_url.is_none() {
        config.public_url = Some(format!("http://{}", listener.local_addr()?));
    }
    Ok(config)
}
