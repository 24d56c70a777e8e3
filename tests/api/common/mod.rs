//! The real server on 127.0.0.1:0 with a temporary database, and helpers to set up users,
//! clients and tokens the way an operator would. Quiet unless `TEST_LOG` is set.

pub mod process;
pub mod source_address;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::thread::JoinHandle;
use std::time::Duration;

use gpt_todo::cli::config::Config;
use gpt_todo::oauth::SCOPE;
use gpt_todo::oauth::client_rules::{NewClient, Registered, Registration};
use gpt_todo::store::{self, Tx, tokens};
use gpt_todo::support::clock::{Clock, unix_now};
use gpt_todo::support::ids::{ClientId, UserId};
use gpt_todo::{AppState, serve, store::sqlite as db, web::accounts as users, with_public_url};
use serde_json::Value;
use tokio::sync::oneshot;

pub struct TestServer {
    pub base: String,
    pub db_path: PathBuf,
    dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// Starts a server on a fresh database, after `configure` has adjusted the defaults.
    pub fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("test.db");
        let mut server = TestServer::start_on(&db_path, configure);
        server.dir = Some(dir);
        server
    }

    /// Starts a server on an existing database file (the caller keeps the directory alive).
    pub fn start_on(db_path: &Path, configure: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::start_app(db_path, configure, |listener, config, stop| async move {
            let config = with_public_url(config, &listener).unwrap();
            let state = AppState::new(config).expect("open the database");
            serve(listener, state, stop).await;
        })
    }

    /// Starts `app` (gpt-todo's own server, or one built on it such as `examples/notes.rs`) on
    /// 127.0.0.1:0 and an existing database file, which is migrated first so tests can set it up.
    pub fn start_app<App, Running>(db_path: &Path, configure: impl FnOnce(&mut Config), app: App) -> TestServer
    where
        App: FnOnce(tokio::net::TcpListener, Config, Pin<Box<dyn Future<Output = ()> + Send>>) -> Running
            + Send
            + 'static,
        Running: Future<Output = ()>,
    {
        init_test_log();
        db::migrate(&db::open_connection(db_path).expect("open the test database")).expect("migrate");
        let mut config = Config::for_database(db_path);
        configure(&mut config);
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                address_tx.send(listener.local_addr().unwrap()).unwrap();
                app(
                    listener,
                    config,
                    Box::pin(async {
                        let _ = stop.await;
                    }),
                )
                .await;
            });
        });
        let address = address_rx.recv_timeout(Duration::from_secs(30)).expect("the server did not start");
        TestServer {
            base: format!("http://{address}"),
            db_path: db_path.to_path_buf(),
            dir: None,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server gracefully and waits until it has.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread");
        }
    }

    /// A direct connection to the server's database file, as an operator's sqlite3 shell would have.
    pub fn sql(&self) -> rusqlite::Connection {
        db::open_connection(&self.db_path).expect("open the test database")
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql().query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    /// Adds a user with password `password123`; returns the user id.
    pub fn add_user(&self, email: &str) -> String {
        users::create(&Tx::sqlite_at(&self.sql(), &Clock::system()), email, "Test User", "password123")
            .expect("add user")
    }

    /// Adds a confidential client with an optional call limit; returns (client_id, client_secret).
    pub fn add_client(&self, call_limit: Option<u64>) -> (String, String) {
        let registered = register_client(
            &self.sql(),
            "Test GPT",
            &["https://chatgpt.com/aip/g-test/oauth/callback".to_string()],
            call_limit,
            false,
        )
        .expect("add client");
        (registered.client_id, registered.client_secret.unwrap())
    }

    /// Issues an access token the way `gpt-todo token issue` does.
    pub fn token(&self, user_id: &str, client_id: &str, ttl: Duration) -> String {
        self.token_with(user_id, client_id, ttl, None)
    }

    /// A one-hour token bound to `resource` (RFC 8707), as `token issue --resource` makes it.
    pub fn bound_token(&self, user_id: &str, client_id: &str, resource: Option<&str>) -> String {
        self.token_with(user_id, client_id, Duration::from_secs(3600), resource)
    }

    fn token_with(&self, user_id: &str, client_id: &str, ttl: Duration, resource: Option<&str>) -> String {
        let (user_id, client_id) = (UserId::new(user_id), ClientId::new(client_id));
        let grant = tokens::Grant {
            user_id: &user_id,
            client_id: &client_id,
            scope: SCOPE,
            family_id: "test",
            code_hash: None,
            resource,
        };
        issue_token(&self.sql(), &grant, ttl)
    }

    /// A one-hour token for the MCP endpoint.
    pub fn mcp_token(&self, user_id: &str, client_id: &str) -> String {
        self.bound_token(user_id, client_id, Some(&self.url("/mcp")))
    }

    /// A user, a client with `call_limit`, and a one-hour token: (user_id, client_id, token).
    pub fn caller(&self, email: &str, call_limit: Option<u64>) -> (String, String, String) {
        let user = self.add_user(email);
        let (client, _) = self.add_client(call_limit);
        let token = self.token(&user, &client, Duration::from_secs(3600));
        (user, client, token)
    }

    /// Runs the real `gpt-todo` binary against this server's database.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_on(&self.db_path, args, None)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the real binary with `--db db_path`, feeding `stdin` if given.
pub fn cli_on(db_path: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_cli(Command::new(env!("CARGO_BIN_EXE_gpt-todo")), db_path, args, stdin)
}

/// Runs `command` (the binary, or a shell that execs it) with `--db db_path` and `args`, feeding
/// `stdin` if given.
pub fn run_cli(mut command: Command, db_path: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    command.arg("--db").arg(db_path).args(args);
    output_of(command, stdin)
}

/// Runs `command` as it is set up, feeding `stdin` if given, and waits for its output.
pub fn output_of(mut command: Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run gpt-todo");
    if let Some(input) = stdin {
        // A command that fails on its arguments exits without reading its input: no error here.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("gpt-todo output")
}

/// A command for a tool a test needs from outside the project (caddy, sqlite3, fail2ban-regex,
/// systemd-analyze). When it is not installed the test fails saying what to install, never
/// passes without having run: scripts/test installs each of them with apt-get.
pub fn tool(program: &str, debian_package: &str) -> Command {
    let installed = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    assert!(
        installed,
        "this test needs `{program}`, which is not installed: `sudo apt-get install {debian_package}` \
         (Debian's package), or run scripts/test, which installs what the tests need"
    );
    Command::new(program)
}

/// An HTTP client that returns 4xx/5xx as responses, not errors.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A response reduced to what tests check: status, headers we care about, parsed JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_else(|| panic!("expected an error body, got {}", self.body))
    }
}

