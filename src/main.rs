//! The `gpt-todo` executable: parse the command line, start tracing, dispatch.

use std::io::IsTerminal;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use gpt_todo::cli::args::{self as cli, Command, LogFormat, ServeArgs};
use gpt_todo::cli::config::{self, Config};
use gpt_todo::oauth::endpoints::EndpointUrls;
use gpt_todo::store::Location;
use gpt_todo::{AppState, cli::commands as admin, http::metrics, serve, with_public_url};

fn main() -> ExitCode {
    let cli = cli::parse();
    let result = match cli.command {
        Command::Serve(args) => Config::from_args(cli.db, &args).and_then(|config| run_server(config, &args)),
        command => {
            admin::run(&cli.db, cli.create, command).map(|output| cli::print(&output)).map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(config: Config, args: &ServeArgs) -> Result<(), String> {
    start_logging(args.log_format);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    let served = runtime.block_on(async {
        let listener =
            TcpListener::bind(args.listen).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        for warning in
            config::startup_warnings(config.public_url.as_deref(), listener.local_addr().unwrap_or(args.listen))
        {
            tracing::warn!("{warning}");
        }
        let config = with_public_url(config, &listener).map_err(|e| e.to_string())?;
        let db = config.db.clone();
        let state = AppState::new(config)?;
        let shutdown = shutdown_signal();
        print_banner(&state, &listener);
        let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        if let Some(address) = state.config.metrics_listen {
            let metrics_listener = metrics::bind(address).await?;
            let local = metrics_listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            cli::print(&format!("Prometheus metrics at http://{local}/metrics\n"));
            let stopped = async {
                let _ = metrics_stopped.await;
            };
            let (db_file, limits) = (state.config.db.sqlite_path().map(Into::into), state.config.limits);
            tokio::spawn(metrics::serve(metrics_listener, db_file, limits, stopped));
        }
        serve(listener, state, shutdown).await;
        let _ = stop_metrics.send(());
        Ok::<_, String>(db)
    });
    // Dropping the runtime drops every task, and with the last one the database's last handle,
    // whose drop waits until every connection is closed: only then are -wal and -shm gone.
    drop(runtime);
    match served? {
        Location::Sqlite(path) => cli::print(&format!(
            "gpt-todo stopped; {} is checkpointed, one self-contained file again.\n",
            path.display()
        )),
        Location::Postgres(_) => cli::print("gpt-todo stopped.\n"),
    }
    Ok(())
}

/// Log lines on stderr, filtered by `RUST_LOG` (default `info`): text (coloured only for a person
/// watching; a file or the journal gets plain lines), or one JSON object per line.
fn start_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => lines.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => lines.json().flatten_event(true).init(),
    }
}

/// Where the server is, and the exact `--db` and `--public-url` to give the admin commands.
fn print_banner(state: &AppState, listener: &TcpListener) {
    let config = &state.config;
    let base = config.public_url();
    let urls = EndpointUrls::under(base);
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    // Display redacts a PostgreSQL password: the banner shows `user:***@host`.
    let db = shell_word(&config.db.to_string());
    let auth = match &config.userinfo_url {
        Some(url) => format!("the user-info server {url}"),
        None => "the built-in OAuth server".to_owned(),
    };
    cli::print(&format!(
        "gpt-todo listening on http://{local} (version {version})\n\
         \x20 Database:    {db}\n\
         \x20 Public URL:  {base}\n\
         \x20 Tokens:      checked by {auth}\n\n\
         In the GPT editor (Configure → Actions):\n\
         \x20 Import the schema from   {base}/openapi.json\n\
         \x20 Authentication: OAuth    Authorization URL {authorize}\n\
         \x20                          Token URL         {token}\n\
         \x20 Client ID and secret:    gpt-todo --db {db} client add \"My GPT\" --public-url {base} \\\n\
         \x20                            --redirect-uri <the GPT's callback URL>\n",
        version = env!("CARGO_PKG_VERSION"),
        authorize = urls.authorize,
        token = urls.token,
    ));
}

/// `text` as one shell word: quoted when it holds anything a shell would read specially.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (service managers, `kill`). The handlers are installed
/// when this is called, not when the future is first polled, so a signal that comes right after
/// the banner still stops the server cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => tokio::signal::ctrl_c().await.unwrap_or(()),
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
