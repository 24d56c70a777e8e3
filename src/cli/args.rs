//! The command line: `gpt-todo serve` and the admin commands. Every configuration flag (`--db` and
//! `serve`'s flags, and the flags of other commands that name one of `serve`'s settings, such as
//! `client add --public-url`) is also an environment variable `GPT_TODO_<FLAG>`, given by
//! [`command`], so a service manager can configure the server without arguments and a new
//! `serve` flag gets one too. One command's filters and arguments (`--user`, `--limit`, `--json`)
//! have none: a `GPT_TODO_USER` meant for something else must not silently filter a report.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// API calls allowed per user and client when the client has no limit of its own.
pub const DEFAULT_CALL_LIMIT: u64 = 1000;

use crate::http::rate_limit::Rate;
use crate::quota::Window;
use crate::store::Location;

#[derive(Debug, Parser)]
#[command(
    name = "gpt-todo",
    version,
    about = "A todo API for ChatGPT Actions, with its own OAuth server, in one SQLite file"
)]
pub struct Cli {
    /// The database: an SQLite file (`serve`, `user add` and `client add` create it if it is
    /// missing; the other commands refuse a missing file, a mistyped path, unless given --create),
    /// or a PostgreSQL URL `postgres://USER@HOST/DB` (its password is better in GPT_TODO_DB,
    /// PGPASSWORD or ~/.pgpass than in the arguments, which other users can read in /proc).
    // hide_env_values: `--help` would otherwise print GPT_TODO_DB's value, password and all.
    #[arg(long, default_value = "./gpt-todo.db", global = true, value_parser = Location::parse, hide_env_values = true)]
    pub db: Location,

