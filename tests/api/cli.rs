//! The admin commands and `serve`, run as the real binary against a temp database file.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{TestServer, cli_on, post_json};

pub(crate) fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "expected success, got {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A failed command exits non-zero with one line on stderr, which must mention `mentions`.
pub(crate) fn fails(output: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "expected failure, got success: {}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(stderr.trim().lines().count(), 1, "one-line error expected, got {stderr:?}");
    assert!(stderr.contains(mentions), "error should mention {mentions:?}: {stderr:?}");
}

pub(crate) fn field<'a>(output: &'a str, label: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label} in {output}"))
}

#[test]
fn users_clients_tokens_usage_logs_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let run = |args: &[&str]| cli_on(&db, args, None);

    ok(&cli_on(&db, &["user", "add", "Ann@Example.com", "--name", "Ann", "--password-stdin"], Some("long enough\n")));
    fails(
        &cli_on(&db, &["user", "add", "ann@example.com", "--password-stdin"], Some("long enough\n")),
        "already exists",
    );
    fails(&cli_on(&db, &["user", "add", "not-an-email", "--password-stdin"], Some("long enough\n")), "not an email");
    fails(&cli_on(&db, &["user", "add", "b@example.com", "--password-stdin"], Some("short\n")), "at least 8");
    assert!(ok(&run(&["user", "list"])).contains("Ann@Example.com"));

    let added = ok(&run(&["client", "add", "My GPT", "--redirect-uri", "https://chatgpt.com/aip/g-1/oauth/callback"]));
    let client_id = field(&added, "Client ID:").to_string();
    let secret = field(&added, "Client Secret:").split_whitespace().next().unwrap().to_string();
    assert!(client_id.starts_with("gtc_") && secret.starts_with("gts_"), "{added}");
    for label in ["Authorization URL:", "Token URL:", "Scope:", "Token Exchange Method:"] {
        field(&added, label);
    }
    fails(&run(&["client", "add", "Bad", "--redirect-uri", "ftp://example.com/cb"]), "redirect URI");
    let listed = ok(&run(&["client", "list"]));
    assert!(listed.contains(&client_id) && !listed.contains(&secret), "list shows ids, never secrets: {listed}");

    ok(&run(&["client", "set-limit", &client_id, "2"]));
    fails(&run(&["client", "set-limit", &client_id, "lots"]), "not a whole number");
    fails(&run(&["client", "set-limit", "gtc_nope", "5"]), "no client");

    fails(&run(&["token", "issue", "--user", "nobody@example.com", "--client", &client_id]), "no user");
    fails(&run(&["token", "issue", "--user", "ann@example.com", "--client", "gtc_nope"]), "no client");
    let token = ok(&run(&["token", "issue", "--user", "ann@example.com", "--client", &client_id])).trim().to_string();
    assert!(token.starts_with("gta_"));

    let mut server = TestServer::start_on(&db, |_| {});
    let statuses: Vec<u16> =
        (0..3).map(|_| post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"cli"}"#).status).collect();
    assert_eq!(statuses, [200, 200, 429], "set-limit 2 takes effect on the running server");

    let usage: serde_json::Value = serde_json::from_str(&ok(&run(&["usage", "--json"]))).unwrap();
    assert_eq!(usage[0]["count"], 2);
    assert_eq!(usage[0]["email"], "Ann@Example.com");
    let logs: serde_json::Value =
        serde_json::from_str(&ok(&run(&["logs", "--user", "ann@example.com", "--json"]))).unwrap();
    assert_eq!(logs.as_array().unwrap().len(), 3);
    assert_eq!(logs[0]["status"], 429, "newest first");
    fails(&run(&["logs", "--user", "nobody@example.com"]), "no user");
    fails(&run(&["usage", "--user", "nobody@example.com"]), "no user");
    let only_429: serde_json::Value = serde_json::from_str(&ok(&run(&["logs", "--status", "429", "--json"]))).unwrap();
    assert_eq!(only_429.as_array().unwrap().len(), 1);
    let table = ok(&run(&["logs", "--limit", "1"]));
    assert_eq!(table.lines().count(), 2, "header and one row: {table}");
    assert!(!table.contains(&token));

    let copy = dir.path().join("copy.db");
    ok(&run(&["backup", copy.to_str().unwrap()]));
    fails(&run(&["backup", copy.to_str().unwrap()]), "already exists");
    server.stop();
    let copied = cli_on(&copy, &["usage", "--json"], None);
    assert!(ok(&copied).contains("\"count\": 2"), "the backup holds the live data");
}

#[test]
fn a_bad_database_path_is_a_one_line_error() {
    let missing = Path::new("/nonexistent-dir/x.db");
    fails(&cli_on(missing, &["user", "list"], None), "/nonexistent-dir/x.db: no gpt-todo database here");
    fails(
        &cli_on(missing, &["user", "add", "a@example.com", "--password-stdin"], Some("long enough\n")),
        "cannot create",
    );
}