pub fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.expect("HTTP request failed");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, headers, body }
}

/// POSTs JSON text with a bearer token (or none).
pub fn post_json(url: &str, token: Option<&str>, body: &str) -> Reply {
    let mut request = http().post(url).header("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    reply(request.send(body))
}

pub fn get(url: &str, token: Option<&str>) -> Reply {
    let mut request = http().get(url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    reply(request.call())
}

fn init_test_log() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt().with_env_filter("info").with_test_writer().init();
        }
    });
}

/// Registers a client as `gpt-todo client add` does, on a connection of its own.
pub fn register_client(
    conn: &rusqlite::Connection,
    name: &str,
    redirect_uris: &[String],
    call_limit: Option<u64>,
    public: bool,
) -> Result<Registered, String> {
    let new = NewClient::prepare(Registration::Operator, name, redirect_uris, call_limit, public)?;
    store::clients::insert(&Tx::sqlite_at(conn, &gpt_todo::support::clock::Clock::system()), &new, unix_now())
        .map_err(|e| e.to_string())?;
    Ok(new.registered())
}

/// Records a client known by its metadata document, as the authorization pages do when they issue it a code.
pub fn remember_metadata_document(
    conn: &rusqlite::Connection,
    client_id: &str,
    name: &str,
    redirect_uris: &[String],
) -> Result<(), store::StoreError> {
    store::clients::remember_metadata_document(
        &Tx::sqlite_at(conn, &gpt_todo::support::clock::Clock::system()),
        client_id,
        name,
        redirect_uris,
        unix_now(),
    )
}

/// Issues an access token for `grant`, valid for `ttl`, as `gpt-todo token issue` does; returns it.
pub fn issue_token(conn: &rusqlite::Connection, grant: &tokens::Grant, ttl: Duration) -> String {
    let token = tokens::NewToken::new(tokens::Kind::Access);
    tokens::issue(
        &Tx::sqlite_at(conn, &gpt_todo::support::clock::Clock::system()),
        &token,
        grant,
        tokens::expires_at(unix_now(), ttl),
    )
    .expect("issue token");
    token.token
}
