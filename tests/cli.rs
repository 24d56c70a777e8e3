//! The admin commands and `serve`, run as the real binary against a temp database file.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{TestServer, cli_on, post_json};

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "expected success, got {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A failed command exits non-zero with one line on stderr, which must mention `mentions`.
fn fails(output: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "expected failure, got success: {}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(stderr.trim().lines().count(), 1, "one-line error expected, got {stderr:?}");
    assert!(stderr.contains(mentions), "error should mention {mentions:?}: {stderr:?}");
}

fn field<'a>(output: &'a str, label: &str) -> &'a str {
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
    fails(&cli_on(Path::new("/nonexistent-dir/x.db"), &["user", "list"], None), "unable to open");
}

/// Starts `gpt-todo serve` on port 0 and returns the child and its address.
fn spawn_serve(db: &Path) -> (std::process::Child, String) {
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
    let wal = dir.path().join("serve.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "the WAL is checkpointed at exit");
    let conn = gpt_todo::db::open_connection(&db).unwrap();
    let titles: i64 =
        conn.query_row("SELECT count(*) FROM todos WHERE title = 'finished after SIGTERM'", [], |r| r.get(0)).unwrap();
    assert_eq!(titles, 1);
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
    let conn = gpt_todo::db::open_connection(&db).unwrap();
    conn.execute("UPDATE users SET email = 'old\u{1b}[2J@example.com', name = 'Old\u{1b}]0;owned\u{7}\u{9b}31m'", [])
        .unwrap();
    conn.execute(
        "INSERT INTO api_usage (user_id, client_id, count) VALUES ((SELECT id FROM users), 'c\u{1b}[5m', 1)",
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