/// Starts `gpt-todo serve` on port 0 and returns the child and its address.
pub(crate) fn spawn_serve(db: &Path) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .args(["--db", db.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let address = first.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_string();
    std::thread::spawn(move || lines.for_each(drop));
    (child, address)
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    ok(&cli_on(&db, &["user", "add", "sig@example.com", "--password-stdin"], Some("long enough\n")));
    let added =
        ok(&cli_on(&db, &["client", "add", "G", "--redirect-uri", "https://chatgpt.com/aip/g/oauth/callback"], None));
    let token = ok(&cli_on(
        &db,
        &["token", "issue", "--user", "sig@example.com", "--client", field(&added, "Client ID:")],
        None,
    ));
    let (mut child, address) = spawn_serve(&db);

    // Send the head of a request, then SIGTERM, then the body: the request is in flight.
    let body = r#"{"title":"finished after SIGTERM"}"#;
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /api/todo-demo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        token.trim(),
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = String::new();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200"), "in-flight request must finish: {response:?}");
    drop(stream);

    let status = child.wait().unwrap();
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status:?}");
    for leftover in ["serve.db-wal", "serve.db-shm"] {
        assert!(!dir.path().join(leftover).exists(), "{leftover} is gone after a clean stop");
    }
    let conn = gpt_todo::store::sqlite::open_connection(&db).unwrap();
    let titles: i64 =
        conn.query_row("SELECT count(*) FROM todos WHERE title = 'finished after SIGTERM'", [], |r| r.get(0)).unwrap();
    assert_eq!(titles, 1);
}

/// SQLite removes `-wal` and `-shm` when the last connection closes: every connection (readers,
/// writer, checkpointer) must be closed before the process exits, at every stop, not most.
#[test]
fn every_clean_stop_leaves_one_self_contained_file() {
    const STOPS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stops.db");
    ok(&cli_on(&db, &["user", "add", "stop@example.com", "--password-stdin"], Some("long enough\n")));
    let added =
        ok(&cli_on(&db, &["client", "add", "G", "--redirect-uri", "https://chatgpt.com/aip/g/oauth/callback"], None));
    let client_id = field(&added, "Client ID:").to_owned();
    let token = ok(&cli_on(&db, &["token", "issue", "--user", "stop@example.com", "--client", &client_id], None));
    let mut left = Vec::new();
    for stop in 0..STOPS {
        let (mut child, address) = spawn_serve(&db);
        for _ in 0..3 {
            let created = post_json(&format!("http://{address}/api/todo-demo"), Some(token.trim()), r#"{"title":"t"}"#);
            assert_eq!(created.status, 200);
        }
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        assert!(child.wait().unwrap().success());
        let files: Vec<&str> =
            ["stops.db-wal", "stops.db-shm"].into_iter().filter(|f| dir.path().join(f).exists()).collect();
        if !files.is_empty() {
            left.push(format!("stop {stop}: {files:?}"));
        }
    }
    assert!(left.is_empty(), "left behind after {} of {STOPS} clean stops: {left:?}", left.len());

    // The same for the server in a process of its own (tests, examples/notes.rs): once it has stopped.
    for _ in 0..5 {
        let mut server = TestServer::start_on(&db, |_| {});
        assert_eq!(post_json(&server.url("/api/todo-demo"), Some(token.trim()), r#"{"title":"t"}"#).status, 200);
        server.stop();
        assert!(!dir.path().join("stops.db-wal").exists() && !dir.path().join("stops.db-shm").exists());
    }
}

/// Every argument and command says what it is for; every configuration flag has its
/// `GPT_TODO_*` variable, and no other flag has one (issue 23: filters are not configuration).
#[test]
fn configuration_flags_have_a_variable_and_every_argument_a_help_line() {
    fn walk(command: &clap::Command, path: &str, settings: &[String], problems: &mut Vec<String>) {
        let path = format!("{path} {}", command.get_name()).trim().to_owned();
        if command.get_about().is_none_or(|about| about.to_string().trim().is_empty()) {
            problems.push(format!("`{path}` has no help line"));
        }
        for arg in command.get_arguments() {
            if matches!(arg.get_action(), clap::ArgAction::Help | clap::ArgAction::Version) {
                continue;
            }
            let name = arg.get_long().map_or_else(|| format!("<{}>", arg.get_id()), |long| format!("--{long}"));
            if arg.get_help().is_none_or(|help| help.to_string().trim().is_empty()) {
                problems.push(format!("`{path} {name}` has no help line"));
            }
            if let Some(long) = arg.get_long() {
                let expected = gpt_todo::cli::args::env_var_name(long);
                let got = arg.get_env().and_then(|e| e.to_str());
                match settings.iter().any(|s| s == long) {
                    true if got != Some(expected.as_str()) => {
                        problems.push(format!("`{path} {name}` is configuration, not read from {expected} ({got:?})"))
                    }
                    false if got.is_some() => {
                        problems.push(format!("`{path} {name}` is not configuration, yet read from {got:?}"))
                    }
                    _ => {}
                }
            }
        }
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, &path, settings, problems);
        }
    }
    let settings = gpt_todo::cli::args::setting_flags();
    assert!(settings.iter().any(|s| s == "db") && settings.iter().any(|s| s == "public-url"), "{settings:?}");
    assert!(!settings.iter().any(|s| s == "create" || s == "user" || s == "limit"), "{settings:?}");
    let mut command = gpt_todo::cli::args::command();
    command.build();
    let mut problems = Vec::new();
    walk(&command, "", &settings, &mut problems);
    assert!(problems.is_empty(), "expected help lines, and variables for configuration only:\n{}", problems.join("\n"));
}

#[test]
fn one_commands_arguments_are_not_read_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("env.db");
    ok(&cli_on(&db, &["user", "add", "env@example.com", "--password-stdin"], Some("long enough\n")));
    let run = |args: &[&str], vars: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gpt-todo"));
        command.args(args).env("GPT_TODO_DB", &db);
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let without_uri = run(&["client", "add", "Two"], &[("GPT_TODO_REDIRECT_URI", "https://a.example/cb")]);
    assert!(!without_uri.status.success(), "--redirect-uri is this command's argument, not configuration");
    let added =
        ok(&run(&["client", "add", "Two", "--redirect-uri", "https://a.example/cb, https://b.example/cb"], &[]));
    let client_id = field(&added, "Client ID:").to_owned();
    let listed = json(&run(&["client", "list", "--json"], &[]));
    let two = listed.as_array().unwrap().iter().find(|c| c["clientId"] == client_id.as_str()).unwrap();
    assert_eq!(two["redirectUris"], serde_json::json!(["https://a.example/cb", "https://b.example/cb"]));
    let table = ok(&run(&["user", "list"], &[("GPT_TODO_JSON", "yes")]));
    assert!(table.starts_with("ID"), "GPT_TODO_JSON is not read: {table}");
    let no_user = run(&["token", "issue", "--client", &client_id], &[("GPT_TODO_USER", "env@example.com")]);
    assert!(!no_user.status.success(), "token issue does not take --user from GPT_TODO_USER");
}

