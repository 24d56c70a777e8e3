//! Your own endpoint behind gpt-todo's chain: a small `notes` resource served beside the todo
//! API, with the same auth → quota → log as the todo routes. Every successful call counts once
//! against the caller's quota; at the limit the caller gets the same 429; every outcome is in
//! `api_calls` and `gpt-todo logs`.
//!
//! ```sh
//! cargo run --example notes -- --db notes.db --listen 127.0.0.1:8080
//! curl -X POST http://127.0.0.1:8080/api/notes -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"text":"hi"}'
//! curl http://127.0.0.1:8080/api/notes -H "Authorization: Bearer $TOKEN"
//! ```
//!
//! It takes every flag of `gpt-todo serve`; users, clients and tokens come from the `gpt-todo`
//! admin commands on the same `--db`.

use std::future::Future;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Parser;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use gpt_todo::chain::api_error::ApiError;
use gpt_todo::chain::outcome::Refusal;
use gpt_todo::chain::{Begun, OpError, call};
use gpt_todo::cli::args::ServeArgs;
use gpt_todo::cli::config::Config;
use gpt_todo::http::request::json_body;
use gpt_todo::store::{Commit, Location, Migration, Row};
use gpt_todo::{AppState, serve_with, with_public_url};

// ---- The endpoint: the table, the JSON, the routes and their two handlers. ----

/// The resource's own table, beside gpt-todo's, for each backend; recorded once applied, so
/// gpt-todo knows it for an extension's. Portable SQL: the time is written by the application
/// (no `strftime` default), and the id is the backend's own identity column. Every query is
/// scoped by the owner.
const MIGRATIONS: &[Migration] = &[Migration {
    name: "notes",
    version: 1,
    sqlite: "CREATE TABLE IF NOT EXISTS notes (
                 id         INTEGER PRIMARY KEY,
                 user_id    TEXT NOT NULL,
                 text       TEXT NOT NULL,
                 created_at TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS notes_by_user ON notes(user_id, id);",
    postgres: "CREATE TABLE IF NOT EXISTS notes (
                   id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                   user_id    TEXT NOT NULL,
                   text       TEXT NOT NULL,
                   created_at TEXT NOT NULL
               );
               CREATE INDEX IF NOT EXISTS notes_by_user ON notes(user_id, id);",
}];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Note {
    id: i64,
    text: String,
    created_at: String,
}

/// `{"text": "..."}`, 1 to 1000 characters; other fields are ignored.
#[derive(Deserialize)]
struct NewNote {
    text: String,
}

impl NewNote {
    fn parse(body: &[u8]) -> Result<NewNote, ApiError> {
        let note: NewNote = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(r#"The body must be {{"text": "<1 to 1000 characters>"}}: {e}"#))
        })?;
        match note.text.trim().chars().count() {
            1..=1000 => Ok(note),
            _ => Err(ApiError::bad_request("text must be 1 to 1000 characters")),
        }
    }
}

/// `POST /api/notes` → `201` with the note; `GET /api/notes` → the caller's notes, newest first.
fn notes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
    let call = call(state.clone());
    let create = warp::path!("api" / "notes")
        .and(warp::post())
        .and(warp::any().map(move || state.clone()))
        .and(call.clone())
        .and(json_body())
        .then(create_note);
    let list = warp::path!("api" / "notes").and(warp::get()).and(call).then(list_notes);
    create.or(list).unify().map(Reply::into_response)
}

/// Each handler reads begin (`call?`: a 401 is already logged) → parse (a bad body is refused,
/// logged, not counted) → run on the writer inside the quota → render.
async fn create_note(state: AppState, call: Begun, body: Result<Bytes, ApiError>) -> Result<Response, Refusal> {
    let call = call?.parse(body.and_then(|body| NewNote::parse(&body)));
    // The clock is read before the job: a job may run again, and must write the same.
    let now = state.config.clock.timestamp();
    let note = call
        .run(StatusCode::CREATED, move |tx, caller, note| {
            let insert =
                "INSERT INTO notes (user_id, text, created_at) VALUES ($1, $2, $3) RETURNING id, text, created_at";
            let params = [caller.user_id.as_str().into(), note.text.trim().into(), now.as_str().into()];
            let row =
                tx.query_one(insert, &params)?.ok_or(ApiError::internal("Failed to create the note", "no row"))?;
            Ok::<_, OpError>(note_from_row(&row))
        })
        .await?;
    Ok(note.json())
}

async fn list_notes(call: Begun) -> Result<Response, Refusal> {
    let notes = call?
        .run(StatusCode::OK, |tx, caller| {
            let select = "SELECT id, text, created_at FROM notes WHERE user_id = $1 ORDER BY id DESC LIMIT 100";
            let notes: Vec<Note> =
                tx.query(select, &[caller.user_id.as_str().into()])?.iter().map(note_from_row).collect();
            Ok::<_, OpError>(serde_json::json!({ "notes": notes }))
        })
        .await?;
    Ok(notes.json())
}

fn note_from_row(row: &Row) -> Note {
    let text = |i| row.text(i).unwrap_or_default().to_owned();
    Note { id: row.integer(0).unwrap_or_default(), text: text(1), created_at: text(2) }
}

// ---- Running it: gpt-todo's own server with the notes beside the todo API. ----

#[derive(Parser)]
#[command(about = "gpt-todo with a notes resource beside the todo API")]
struct Args {
    /// The database (an SQLite file, created and migrated if needed, or a postgres:// URL).
    #[arg(long, env = "GPT_TODO_DB", default_value = "./gpt-todo.db", hide_env_values = true)]
    db: Location,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let started = tokio::runtime::Runtime::new().map_err(|e| e.to_string()).and_then(|runtime| {
        runtime.block_on(async {
            let listener = TcpListener::bind(args.serve.listen).await.map_err(|e| e.to_string())?;
            let config = Config::from_args(args.db, &args.serve)?;
            run(listener, config, async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await
        })
    });
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the database, adds the notes table, and serves until `shutdown`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let config = with_public_url(config, &listener).map_err(|e| e.to_string())?;
    let state = AppState::new(config).map_err(|e| e.to_string())?;
    let migrated = state.store.write(Commit::OnOk, |tx| tx.apply_migrations(MIGRATIONS)).await;
    migrated.map_err(|e| e.to_string())?;
    println!("gpt-todo with notes listening on {}", state.config.public_url());
    serve_with(listener, state.clone(), notes(state), shutdown).await;
    Ok(())
}
