//! The command line: `gpt-todo serve` and the admin commands. Every flag is also an environment
//! variable `GPT_TODO_<FLAG>`, so a service manager can configure the server without arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "gpt-todo",
    version,
    about = "A todo API for ChatGPT Actions, with its own OAuth server, in one SQLite file"
)]
pub struct Cli {
    /// The SQLite database file; created and migrated if needed.
    #[arg(long, env = "GPT_TODO_DB", default_value = "./gpt-todo.db", global = true)]
    pub db: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Manage the people who can sign in.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients (one per GPT).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Issue access tokens by hand, for testing with curl.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show the per-user-per-client API call counters.
    Usage(UsageArgs),
    /// Show the API call log, newest first.
    Logs(LogsArgs),
    /// Write a consistent copy of the database while the server runs.
    Backup {
        /// Where to write the copy; must not exist yet.
        path: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GPT_TODO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The URL clients reach this server at (e.g. your tunnel's https URL). Default: the listen address.
    #[arg(long, env = "GPT_TODO_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Resolve bearer tokens by asking this user-info endpoint instead of the built-in token store.
    #[arg(long, env = "GPT_TODO_USERINFO_URL")]
    pub userinfo_url: Option<String>,

    /// Client id for remote user-info answers that name none.
    #[arg(long, env = "GPT_TODO_DEFAULT_CLIENT_ID")]
    pub default_client_id: Option<String>,

    /// API calls allowed per user and client when the client has no limit of its own.
    #[arg(long, env = "GPT_TODO_DEFAULT_CALL_LIMIT", default_value_t = 1000)]
    pub default_call_limit: u64,

    /// Let new people create an account on the login page.
    #[arg(long, env = "GPT_TODO_ALLOW_SIGNUP")]
    pub allow_signup: bool,

    /// Browser origins allowed by CORS (repeat, or comma-separate in the variable). Default: any.
    #[arg(long, env = "GPT_TODO_CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "GPT_TODO_ACCESS_TOKEN_TTL", default_value_t = 3600)]
    pub access_token_ttl: u64,

    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "GPT_TODO_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u64,

    /// How long a good remote user-info answer is reused, in seconds.
    #[arg(long, env = "GPT_TODO_USERINFO_CACHE_TTL", default_value_t = 60)]
    pub userinfo_cache_ttl: u64,

    /// Refuse RFC 7591 dynamic client registration (POST /api/oauth2/register); MCP clients then
    /// need a Client ID Metadata Document or a client made with `client add`.
    #[arg(long, env = "GPT_TODO_NO_DYNAMIC_REGISTRATION")]
    pub no_dynamic_registration: bool,

    /// Refuse clients identified by the https URL of a Client ID Metadata Document.
    #[arg(long, env = "GPT_TODO_NO_CLIENT_METADATA_DOCUMENTS")]
    pub no_client_metadata_documents: bool,

    /// FOR TESTS ONLY: fetch Client ID Metadata Documents over plain http and from loopback and
    /// private addresses, which is otherwise refused (a client id URL could make the server probe
    /// its own network).
    #[arg(long, env = "GPT_TODO_TEST_ALLOW_PRIVATE_CLIENT_METADATA", hide = true)]
    pub test_allow_private_client_metadata: bool,

    /// `full`: every answered call survives power loss (an fsync per group commit). `normal`:
    /// it survives a crash of gpt-todo, but power loss may undo the last moments' calls.
    #[arg(long, env = "GPT_TODO_SYNCHRONOUS", value_enum, default_value_t = Synchronous::Full)]
    pub synchronous: Synchronous,
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
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and secret once, with what to paste into the GPT editor.
    Add {
        name: String,
        /// An exact redirect URI the client may use (repeat for several).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// API calls allowed per user of this client. Default: the server's default.
        #[arg(long)]
        call_limit: Option<u64>,
        /// A public client (no secret; must use PKCE S256).
        #[arg(long)]
        public: bool,
        /// The URL the server is reached at, to print the authorization and token URLs.
        #[arg(long, env = "GPT_TODO_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
    },
    /// List clients.
    List,
    /// Change a client's call limit: a number, or `none` for the server default.
    SetLimit { client_id: String, limit: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an access token for a user and client, and print it.
    Issue {
        #[arg(long)]
        user: String,
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
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub client: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub client: Option<String>,
    #[arg(long)]
    pub status: Option<u16>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}