#[test]
fn a_reader_that_goes_away_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pipe.db");
    ok(&cli_on(&db, &["user", "add", "pipe@example.com", "--password-stdin"], Some("long enough\n")));
    // `gpt-todo user list | head -0`: the pipe is closed before the command writes.
    let closed_stdout = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let listed = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .args(["--db", db.to_str().unwrap(), "user", "list"])
        .stdout(closed_stdout())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(listed.status.success() && stderr.is_empty(), "expected a quiet exit, got {:?}: {stderr}", listed.status);

    // `gpt-todo serve | head`: the server keeps serving and stops cleanly.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .args(["--db", db.to_str().unwrap(), "serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(closed_stdout())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        common::http().get(&healthz).call().is_ok_and(|r| r.status() == 200)
    });
    assert!(Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap().success());
    let output = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(up, "the server answered /healthz with its stdout closed: {stderr}");
    assert!(
        output.status.success() && !stderr.contains("panicked"),
        "clean stop expected: {:?} {stderr}",
        output.status
    );
}

#[test]
fn listen_takes_a_bare_port_for_every_interface() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .args(["--db", dir.path().join("l.db").to_str().unwrap(), "serve", "--listen", ":0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first.contains("listening on http://0.0.0.0:"), "`:0` listens on every interface: {first}");
}

#[test]
fn without_a_terminal_the_password_prompt_points_to_password_stdin_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("never.db");
    // setsid: a new session has no controlling terminal, as under cron or a pipe in CI.
    let output = Command::new("setsid")
        .args(["--wait", env!("CARGO_BIN_EXE_gpt-todo"), "--db", db.to_str().unwrap(), "user", "add", "a@example.com"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    fails(&output, "--password-stdin");
    assert!(!db.exists(), "no database is created by a command that could not run");
}

/// Starts `serve` with `args` in `dir`, reads its banner, stops it: (banner, stderr).
fn serve_briefly(dir: &Path, args: &[&str]) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .arg("serve")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("--redirect-uri") {
            break;
        }
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "serve stops cleanly: {banner}");
    (banner, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn public_url_must_be_an_absolute_http_url() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["todo.example.com", "ftp://x", "", "https://todo.example.com/?a=1", "https://todo.example.com/#f"] {
        let output = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
            .args(["serve", "--listen", "127.0.0.1:0", "--public-url", bad])
            .current_dir(dir.path())
            .output()
            .unwrap();
        fails(&output, "--public-url");
    }
    assert!(!dir.path().join("gpt-todo.db").exists(), "a refused start creates no database");
}

#[test]
fn the_banner_names_version_absolute_database_and_public_url_and_warns_about_unusable_urls() {
    let dir = tempfile::tempdir().unwrap();
    let (banner, stderr) = serve_briefly(
        dir.path(),
        &["--db", "rel.db", "--listen", "127.0.0.1:0", "--public-url", "https://todo.example.com/"],
    );
    let absolute = dir.path().join("rel.db");
    assert!(banner.contains(&format!("(version {})", env!("CARGO_PKG_VERSION"))), "{banner}");
    assert!(banner.contains(&format!("--db {} client add", absolute.display())), "{banner}");
    assert!(banner.contains("--public-url https://todo.example.com "), "{banner}");
    assert!(!stderr.contains("WARN"), "nothing to warn about: {stderr}");

    let (banner, stderr) = serve_briefly(dir.path(), &["--listen", "0.0.0.0:0"]);
    assert!(banner.contains("http://0.0.0.0:"), "{banner}");
    assert!(stderr.contains("WARN") && stderr.contains("without --public-url"), "{stderr}");

    let (_, stderr) =
        serve_briefly(dir.path(), &["--listen", "127.0.0.1:0", "--public-url", "http://todo.example.com"]);
    assert!(stderr.contains("WARN") && stderr.contains("plain http"), "{stderr}");
}

pub(crate) fn json(output: &Output) -> serde_json::Value {
    let text = ok(output);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("expected JSON ({e}): {text}"))
}

