//! The `gpt-todo` executable: parse the command line, start tracing, dispatch.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use gpt_todo::cli::{Cli, Command, ServeArgs};
use gpt_todo::config::Config;
use gpt_todo::db::DbError;
use gpt_todo::{AppState, admin, serve, with_public_url};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => Config::from_args(cli.db, &args).and_then(|config| run_server(config, &args)),
        command => admin::run(&cli.db, cli.create, command).map_err(|e| e.to_string()),
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
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        // Colour codes only for a person watching; a log file or journal gets plain lines.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let listener =
            TcpListener::bind(args.listen).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let config = with_public_url(config, &listener).map_err(|e| e.to_string())?;
        let db_path = config.db_path.display().to_string();
        let state = AppState::new(config).map_err(|e| match e {
            DbError::File(message) => message,
            other => format!("cannot open {db_path}: {other}"),
        })?;
        print_banner(&state, &listener);
        serve(listener, state, shutdown_signal()).await;
        println!("gpt-todo stopped; {db_path} is checkpointed.");
        Ok(())
    })
}

fn print_banner(state: &AppState, listener: &TcpListener) {
    let config = &state.config;
    let base = config.public_url();
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    println!("gpt-todo listening on http://{local} (database {})", config.db_path.display());
    match &config.userinfo_url {
        Some(url) => println!("Tokens are checked with the user-info server {url}"),
        None => println!("Tokens are checked against the built-in OAuth server"),
    }
    println!();
    println!("In the GPT editor (Configure → Actions):");
    println!("  Import the schema from   {base}/openapi.json");
    println!("  Authentication: OAuth    Authorization URL {base}/api/oauth2/authorize");
    println!("                           Token URL         {base}/api/oauth2/token");
    println!("  Client ID and secret:    gpt-todo client add \"My GPT\" --redirect-uri <the GPT's callback URL>");
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (service managers, `kill`).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
    tracing::info!("shutting down: finishing in-flight requests");
}