    /// Create the database if it is missing, for a command that would otherwise refuse (also
    /// `restore` onto a path with no database). Never read from the environment: a variable
    /// would switch off the mistyped-path check for every command.
    #[arg(long, global = true)]
    pub create: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    // Boxed: its many flags make it far larger than the other commands.
    Serve(Box<ServeArgs>),
    /// Manage the people who can sign in.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients (one per GPT).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Issue or revoke access tokens by hand.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show the per-user-per-client API call counters, or reset one.
    Usage(UsageArgs),
    /// Show the API call log, newest first.
    Logs(LogsArgs),
    /// Write a consistent copy of the database while the server runs.
    Backup {
        /// Where to write the copy (readable by you only); must not exist yet. `-` writes it to
        /// standard output.
        path: PathBuf,
    },
    /// Replace the database with a backup; the server must be stopped. The database keeps its
    /// owner and mode; a missing one is refused unless --create (a mistyped --db).
    Restore {
        /// A file written by `gpt-todo backup`, or that file gzipped (`backup - | gzip`); it is
        /// checked before anything is replaced.
        backup: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// On PostgreSQL: how many database connections this instance keeps at most (default 10; the
    /// server's max_connections, 100 by default, bounds the sum over every instance).
    #[arg(long, default_value_t = crate::store::postgres::DEFAULT_POOL_SIZE)]
    pub db_pool_size: u32,
    /// Address to listen on: host:port, or :port for every interface.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = listen_address)]
    pub listen: SocketAddr,

    /// The https URL clients reach this server at (your domain or tunnel). Default: the listen address.
    #[arg(long)]
    pub public_url: Option<String>,

    /// Resolve bearer tokens by asking this user-info endpoint instead of the built-in token store.
    #[arg(long)]
    pub userinfo_url: Option<String>,

    /// Client id for remote user-info answers that name none.
    #[arg(long)]
    pub default_client_id: Option<String>,

    #[command(flatten)]
    pub default_limit: DefaultLimit,

    /// Let new people create an account on the login page.
    #[arg(long)]
    pub allow_signup: bool,

    /// Browser origins allowed by CORS (repeat, or comma-separate). Default: any.
    #[arg(long, value_delimiter = ',', value_parser = list_item)]
    pub cors_origin: Vec<String>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub access_token_ttl: u64,

    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u64,

    /// How long a good remote user-info answer is reused, in seconds.
    #[arg(long, default_value_t = 60)]
    pub userinfo_cache_ttl: u64,

    /// Refuse RFC 7591 dynamic client registration (POST /api/oauth2/register); MCP clients then
    /// need a Client ID Metadata Document or a client made with `client add`.
    #[arg(long)]
    pub no_dynamic_registration: bool,

    /// Refuse clients identified by the https URL of a Client ID Metadata Document.
    #[arg(long)]
    pub no_client_metadata_documents: bool,

    /// FOR TESTS ONLY: fetch Client ID Metadata Documents over plain http and from loopback
    /// addresses, which is otherwise refused (a client id URL could make the server probe its own
    /// network). Every other special-purpose address stays refused.
    #[arg(long, hide = true)]
    pub test_allow_private_client_metadata: bool,

    /// `full`: every answered call survives power loss (an fsync per group commit). `normal`:
    /// it survives a crash of gpt-todo, but power loss may undo the last moments' calls.
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    pub synchronous: Synchronous,

    /// Log lines as plain text, or as one JSON object per line (for log shippers).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Reverse proxies and tunnels (IP addresses, repeat or comma-separate) whose X-Forwarded-For is
    /// believed for the client's address: in the log, the per-address budgets and the lockout.
    /// Default: none; the connection's address is used.
    #[arg(long, value_delimiter = ',', value_parser = list_item)]
    pub trusted_proxy: Vec<String>,

    /// Seconds a client has to send a request's head (from its first byte, or from connecting).
    #[arg(long, default_value_t = 10.0)]
    pub header_timeout: f64,

    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, default_value_t = 60.0)]
    pub idle_timeout: f64,

    /// Seconds a request body may send nothing before the request ends with 408.
    #[arg(long, default_value_t = 10.0)]
    pub body_timeout: f64,

    /// Most connections open at once. Default (0): what the descriptor limit allows, less a reserve.
    #[arg(long, default_value_t = 0)]
    pub max_connections: usize,

    /// Days the call log keeps its rows; older ones are deleted a small batch at a time (the
    /// daily totals the console's charts read are kept for ever).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..))]
    pub call_log_days: u32,

    /// Serve Prometheus metrics at GET /metrics on this address (host:port). Default: off.
    #[arg(long, value_parser = listen_address)]
    pub metrics_listen: Option<SocketAddr>,

    /// Wrong passwords per client address (IPv6: /64) on the sign-in pages: that many at once,
    /// refilled evenly over the period (`10/min`, `30/15min`, `100/h`).
    #[arg(long, default_value = "10/min", value_parser = rate)]
    pub failed_sign_in_rate: Rate,

    /// Sign-ins and sign-ups per client address, successful or not: bounds the password hashing
    /// one address can ask for.
    #[arg(long, default_value = "120/min", value_parser = rate)]
    pub sign_in_rate: Rate,

    /// Token requests with an invalid, expired or reused code or refresh token, per client and
    /// address (a successful exchange or refresh costs nothing).
    #[arg(long, default_value = "300/min", value_parser = rate)]
    pub bad_grant_rate: Rate,

    /// Token and revocation requests with an unknown client or a wrong client secret, per address.
    #[arg(long, default_value = "60/min", value_parser = rate)]
    pub failed_client_auth_rate: Rate,

    /// Dynamic client registrations (RFC 7591) per client address.
    #[arg(long, default_value = "120/h", value_parser = rate)]
    pub registration_rate: Rate,

    /// Self-registered clients (RFC 7591, metadata documents) that never completed an
    /// authorization are kept up to this many; older ones beyond it are removed (never one
    /// registered in the last 15 minutes), and all of them after a day.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_unused_clients: u32,
}