#[test]
fn operators_manage_users_after_day_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("manage.db");
    let run = |args: &[&str]| cli_on(&db, args, None);
    ok(&cli_on(&db, &["user", "add", "ann@example.com", "--password-stdin"], Some("long enough\n")));
    ok(&cli_on(&db, &["user", "add", "bob@example.com", "--password-stdin"], Some("long enough\n")));
    let added = ok(&run(&["client", "add", "G", "--redirect-uri", "https://chatgpt.com/aip/g/oauth/callback"]));
    let client_id = field(&added, "Client ID:").to_owned();
    let token = ok(&run(&["token", "issue", "--user", "ann@example.com", "--client", &client_id])).trim().to_owned();
    let server = TestServer::start_on(&db, |_| {});
    let todos = || common::get(&server.url("/api/todos"), Some(&token)).status;
    assert_eq!(post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"kept?"}"#).status, 200);

    ok(&run(&["user", "disable", "ann@example.com"]));
    assert_eq!(todos(), 401, "a disabled user's token stops working at once");
    assert_eq!(common::get(&server.url("/api/oauth2/userinfo"), Some(&token)).status, 401);
    let users = json(&run(&["user", "list", "--json"]));
    let ann = users.as_array().unwrap().iter().find(|u| u["email"] == "ann@example.com").unwrap();
    assert!(ann["disabledAt"].is_string(), "user list shows the disabled user: {users}");
    assert!(ok(&run(&["user", "list"])).lines().next().unwrap().contains("DISABLED AT"));
    ok(&run(&["user", "enable", "ann@example.com"]));
    assert_eq!(todos(), 200, "enabled again, the token works again");

    fails(&cli_on(&db, &["user", "passwd", "ann@example.com", "--password-stdin"], Some("short\n")), "at least 8");
    fails(
        &cli_on(&db, &["user", "passwd", "nobody@example.com", "--password-stdin"], Some("long enough 2\n")),
        "no user",
    );
    ok(&cli_on(&db, &["user", "passwd", "ann@example.com", "--password-stdin"], Some("a new long one\n")));
    fails(&run(&["user", "unlock", "nobody@example.com"]), "no user");
    ok(&run(&["user", "unlock", "ann@example.com"]));

    let usage = json(&run(&["usage", "--json", "--user", "ann@example.com"]));
    assert_eq!((usage[0]["count"].as_i64(), usage[0]["limit"].as_i64()), (Some(2), Some(1000)), "{usage}");
    assert!(ok(&run(&["usage", "reset", "--user", "ann@example.com", "--client", &client_id])).contains("Reset 1"));
    assert_eq!(json(&run(&["usage", "--json", "--user", "ann@example.com"])), serde_json::json!([]));

    let revoked = ok(&run(&["token", "revoke", "--user", "ann@example.com", "--client", &client_id]));
    assert!(revoked.contains("Revoked 1 token of"), "{revoked}");
    assert_eq!(todos(), 401, "a revoked token stops working");
    fails(&run(&["token", "revoke", "--user", "ann@example.com", "--client", "gtc_nope"]), "no client");

    let logged_before = server.count("SELECT count(*) FROM api_calls WHERE user_id IS NOT NULL");
    let removed = ok(&run(&["user", "remove", "ann@example.com"]));
    assert!(removed.contains("with 1 todo;"), "{removed}");
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0, "the user's todos go with them");
    assert_eq!(server.count("SELECT count(*) FROM users WHERE email = 'ann@example.com'"), 0);
    assert_eq!(server.count("SELECT count(*) FROM oauth_tokens"), 0);
    let logged_after = server.count("SELECT count(*) FROM api_calls WHERE user_id IS NOT NULL");
    assert_eq!(logged_after, logged_before, "the call log keeps the removed user's rows, with their id");
    fails(&run(&["user", "remove", "ann@example.com"]), "no user");
    let users = json(&run(&["user", "list", "--json"]));
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
}

