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
    let missing = Path::new("/nonexistent-dir/x.db");
    fails(&cli_on(missing, &["user", "list"], None), "/nonexistent-dir/x.db: no gpt-todo database here");
    fails(
        &cli_on(missing, &["user", "add", "a@example.com", "--password-stdin"], Some("long enough\n")),
        "cannot create",
    );
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

/// Runs the real binary under `umask 022` (a common default), as an operator's shell would.
fn cli_umask_022(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 022 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_gpt-todo"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gpt-todo under sh");
    let input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        let mut input = input;
        let _ = input.write_all(text.as_bytes());
    }
    child.wait_with_output().expect("gpt-todo output")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
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
fn gpt_todo_database(dir: &Path, name: &str) -> std::path::PathBuf {
    let db = dir.join(name);
    ok(&cli_on(&db, &["user", "add", "kept@example.com", "--password-stdin"], Some("long enough\n")));
    db
}

fn sqlite(db: &Path) -> common::rusqlite_conn::Connection {
    common::rusqlite_conn::Connection::open(db).unwrap()
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
    let mut holder = Command::new("sqlite3")
        .arg(&locked)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the sqlite3 shell (scripts/test installs it)");
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
    let db = gpt_todo_database(dir.path(), "old.db");
    // As the file was before migration 0006: no application id, and that migration not yet run.
    sqlite(&db).execute_batch("PRAGMA application_id = 0; PRAGMA user_version = 1").unwrap();
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