/// A budget such as `10/min` (see `rate_limit::Rate`).
fn rate(text: &str) -> Result<Rate, String> {
    text.parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The limit of clients without one of their own. `usage` takes the same flags (and variables)
/// to show the limit in force.
#[derive(Debug, Clone, Copy, Args)]
pub struct DefaultLimit {
    /// API calls allowed per user and client when the client has no limit of its own.
    #[arg(long = "default-call-limit", default_value_t = DEFAULT_CALL_LIMIT)]
    pub limit: u64,

    /// The window of the default limit: a lifetime `total`, or per UTC `day` or `month`.
    #[arg(long = "default-call-window", value_enum, default_value_t = Window::Total)]
    pub window: Window,
}

/// When a write counts as done. Either way a call is answered only after its commit, and a crash
/// of gpt-todo itself loses nothing that was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Synchronous {
    /// The write-ahead log is fsynced before any call in the commit is answered, so an answered
    /// call also survives an OS crash or power loss.
    Full,
    /// No fsync per commit (only at checkpoints): an OS crash or power loss may undo the last
    /// commits, each whole (a todo never without its counter and log row), answered or not.
    Normal,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is asked for, or read from standard input.
    Add {
        /// The address the user signs in with.
        email: String,
        /// The name shown on the consent page.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Let the user open the operator console at /admin.
        #[arg(long)]
        admin: bool,
    },
    /// Let a user open the operator console at /admin (`on`), or no longer (`off`).
    SetAdmin {
        /// The user's email.
        email: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (asked for, or read from standard input); signs the user out of browsers.
    Passwd {
        /// The user's email.
        email: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop a user from signing in; their tokens stop working at once.
    Disable {
        /// The user's email.
        email: String,
    },
    /// Let a disabled user sign in again (their unexpired tokens work again).
    Enable {
        /// The user's email.
        email: String,
    },
    /// Delete a user with their todos, tokens and counters (the call log keeps its rows).
    Remove {
        /// The user's email.
        email: String,
    },
    /// Lift the sign-in lockout that too many wrong passwords started.
    Unlock {
        /// The user's email.
        email: String,
    },
    /// Give one user of a client a limit of their own (it beats the client's), or `none` to
    /// remove it.
    SetLimit {
        /// The user's email (or, in remote user-info mode, their user id).
        user: String,
        /// The client id the limit is for.
        #[arg(long)]
        client: String,
        /// A number of calls, or `none`.
        limit: String,
        /// The window the limit applies to: a lifetime `total`, or per UTC `day` or `month`.
        /// Default: the window in force (the user's own limit's, else the client's, else `total`).
        #[arg(long, value_enum)]
        per: Option<Window>,
        /// Confirm a limit of 0, which refuses every call.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and secret once, with what to paste into the GPT editor.
    Add {
        /// A name for the client, shown on the consent page; must be unique.
        name: String,
        /// An exact redirect URI the client may use (repeat, or comma-separate, for several).
        #[arg(long = "redirect-uri", required = true, value_delimiter = ',', value_parser = list_item)]
        redirect_uris: Vec<String>,
        /// API calls allowed per user of this client. Default: the server's default.
        #[arg(long)]
        call_limit: Option<u64>,
        /// The window of --call-limit: a lifetime `total`, or per UTC `day` or `month`.
        #[arg(long, value_enum, default_value_t = Window::Total, requires = "call_limit")]
        per: Window,
        /// A public client (no secret; must use PKCE S256).
        #[arg(long)]
        public: bool,
        /// The URL the server is reached at, to print the authorization and token URLs.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        public_url: String,
    },
    /// List clients.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a client's call limit: a number, or `none` for the server default.
    SetLimit {
        /// The client's id (gtc_…).
        client_id: String,
        /// Calls allowed per user, or `none`.
        limit: String,
        /// The window the limit applies to: a lifetime `total`, or per UTC `day` or `month`.
        /// Default: the client's window now (`total` for a client without a limit of its own).
        #[arg(long, value_enum)]
        per: Option<Window>,
        /// Confirm a limit of 0, which refuses every call.
        #[arg(long)]
        yes: bool,
    },
    /// Delete a client with its tokens and counters (the call log keeps its rows).
    Remove {
        /// The client's id (gtc_…).
        client_id: String,
    },
    /// Give a confidential client a new secret (printed once); the old one stops working.
    RotateSecret {
        /// The client's id (gtc_…).
        client_id: String,
    },
    /// Register one more exact redirect URI for a client.
    AddRedirectUri {
        /// The client's id (gtc_…).
        client_id: String,
        /// The redirect URI, exactly as the client sends it.
        uri: String,
    },
    /// Unregister one of a client's redirect URIs.
    RemoveRedirectUri {
        /// The client's id (gtc_…).
        client_id: String,
        /// The redirect URI to remove.
        uri: String,
    },
    /// Change the name the consent page shows for a client.
    Rename {
        /// The client's id (gtc_…).
        client_id: String,
        /// The new name; must be unique.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an access token for a user and client, and print it.
    Issue {
        /// The user's email.
        #[arg(long)]
        user: String,
        /// The client's id (gtc_…).
        #[arg(long)]
        client: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Bind the token to this resource (RFC 8707): `<public URL>/mcp` for the MCP endpoint.
        /// Without it the token is unbound, which the todo API takes and /mcp refuses.
        #[arg(long)]
        resource: Option<String>,
    },
    /// Revoke access and refresh tokens: a user's (of one client or of all), or with only
    /// --client every token of that client. Give --user, --client, or both.
    Revoke {
        /// Only the tokens of this user (their email).
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
        /// Only the tokens of this client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    #[command(subcommand)]
    pub action: Option<UsageAction>,
    /// Only this user (an email, or a user id of a remote user-info server).
    #[arg(long)]
    pub user: Option<String>,
    /// Only this client id.
    #[arg(long)]
    pub client: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The server's default limit, to show the limit in force for clients without their own.
    #[command(flatten)]
    pub default_limit: DefaultLimit,
}

#[derive(Debug, Subcommand)]
pub enum UsageAction {
    /// Reset a user's counters to zero, of one client or of all (the call log is kept).
    Reset {
        /// The user (an email, or a user id of a remote user-info server).
        #[arg(long)]
        user: String,
        /// Only the counter of this client id.
        #[arg(long)]
        client: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only calls of this user (an email, or a user id of a remote user-info server).
    #[arg(long)]
    pub user: Option<String>,
    /// Only calls of this client id.
    #[arg(long)]
    pub client: Option<String>,
    /// Only calls answered with this HTTP status: a code such as 429, or a class such as 4xx.
    #[arg(long)]
    pub status: Option<String>,
    /// Only calls whose path starts with this (`/api/todos` also finds `/api/todos/42`).
    #[arg(long)]
    pub path: Option<String>,
    /// Only calls at or after this UTC time (2026-11-30 or 2026-11-30T14:00).
    #[arg(long)]
    pub from: Option<String>,
    /// Only calls before this UTC time.
    #[arg(long)]
    pub to: Option<String>,
    /// How many calls to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The command tree, with the `GPT_TODO_*` variable of every configuration flag (see the module
/// documentation) and boolean variables that accept `1/0/true/false/yes/no`.
pub fn command() -> clap::Command {
    with_env_vars(Cli::command(), &setting_flags())
}

/// The configuration flags, read from their variables wherever they appear: `--db` and every flag
/// of `serve` (`usage --default-call-limit` and `client add --public-url` name the server's
/// settings too, so they read the same variables).
pub fn setting_flags() -> Vec<String> {
    let root = Cli::command();
    let serve = root.find_subcommand("serve").map(|serve| serve.get_arguments().filter_map(|arg| arg.get_long()));
    std::iter::once("db").chain(serve.into_iter().flatten()).map(str::to_owned).collect()
}

/// Parses the process's arguments (and variables); exits with clap's message when they are wrong.
pub fn parse() -> Cli {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Cli
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    command()
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .unwrap_or_else(|e| e.exit())
}

/// The variable a flag is read from: `--default-call-limit` is `GPT_TODO_DEFAULT_CALL_LIMIT`.
pub fn env_var_name(long: &str) -> String {
    format!("GPT_TODO_{}", long.to_uppercase().replace('-', "_"))
}

fn with_env_vars(command: clap::Command, settings: &[String]) -> clap::Command {
    command
        .mut_args(|arg| {
            let Some(long) = arg.get_long() else { return arg };
            if !settings.iter().any(|setting| setting == long) {
                return arg;
            }
            let name = env_var_name(long);
            let arg = if arg.get_env().is_none() { arg.env(name) } else { arg };
            // A flag's variable is a word people write in many ways, not only `true`.
            if matches!(arg.get_action(), ArgAction::SetTrue) {
                arg.value_parser(BoolishValueParser::new())
            } else {
                arg
            }
        })
        .mut_subcommands(|sub| with_env_vars(sub, settings))
}

/// One item of a comma-separated list, so `a, b` reads as `a` and `b`.
fn list_item(item: &str) -> Result<String, String> {
    Ok(item.trim().to_owned())
}

/// `host:port`, with `:port` for every interface (as Go and Caddy read it) and names such as
/// `localhost` resolved (IPv4 first).
pub fn listen_address(text: &str) -> Result<SocketAddr, String> {
    let refuse = || format!("'{text}' is not an address to listen on; use host:port, e.g. 127.0.0.1:8080 or :8080");
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Some(port) = text.strip_prefix(':') {
        let port = port.parse::<u16>().map_err(|_| refuse())?;
        return Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(refuse)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(refuse());
    }
    let mut addresses: Vec<SocketAddr> = text.to_socket_addrs().map_err(|e| format!("{}: {e}", refuse()))?.collect();
    addresses.sort_by_key(|address| !address.is_ipv4());
    addresses.into_iter().next().ok_or_else(refuse)
}

/// Writes command output to stdout. A reader that went away (`gpt-todo user list | head -1`,
/// `serve | head`) is not an error: the rest of the output is simply not wanted.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_host_port_names_and_bare_ports() {
        assert_eq!(listen_address("127.0.0.1:8080").unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(listen_address(":8080").unwrap(), "0.0.0.0:8080".parse().unwrap());
        assert_eq!(listen_address("localhost:8080").unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(listen_address("[::1]:9").unwrap(), "[::1]:9".parse().unwrap());
        for bad in ["8080", ":", ":http", "localhost", "localhost:99999", ""] {
            let error = listen_address(bad).unwrap_err();
            assert!(error.contains(":8080"), "{bad}: {error}");
        }
    }

    #[test]
    fn variables_are_named_after_their_flags() {
        assert_eq!(env_var_name("default-call-limit"), "GPT_TODO_DEFAULT_CALL_LIMIT");
        assert_eq!(env_var_name("db"), "GPT_TODO_DB");
    }
}