#[test]
fn operators_manage_clients_after_day_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("clients.db");
    let run = |args: &[&str]| cli_on(&db, args, None);
    let first = "https://chatgpt.com/aip/g-1/oauth/callback";
    let added = ok(&run(&["client", "add", "My GPT", "--redirect-uri", first]));
    let client_id = field(&added, "Client ID:").to_owned();
    let old_secret = field(&added, "Client Secret:").split_whitespace().next().unwrap().to_owned();
    fails(&run(&["client", "add", " my gpt ", "--redirect-uri", first]), "already exists");
    let other = ok(&run(&["client", "add", "Other", "--redirect-uri", first, "--public"]));
    let other_id = field(&other, "Client ID:").to_owned();
    fails(&run(&["client", "rename", &other_id, "MY GPT"]), "already exists");
    ok(&run(&["client", "rename", &other_id, "Renamed"]));
    fails(&run(&["client", "rotate-secret", &other_id]), "public client");

    let second = "https://chat.openai.com/aip/g-1/oauth/callback";
    ok(&run(&["client", "add-redirect-uri", &client_id, second]));
    fails(&run(&["client", "add-redirect-uri", &client_id, second]), "already registered");
    fails(&run(&["client", "add-redirect-uri", &client_id, "http://evil.example/cb"]), "redirect URI");
    let listed = json(&run(&["client", "list", "--json"]));
    let mine = listed.as_array().unwrap().iter().find(|c| c["clientId"] == client_id.as_str()).unwrap();
    assert_eq!(mine["redirectUris"], serde_json::json!([first, second]), "{listed}");
    assert_eq!((mine["name"].as_str(), mine["type"].as_str()), (Some("My GPT"), Some("confidential")));
    assert!(listed.as_array().unwrap().iter().any(|c| c["name"] == "Renamed" && c["type"] == "public"));
    ok(&run(&["client", "remove-redirect-uri", &client_id, first]));
    fails(&run(&["client", "remove-redirect-uri", &client_id, second]), "only redirect URI");
    fails(&run(&["client", "remove-redirect-uri", &client_id, first]), "not registered");

    ok(&cli_on(&db, &["user", "add", "ann@example.com", "--password-stdin"], Some("long enough\n")));
    let token = ok(&run(&["token", "issue", "--user", "ann@example.com", "--client", &client_id])).trim().to_owned();
    let server = TestServer::start_on(&db, |_| {});
    let revoke_with = |secret: &str| {
        common::reply(common::http().post(server.url("/api/oauth2/revoke")).send_form([
            ("token", "gta_unknown"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret),
        ]))
        .status
    };
    assert_eq!(revoke_with(&old_secret), 200);
    let rotated = ok(&run(&["client", "rotate-secret", &client_id]));
    let new_secret = field(&rotated, "Client Secret:").to_owned();
    assert!(new_secret.starts_with("gts_") && new_secret != old_secret, "{rotated}");
    assert_eq!(revoke_with(&old_secret), 401, "the old secret stops working");
    assert_eq!(revoke_with(&new_secret), 200, "the new one works");

    assert_eq!(post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"x"}"#).status, 200);
    ok(&run(&["client", "remove", &client_id]));
    assert_eq!(post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"x"}"#).status, 401);
    assert_eq!(server.count("SELECT count(*) FROM api_usage"), 0, "its counters go with it");
    assert_eq!(server.count("SELECT count(*) FROM api_calls"), 2, "the log keeps both calls");
    fails(&run(&["client", "remove", &client_id]), "no client");
    assert!(!ok(&run(&["client", "list"])).contains(&client_id));
}

#[test]
fn an_older_binary_refuses_a_database_a_newer_one_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("newer.db");
    ok(&cli_on(&db, &["--create", "user", "list"], None));
    let conn = gpt_todo::store::sqlite::open_connection(&db).unwrap();
    conn.execute_batch("PRAGMA user_version = 999").unwrap();
    drop(conn);
    fails(&cli_on(&db, &["user", "list"], None), "downgrades are not supported");
    let serve = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .args(["--db", db.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    fails(&serve, "newer than this gpt-todo");
}

/// Runs the real binary under `umask 022` (a common default), as an operator's shell would.
fn cli_umask_022(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(r#"umask 022 && exec "$0" "$@""#).arg(env!("CARGO_BIN_EXE_gpt-todo"));
    common::run_cli(shell, db, args, stdin)
}

#[cfg(unix)]
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[test]
#[cfg(unix)]
fn only_the_commands_that_add_to_it_create_a_database_and_only_for_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    let copy = dir.path().join("copy.db");
    for args in [
        vec!["user", "list"],
        vec!["client", "list"],
        vec!["usage"],
        vec!["logs"],
        vec!["backup", copy.to_str().unwrap()],
        vec!["client", "set-limit", "gtc_x", "5"],
        vec!["token", "issue", "--user", "a@example.com", "--client", "gtc_x"],
    ] {
        let output = cli_umask_022(&db, &args, None);
        fails(&output, &format!("{}: no gpt-todo database here", db.display()));
        assert!(!db.exists(), "`{}` must not create {}", args.join(" "), db.display());
        assert!(!copy.exists(), "no backup of a database that does not exist");
    }

    ok(&cli_umask_022(&db, &["--create", "user", "list"], None));
    assert_eq!(mode(&db), 0o600, "--create makes the file, owner-only");
    std::fs::remove_file(&db).unwrap();

    ok(&cli_umask_022(&db, &["user", "add", "own@example.com", "--password-stdin"], Some("long enough\n")));
    assert_eq!(mode(&db), 0o600, "user add creates the database owner-only under umask 022");
    ok(&cli_umask_022(&db, &["backup", copy.to_str().unwrap()], None));
    assert_eq!(mode(&copy), 0o600, "a backup holds the same secrets: owner-only");

    let fresh = dir.path().join("fresh.db");
    let mut server = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 022 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_gpt-todo"))
        .args(["--db", fresh.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    assert!(banner.contains("listening"), "{banner}");
    for file in [fresh.clone(), dir.path().join("fresh.db-wal"), dir.path().join("fresh.db-shm")] {
        assert_eq!(mode(&file), 0o600, "{} made by serve under umask 022", file.display());
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// A gpt-todo database with one user, made by the binary.
pub(crate) fn gpt_todo_database(dir: &Path, name: &str) -> std::path::PathBuf {
    let db = dir.join(name);
    ok(&cli_on(&db, &["user", "add", "kept@example.com", "--password-stdin"], Some("long enough\n")));
    db
}

fn sqlite(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).unwrap()
}

/// Runs a command that should fail at once (no input); one that starts serving instead is killed
/// after 30 s, so the test fails rather than hangs.
fn bounded(command: &mut Command) -> Output {
    let child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let output = child.wait_with_output().unwrap();
    let _ = done.send(());
    output
}

/// `serve` and the admin commands refuse `db` with one line mentioning `mentions`, and leave the
/// file byte for byte as it was.
fn refused_untouched(db: &Path, mentions: &str, commands: &[&[&str]]) {
    let before = std::fs::read(db).unwrap();
    let dir = db.parent().unwrap();
    for (n, args) in commands.iter().enumerate() {
        let copy = dir.join(format!("copy-{n}.db"));
        let args: Vec<&str> = args.iter().map(|a| if *a == "COPY" { copy.to_str().unwrap() } else { a }).collect();
        let output = bounded(Command::new(env!("CARGO_BIN_EXE_gpt-todo")).arg("--db").arg(db).args(&args));
        fails(&output, mentions);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(db.to_str().unwrap()),
            "the error names the file: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!copy.exists(), "`{}` wrote a copy of a refused file", args.join(" "));
        assert!(std::fs::read(db).unwrap() == before, "`{}` modified {}", args.join(" "), db.display());
    }
}

const EVERY_KIND: &[&[&str]] = &[
    &["serve", "--listen", "127.0.0.1:0"],
    &["user", "list"],
    &["user", "add", "new@example.com", "--password-stdin"],
    &["client", "add", "G", "--redirect-uri", "https://chatgpt.com/aip/g/oauth/callback"],
    &["usage"],
    &["backup", "COPY"],
];

#[test]
fn files_that_are_not_a_usable_gpt_todo_database_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database at all, just some text that is long enough to have a header\n").unwrap();
    refused_untouched(&text, "not an SQLite database", EVERY_KIND);

    let foreign = dir.path().join("other-app.db");
    sqlite(&foreign).execute_batch("PRAGMA application_id = 42; CREATE TABLE photos (id INTEGER)").unwrap();
    refused_untouched(&foreign, "belongs to another application", EVERY_KIND);

    let unmarked = dir.path().join("unmarked.db");
    sqlite(&unmarked).execute_batch("CREATE TABLE users (id TEXT); INSERT INTO users VALUES ('x')").unwrap();
    refused_untouched(&unmarked, "not a gpt-todo database", EVERY_KIND);

    let newer = gpt_todo_database(dir.path(), "newer.db");
    sqlite(&newer).execute_batch("PRAGMA user_version = 999").unwrap();
    refused_untouched(&newer, "schema version 999 is newer", EVERY_KIND);

    let damaged = gpt_todo_database(dir.path(), "damaged.db");
    let root: i64 = sqlite(&damaged)
        .query_row("SELECT rootpage FROM sqlite_master WHERE name = 'todos'", [], |r| r.get(0))
        .unwrap();
    let page_size: i64 = sqlite(&damaged).query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    let mut bytes = std::fs::read(&damaged).unwrap();
    let start = ((root - 1) * page_size) as usize;
    bytes[start..start + 64].fill(0xff);
    std::fs::write(&damaged, bytes).unwrap();
    refused_untouched(&damaged, "the database is damaged", EVERY_KIND);
    fails(&cli_on(&damaged, &["user", "list"], None), "gpt-todo restore BACKUP");

    // Another process holds SQLite's exclusive lock (not this one: reading the file here to compare
    // it would drop this process's locks): every command waits its busy timeout, then says so.
    let locked = gpt_todo_database(dir.path(), "locked.db");
    let mut holder = common::tool("sqlite3", "sqlite3")
        .arg(&locked)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the sqlite3 shell");
    let mut shell = holder.stdin.take().unwrap();
    writeln!(
        shell,
        "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; \
         INSERT INTO users (id, email, password_hash) VALUES ('h', 'holder@example.com', 'x'); SELECT 'held';"
    )
    .unwrap();
    // The shell echoes the locking mode first, then `held` once the lock is taken.
    let mut answers = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert!(answers.any(|line| line.unwrap() == "held"), "the shell took the lock");
    refused_untouched(
        &locked,
        "another process holds a lock",
        &[&["serve", "--listen", "127.0.0.1:0"], &["user", "list"]],
    );
    drop(shell);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(ok(&cli_on(&locked, &["user", "list"], None)).contains("kept@example.com"), "usable once released");
}

#[test]
fn a_gpt_todo_database_made_before_the_application_id_is_still_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    // A file as a release before migration 0004 left it: steps 1-3, no application id.
    sqlite(&db)
        .execute_batch(&format!(
            "{}; {}; {}; PRAGMA user_version = 3;
             INSERT INTO users (id, email, password_hash) VALUES ('u1', 'kept@example.com', 'x');",
            include_str!("../../schema.sql"),
            include_str!("../../migrations/0002_quota_windows.sql"),
            include_str!("../../migrations/0003_user_admin.sql"),
        ))
        .unwrap();
    assert!(ok(&cli_on(&db, &["user", "list"], None)).contains("kept@example.com"));
    let marked: i64 = sqlite(&db).query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap();
    assert_eq!(marked, i64::from(i32::from_be_bytes(*b"gtdo")), "the migration marks it as gpt-todo's");
}

#[test]
fn a_second_server_and_a_restore_are_refused_while_a_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = gpt_todo_database(dir.path(), "busy.db");
    let backup = dir.path().join("b.db");
    ok(&cli_on(&db, &["backup", backup.to_str().unwrap()], None));
    let (mut first, _) = spawn_serve(&db);
    fails(&cli_on(&db, &["serve", "--listen", "127.0.0.1:0"], None), "a gpt-todo server is running on this database");
    fails(&cli_on(&db, &["restore", backup.to_str().unwrap()], None), "a gpt-todo server is running");
    let _ = first.kill();
    let _ = first.wait();
    // The operating system released the killed server's lock.
    ok(&cli_on(&db, &["restore", backup.to_str().unwrap()], None));
}

#[test]
#[cfg(unix)]
fn backup_to_stdout_then_restore_over_a_live_file_with_a_stale_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = gpt_todo_database(dir.path(), "live.db");
    let backup = dir.path().join("from-stdout.db");
    let streamed = cli_on(&db, &["backup", "-"], None);
    ok(&streamed);
    std::fs::write(&backup, &streamed.stdout).unwrap();
    assert!(streamed.stdout.starts_with(b"SQLite format 3\0"), "backup - writes the database to stdout");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!leftovers.iter().any(|n| n.to_string_lossy().contains(".backup-")), "staged copy removed: {leftovers:?}");

    // The state a killed server leaves: later writes only in a non-empty -wal beside the file.
    let crashed = dir.path().join("crashed");
    std::fs::create_dir(&crashed).unwrap();
    let live = crashed.join("live.db");
    {
        let conn = sqlite(&db);
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0").unwrap();
        conn.execute("INSERT INTO users (id, email, password_hash) VALUES ('later', 'later@example.com', 'x')", [])
            .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            std::fs::copy(format!("{}{suffix}", db.display()), format!("{}{suffix}", live.display())).unwrap();
        }
    }
    assert!(std::fs::metadata(format!("{}-wal", live.display())).unwrap().len() > 0, "the copy has a live log");
    assert!(ok(&cli_on(&live, &["user", "list"], None)).contains("later@example.com"));

    // Bad backups are refused before anything is replaced.
    let before = std::fs::read(&live).unwrap();
    let not_ours = dir.path().join("other.db");
    sqlite(&not_ours).execute_batch("CREATE TABLE photos (id INTEGER)").unwrap();
    fails(&cli_on(&live, &["restore", not_ours.to_str().unwrap()], None), "not a gpt-todo database");
    let damaged = dir.path().join("damaged.db");
    let mut bytes = streamed.stdout.clone();
    let page_size = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    bytes[page_size..page_size + 64].fill(0xff);
    std::fs::write(&damaged, bytes).unwrap();
    fails(&cli_on(&live, &["restore", damaged.to_str().unwrap()], None), "damaged");
    fails(&cli_on(&live, &["restore", "/nonexistent/backup.db"], None), "no gpt-todo backup here");
    assert!(std::fs::read(&live).unwrap() == before, "a refused restore leaves the live file alone");

    ok(&cli_on(&live, &["restore", backup.to_str().unwrap()], None));
    assert_eq!(mode(&live), 0o600, "the restored file is owner-only");
    let users = ok(&cli_on(&live, &["user", "list"], None));
    assert!(users.contains("kept@example.com") && !users.contains("later@example.com"), "the backup's data: {users}");
    let check: String = sqlite(&live).query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let (mut server, address) = spawn_serve(&live);
    let health = common::get(&format!("http://{address}/healthz"), None);
    assert_eq!(health.status, 200, "a server starts on the restored file: {:?}", health.body);
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
#[cfg(unix)]
fn serve_refuses_a_database_it_cannot_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = gpt_todo_database(dir.path(), "readonly.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    // root may write any file, so as root the server runs as `nobody`, who may only read it.
    let as_root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let serve = || {
        let mut command = if as_root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", env!("CARGO_BIN_EXE_gpt-todo")]);
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        };
        command.arg("--db").arg(&db).args(["serve", "--listen", "127.0.0.1:0"]);
        bounded(&mut command)
    };
    // A directory the server may not write (no lock file, no -wal), then only the file read-only.
    for (directory_mode, mentions) in [(0o755, "cannot create its lock file"), (0o777, "cannot write it")] {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(directory_mode)).unwrap();
        let output = serve();
        fails(&output, mentions);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(db.to_str().unwrap()) && stderr.contains("permission denied"), "{stderr}");
    }
}

#[test]
fn control_characters_never_reach_the_operators_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let run = |args: &[&str]| cli_on(&db, args, None);
    let add = |email: &str, name: &str| {
        cli_on(&db, &["user", "add", email, "--name", name, "--password-stdin"], Some("long enough\n"))
    };
    fails(&add("evil\u{1b}[2J@example.com", "Eve"), "control characters");
    fails(&add("eve@example.com", "Eve\u{1b}]0;owned\u{7}"), "control characters");
    assert_eq!(ok(&run(&["user", "list"])).lines().count(), 1, "nothing was added");

    // Rows written before control characters were refused (or by hand) are shown escaped.
    ok(&add("old@example.com", "Old"));
    let conn = gpt_todo::store::sqlite::open_connection(&db).unwrap();
    conn.execute("UPDATE users SET email = 'old\u{1b}[2J@example.com', name = 'Old\u{1b}]0;owned\u{7}\u{9b}31m'", [])
        .unwrap();
    conn.execute(
        "INSERT INTO api_usage (user_id, client_id, period, count) VALUES ((SELECT id FROM users), 'c\u{1b}[5m', 'total', 1)",
        [],
    )
    .unwrap();
    for command in [&["user", "list"][..], &["usage"][..], &["client", "list"][..]] {
        let output = run(command);
        let printed = ok(&output);
        let raw_controls: Vec<char> = printed.chars().filter(|c| c.is_control() && *c != '\n').collect();
        assert!(raw_controls.is_empty(), "{command:?} printed control characters {raw_controls:?}: {printed:?}");
    }
    let listed = ok(&run(&["user", "list"]));
    assert!(listed.contains("old\\u{1b}[2J@example.com"), "the escape is shown, not sent: {listed}");
}
