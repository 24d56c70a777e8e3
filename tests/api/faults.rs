//! Faults: the server killed mid-load, a user-info server that hangs, an operator's long read
//! transaction, and a sweep of bad input. Each is bounded in time and stays on 127.0.0.1.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{TestServer, get, http, post_json, reply};
use gpt_todo::oauth::SCOPE;
use gpt_todo::store::{Tx, tokens};
use gpt_todo::support::clock::Clock;
use gpt_todo::support::ids::{ClientId, UserId};
use gpt_todo::{store::sqlite as db, web::accounts as users};
use rusqlite::Connection;

/// The real binary serving `db_path` on a free port; killed with SIGKILL when dropped.
struct RealServer {
    child: Child,
    base: String,
    _stdout: BufReader<ChildStdout>,
}

impl RealServer {
    fn start(db_path: &Path) -> RealServer {
        RealServer::start_logging_to(db_path, &db_path.with_extension("log"))
    }

    fn start_logging_to(db_path: &Path, log_path: &Path) -> RealServer {
        let log = std::fs::File::create(log_path).expect("server log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
            .arg("--db")
            .arg(db_path)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start gpt-todo serve");
        let (stdout, address) = common::process::listening_address(&mut child);
        RealServer { base: format!("http://{address}"), child, _stdout: stdout }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL: no shutdown code runs
        let _ = self.child.wait();
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A user with a token for `client` in the file: (user_id, token).
fn add_caller(conn: &Connection, email: &str, client: &str) -> (String, String) {
    let user =
        users::create(&Tx::sqlite_at(conn, &Clock::system()), email, "Fault Test", "password123").expect("add user");
    let grant = tokens::Grant {
        user_id: &UserId::new(user.as_str()),
        client_id: &ClientId::new(client),
        scope: SCOPE,
        family_id: email,
        code_hash: None,
        resource: None,
    };
    let token = common::issue_token(conn, &grant, Duration::from_secs(3600));
    (user, token)
}

/// What one load worker saw acknowledged: (user agent, todo id) of each 200.
type Acked = Vec<(String, i64)>;

/// POSTs creates until the server stops answering, `max` is reached or 30 s pass.
fn create_until_failure(base: &str, token: &str, worker: usize, acked_total: &AtomicUsize) -> Acked {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let started = Instant::now();
    let mut acked = Vec::new();
    for n in 0..5_000 {
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
        let user_agent = format!("faults/w{worker}-{n}");
        let sent = agent
            .post(format!("{base}/api/todo-demo"))
            .header("Authorization", format!("Bearer {token}"))
            .header("User-Agent", &user_agent)
            .content_type("application/json")
            .send(format!(r#"{{"title":"{user_agent}"}}"#));
        let Ok(mut response) = sent else { break };
        if response.status() != 200 {
            continue;
        }
        let Ok(body) = response.body_mut().read_to_string() else { break };
        let todo: serde_json::Value = serde_json::from_str(&body).expect("a 200 carries the todo");
        acked.push((user_agent, todo["id"].as_i64().expect("todo id")));
        acked_total.fetch_add(1, Ordering::Relaxed);
    }
    acked
}

#[test]
fn kill_9_during_a_create_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("killed.db");
    let conn = db::open_connection(&db_path).unwrap();
    db::migrate(&conn).unwrap();
    let redirect = ["https://chatgpt.com/aip/g-test/oauth/callback".to_string()];
    let first = common::register_client(&conn, "GPT one", &redirect, Some(1_000_000), false).unwrap().client_id;
    let second = common::register_client(&conn, "GPT two", &redirect, Some(1_000_000), false).unwrap().client_id;
    // Three (user, client) counters; two workers share each token.
    let callers: Vec<(String, String, String)> =
        [("ann@example.com", &first), ("ben@example.com", &first), ("cat@example.com", &second)]
            .into_iter()
            .map(|(email, client)| {
                let (user, token) = add_caller(&conn, email, client);
                (user, client.clone(), token)
            })
            .collect();
    drop(conn);

    let mut server = RealServer::start(&db_path);
    let base = server.base.clone();
    let acked_total = AtomicUsize::new(0);
    let acked: Vec<(usize, Acked)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..6)
            .map(|worker| {
                let (base, token, total) = (&base, &callers[worker % 3].2, &acked_total);
                scope.spawn(move || (worker % 3, create_until_failure(base, token, worker, total)))
            })
            .collect();
        // Kill once the load is well under way (or after 20 s, whatever was acknowledged by then).
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked_total.load(Ordering::Relaxed) < 300 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        server.kill();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(acked_total.load(Ordering::Relaxed) > 0, "no create was acknowledged before the kill");

    // Restart on the same file: SQLite recovers from the WAL; the server must come up and serve.
    let restarted = RealServer::start(&db_path);
    let conn = db::open_connection(&db_path).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let count = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> i64 {
        conn.query_row(sql, params, |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    for (caller, acks) in &acked {
        let user = &callers[*caller].0;
        for (user_agent, id) in acks {
            let title: String = conn
                .query_row("SELECT title FROM todos WHERE id = ?1 AND user_id = ?2", (id, user), |r| r.get(0))
                .unwrap_or_else(|e| panic!("acknowledged todo {id} ({user_agent}) is missing after the kill: {e}"));
            assert_eq!(&title, user_agent);
            let logged = count(
                "SELECT count(*) FROM api_calls WHERE user_agent = ?1 AND status = 200 AND user_id = ?2",
                &[user_agent, user],
            );
            assert_eq!(logged, 1, "the acknowledged call {user_agent} must have exactly one log row");
        }
    }
    for (user, client, _) in &callers {
        let counter = count("SELECT count FROM api_usage WHERE user_id = ?1 AND client_id = ?2", &[user, client]);
        let counted_calls = count(
            "SELECT count(*) FROM api_calls WHERE user_id = ?1 AND client_id = ?2 AND status = 200",
            &[user, client],
        );
        let todos = count("SELECT count(*) FROM todos WHERE user_id = ?1", &[user]);
        let acknowledged: usize =
            acked.iter().filter(|(c, _)| callers[*c].0 == *user).map(|(_, acks)| acks.len()).sum();
        assert_eq!(counter, counted_calls, "{user}: the counter must equal the logged 2xx calls");
        assert_eq!(counter, todos, "{user}: every counted call created one todo");
        assert!(counter >= acknowledged as i64, "{user}: counter {counter} < {acknowledged} acknowledged creates");
    }

    // The restarted server carries on from the recovered counter.
    let (user, client, token) = &callers[0];
    let before = count("SELECT count FROM api_usage WHERE user_id = ?1 AND client_id = ?2", &[user, client]);
    let after_restart = post_json(&format!("{}/api/todo-demo", restarted.base), Some(token), r#"{"title":"after"}"#);
    assert_eq!(after_restart.status, 200, "{:?}", after_restart.body);
    let remaining: i64 = after_restart.header("ratelimit-remaining").unwrap().parse().unwrap();
    assert_eq!(remaining, 1_000_000 - before - 1);
}

/// A user-info endpoint on 127.0.0.1 that answers `{id, cid}` for any token while `answering`,
/// and otherwise accepts connections and never answers them.
struct FakeUserinfo {
    url: String,
    answering: Arc<AtomicBool>,
    asked: Arc<AtomicUsize>,
}

impl FakeUserinfo {
    fn start() -> FakeUserinfo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/oauth2/userinfo", listener.local_addr().unwrap());
        let answering = Arc::new(AtomicBool::new(true));
        let asked = Arc::new(AtomicUsize::new(0));
        let (answer, count) = (answering.clone(), asked.clone());
        // Lives as long as the test process; the held connections are what "hangs" means.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::Relaxed);
                if answer.load(Ordering::Relaxed) {
                    std::thread::spawn(move || answer_userinfo(stream));
                } else {
                    held.push(stream);
                }
            }
        });
        FakeUserinfo { url, answering, asked }
    }
}

/// Reads one request and answers with a user named after the token.
fn answer_userinfo(mut stream: TcpStream) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut request = Vec::new();
    let mut buffer = [0; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let token = text
        .lines()
        .find_map(|line| line.strip_prefix("Authorization: Bearer ").or(line.strip_prefix("authorization: Bearer ")))
        .unwrap_or("nobody")
        .trim();
    let body = format!(r#"{{"id":"user-{token}","cid":"remote-client"}}"#);
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
fn a_hanging_userinfo_server_fails_only_uncached_tokens() {
    let fake = FakeUserinfo::start();
    let timeout = Duration::from_secs(2);
    let server = TestServer::start_with(|config| {
        config.userinfo_url = Some(fake.url.clone());
        config.userinfo_timeout = timeout;
    });
    let url = server.url("/api/todo-demo");
    let warm = post_json(&url, Some("cached"), r#"{"title":"warm"}"#);
    assert_eq!(warm.status, 200, "{:?}", warm.body);
    assert_eq!(warm.body["userId"], "user-cached");

    fake.answering.store(false, Ordering::Relaxed);
    let asked_before = fake.asked.load(Ordering::Relaxed);
    let (uncached, cached_during_hang) = std::thread::scope(|scope| {
        let hanging: Vec<_> = (0..4)
            .map(|i| {
                let url = &url;
                scope.spawn(move || {
                    let started = Instant::now();
                    let reply = post_json(url, Some(&format!("fresh-{i}")), r#"{"title":"never"}"#);
                    (reply, started.elapsed())
                })
            })
            .collect();
        // Wait until all four are stuck on the fake, then use the cached token meanwhile.
        let deadline = Instant::now() + timeout;
        while fake.asked.load(Ordering::Relaxed) < asked_before + 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut served = 0;
        while !hanging.iter().all(|h| h.is_finished()) && served < 200 {
            let started = Instant::now();
            let cached = post_json(&url, Some("cached"), r#"{"title":"during the hang"}"#);
            assert_eq!(cached.status, 200, "a cached token must be served while the user-info server hangs");
            assert!(started.elapsed() < timeout, "a cached call waited on the hanging server");
            served += 1;
        }
        (hanging.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>(), served)
    });
    assert!(cached_during_hang > 0, "no cached call was served while the uncached ones hung");
    for (reply, took) in &uncached {
        assert_eq!(reply.status, 500, "{:?}", reply.body);
        assert!(!reply.error().is_empty());
        assert!(*took >= timeout - Duration::from_millis(100), "failed after {took:?}, before the timeout");
        assert!(*took < timeout * 3, "took {took:?}: the timeout did not apply");
    }
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status = 500 AND user_id IS NULL"), 4);
    assert_eq!(server.count("SELECT count(*) FROM todos WHERE title = 'never'"), 0);

    // Failures are not cached: once the server answers again, a fresh token works at once.
    fake.answering.store(true, Ordering::Relaxed);
    let recovered = post_json(&url, Some("fresh-0"), r#"{"title":"recovered"}"#);
    assert_eq!(recovered.status, 200, "{:?}", recovered.body);
}

#[test]
fn an_outside_readers_long_transaction_does_not_stop_writes() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("reader@example.com", Some(10_000));
    let url = server.url("/api/todo-demo");
    assert_eq!(post_json(&url, Some(&token), r#"{"title":"before the reader"}"#).status, 200);

    let mut shell = crate::common::tool("sqlite3", "sqlite3")
        .arg(&server.db_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the sqlite3 shell");
    let mut input = shell.stdin.take().unwrap();
    let mut output = BufReader::new(shell.stdout.take().unwrap());
    let mut ask = |sql: &str| -> String {
        writeln!(input, "{sql}").unwrap();
        input.flush().unwrap();
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        line.trim().to_string()
    };
    // The SELECT inside BEGIN takes the read snapshot, held until COMMIT.
    assert_eq!(ask("BEGIN; SELECT count(*) FROM todos;"), "1");

    // Enough writes to pass the WAL's auto-checkpoint size, which the reader keeps from completing.
    for i in 0..300 {
        let created = post_json(
            &url,
            Some(&token),
            &format!(r#"{{"title":"while reading {i}","description":"{}"}}"#, "d".repeat(2000)),
        );
        assert_eq!(created.status, 200, "write {i} under a long reader: {:?}", created.body);
    }
    assert_eq!(ask("SELECT count(*) FROM todos;"), "1", "the reader's snapshot should still be open");
    assert_eq!(ask("COMMIT; SELECT count(*) FROM todos;"), "301");
    drop(input);
    let status = shell.wait().unwrap();
    assert!(status.success(), "the sqlite3 shell failed");
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status = 200"), 301);
}

/// Sends raw bytes on a fresh connection and returns the status of the answer, if any came.
fn raw_status(base: &str, request: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer);
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Like [`raw_status`], but reads while it sends: a server may answer a body it will not take
/// (413) and close before the client has written it all, and a client that reads only after
/// writing would see a broken pipe instead of that answer.
fn raw_status_while_sending(base: &str, request: Vec<u8>) -> Option<u16> {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until the status line is in, or the connection ends.
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    drop(stream);
    let _ = sending.join();
    let head = String::from_utf8_lossy(&answer);
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A request with `Connection: close`, the given extra header lines and body.
fn raw_request(method: &str, target: &str, headers: &[u8], body: &[u8]) -> Vec<u8> {
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n").into_bytes();
    request.extend_from_slice(headers);
    request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend_from_slice(body);
    request
}

/// What a bad-input case should get.
enum Expect {
    Created,
    Refused,
    Either,
}
use Expect::{Created, Either, Refused};

#[test]
fn bad_input_gets_4xx_never_5xx_and_the_server_stays_up() {
    let server = TestServer::start();
    let (user, _client, token) = server.caller("fuzz@example.com", Some(100_000));
    let url = server.url("/api/todo-demo");
    let auth = format!("Authorization: Bearer {token}\r\n");
    let json_auth = format!("{auth}Content-Type: application/json\r\n").into_bytes();
    let post = |body: &str| post_json(&url, Some(&token), body).status;

    let huge_body = |headers: &[u8]| {
        raw_request(
            "POST",
            "/api/todo-demo",
            headers,
            format!(r#"{{"title":"x","d":"{}"}}"#, "x".repeat(1_000_000)).as_bytes(),
        )
    };
    let deep_array = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let deep_object = format!(r#"{{"title":"x","extra":{}1{}}}"#, r#"{"a":"#.repeat(5_000), "}".repeat(5_000));
    let sql_titles = ["'); DROP TABLE todos; --", "\" OR 1=1 --", "Robert'); DELETE FROM api_usage;--", "%' AND '%'='"];
    let mut cases: Vec<(String, Option<u16>, Expect)> = vec![
        // (what, status, the right answer)
        ("truncated JSON".into(), Some(post(r#"{"title":"abc"#)), Refused),
        ("just a brace".into(), Some(post("{")), Refused),
        ("empty body".into(), Some(post("")), Refused),
        ("deeply nested array".into(), Some(post(&deep_array)), Refused),
        ("deeply nested field".into(), Some(post(&deep_object)), Refused),
        ("title a number".into(), Some(post(r#"{"title":5}"#)), Refused),
        ("title an object".into(), Some(post(r#"{"title":{"a":1}}"#)), Refused),
        ("title null".into(), Some(post(r#"{"title":null}"#)), Refused),
        ("status an array".into(), Some(post(r#"{"title":"x","status":["done"]}"#)), Refused),
        ("description a bool".into(), Some(post(r#"{"title":"x","description":true}"#)), Refused),
        ("body a string".into(), Some(post(r#""title""#)), Refused),
        ("body a huge number".into(), Some(post(&"9".repeat(10_000))), Refused),
        ("huge title".into(), Some(post(&format!(r#"{{"title":"{}"}}"#, "x".repeat(60_000)))), Refused),
        ("huge body".into(), raw_status_while_sending(&server.base, huge_body(&json_auth)), Refused),
        ("escaped NUL in title".into(), Some(post(r#"{"title":"a\u0000b"}"#)), Created),
        ("lone surrogate".into(), Some(post(r#"{"title":"\ud800"}"#)), Refused),
        ("raw NUL in a JSON string".into(), Some(post("{\"title\":\"a\0b\"}")), Refused),
    ];
    for title in sql_titles {
        let body = serde_json::json!({ "title": title, "description": title, "status": title }).to_string();
        let created = post_json(&url, Some(&token), &body);
        assert_eq!(created.body["title"], title, "SQL-looking text must come back verbatim");
        cases.push((format!("SQL-looking {title:?}"), Some(created.status), Created));
    }

    // Byte-level cases, on raw connections.
    let raw =
        |headers: &[u8], body: &[u8]| raw_status(&server.base, &raw_request("POST", "/api/todo-demo", headers, body));
    cases.extend([
        ("invalid UTF-8 in the body".into(), raw(&json_auth, b"{\"title\":\"\xff\xfe\"}"), Refused),
        ("invalid UTF-8 in the token".into(), raw(b"Authorization: Bearer \xff\xfe\r\n", br#"{"title":"x"}"#), Refused),
        ("Bearer without a token".into(), raw(b"Authorization: Bearer\r\n", br#"{"title":"x"}"#), Refused),
        ("Basic credentials".into(), raw(b"Authorization: Basic YTpi\r\n", br#"{"title":"x"}"#), Refused),
        ("token with spaces".into(), raw(b"Authorization: Bearer a b c\r\n", br#"{"title":"x"}"#), Refused),
        ("two Authorization headers".into(), raw(format!("{auth}{auth}").as_bytes(), br#"{"title":"x"}"#), Refused),
        (
            "a 60 KB token".into(),
            raw(format!("Authorization: Bearer {}\r\n", "t".repeat(60_000)).as_bytes(), b"{}"),
            Refused,
        ),
        ("NUL in a header".into(), raw(b"Authorization: Bearer a\0b\r\n", br#"{"title":"x"}"#), Refused),
        (
            "text/plain body".into(),
            raw(format!("{auth}Content-Type: text/plain\r\n").as_bytes(), br#"{"title":"x"}"#),
            Refused,
        ),
        (
            "form body".into(),
            raw(format!("{auth}Content-Type: application/x-www-form-urlencoded\r\n").as_bytes(), b"title=x"),
            Refused,
        ),
        (
            "garbage content type".into(),
            raw(&[auth.as_bytes(), b"Content-Type: ;;;\xff\r\n"].concat(), br#"{"title":"x"}"#),
            Refused,
        ),
        (
            "JSON with charset".into(),
            raw(format!("{auth}Content-Type: application/json; charset=utf-8\r\n").as_bytes(), br#"{"title":"ok"}"#),
            Created,
        ),
    ]);
    let lying_length = format!(
        "POST /api/todo-demo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Length: 99999999999\r\n\r\n{{}}"
    );
    cases.push(("a Content-Length of 100 GB".into(), raw_status(&server.base, lying_length.as_bytes()), Refused));
    let chunked = format!(
        "POST /api/todo-demo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Transfer-Encoding: chunked\r\n\r\nfffff\r\n{}\r\n0\r\n\r\n",
        "x".repeat(0xfffff)
    );
    cases.push(("a 1 MB chunked body".into(), raw_status(&server.base, chunked.as_bytes()), Refused));
    for (what, target) in [
        ("absurd limit", "/api/todos?limit=99999999999999999999999"),
        ("negative limit", "/api/todos?limit=-1"),
        ("word limit", "/api/todos?limit=lots"),
        ("repeated limit", "/api/todos?limit=1&limit=2&limit=3"),
        ("bad cursor", "/api/todos?cursor=%00%FF%27--"),
        ("long status filter", &format!("/api/todos?status={}", "s".repeat(20_000))),
        ("encoded bytes in the path", "/api/todo-demo%FF%00"),
    ] {
        let status = raw_status(&server.base, &raw_request("GET", target, auth.as_bytes(), b""));
        cases.push((what.into(), status, Refused));
    }
    // Read leniently (as the literal text) or refused: either is fine, a fault is not.
    let lenient = raw_status(&server.base, &raw_request("GET", "/api/todos?status=%ZZ", auth.as_bytes(), b""));
    cases.push(("invalid percent-encoding".into(), lenient, Either));
    let query_on_create = raw_request("POST", "/api/todo-demo?limit=-5&title=%00", &json_auth, br#"{"title":"q"}"#);
    cases.push(("a query on the create".into(), raw_status(&server.base, &query_on_create), Created));
    cases.extend([
        (
            "unknown method".into(),
            raw_status(&server.base, &raw_request("BREW", "/api/todo-demo", auth.as_bytes(), b"")),
            Refused,
        ),
        (
            "PUT on the create".into(),
            raw_status(&server.base, &raw_request("PUT", "/api/todo-demo", &json_auth, b"{}")),
            Refused,
        ),
        ("not HTTP at all".into(), raw_status(&server.base, b"\x00\x01\x02\xff garbage\r\n\r\n"), Refused),
    ]);

    let mut created = 0;
    for (what, status, expect) in &cases {
        // hyper may close the connection on bytes that are not HTTP; that is not a fault.
        let Some(status) = status else {
            assert_eq!(what, "not HTTP at all", "{what}: no answer at all");
            continue;
        };
        assert!(*status < 500, "{what}: a server fault ({status})");
        match expect {
            Created => {
                assert!((200..300).contains(status), "{what}: valid input should succeed, got {status}");
                created += 1;
            }
            Refused => assert!((400..500).contains(status), "{what}: should be refused with a 4xx, got {status}"),
            Either => assert!((200..300).contains(status) || (400..500).contains(status), "{what}: got {status}"),
        }
    }
    // No refused request changed a row, and the server still serves.
    assert_eq!(server.count(&format!("SELECT count(*) FROM todos WHERE user_id = '{user}'")), created);
    assert_eq!(server.count("SELECT count(*) FROM todos WHERE title = 'a' || char(0) || 'b'"), 1);
    assert_eq!(get(&server.url("/healthz"), None).status, 200);
    let after = reply(
        http()
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .content_type("application/json")
            .send(r#"{"title":"still alive"}"#),
    );
    assert_eq!(after.status, 200, "{:?}", after.body);
}

/// The answer to raw bytes: the status and the body, if any came.
fn raw_answer(base: &str, request: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()))
}

#[test]
fn bad_mcp_input_gets_a_json_rpc_error_or_a_tool_error_never_5xx_and_counts_nothing() {
    let server = TestServer::start();
    let user = server.add_user("fuzz@example.com");
    let (client, _) = server.add_client(Some(100_000));
    let token = server.mcp_token(&user, &client);
    let modern = |method: &str, name: Option<&str>| {
        let mut headers = format!(
            "Authorization: Bearer {token}\r\nContent-Type: application/json\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: {method}\r\n"
        );
        if let Some(name) = name {
            headers.push_str(&format!("Mcp-Name: {name}\r\n"));
        }
        headers.into_bytes()
    };
    let call = |name: &str, arguments: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{name}","arguments":{arguments},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
        )
    };
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let mut cases: Vec<(String, Vec<u8>, Vec<u8>)> = vec![
        ("not JSON".into(), modern("tools/list", None), b"{\"jsonrpc\":".to_vec()),
        ("empty body".into(), modern("tools/list", None), Vec::new()),
        ("deeply nested".into(), modern("tools/list", None), deep.into_bytes()),
        ("a batch".into(), modern("tools/list", None), format!("[{}]", call("list_todos", "{}")).into_bytes()),
        ("a JSON string".into(), modern("tools/list", None), br#""tools/list""#.to_vec()),
        ("a response".into(), modern("tools/list", None), br#"{"jsonrpc":"2.0","id":1,"result":{}}"#.to_vec()),
        (
            "id an object".into(),
            modern("tools/list", None),
            br#"{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}"#.to_vec(),
        ),
        (
            "id huge".into(),
            modern("tools/list", None),
            format!(r#"{{"jsonrpc":"2.0","id":{},"method":"tools/list"}}"#, "9".repeat(5000)).into_bytes(),
        ),
        (
            "params a list".into(),
            modern("tools/list", None),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[]}"#.to_vec(),
        ),
        (
            "_meta a string".into(),
            modern("tools/list", None),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":"x"}}"#.to_vec(),
        ),
        ("unknown tool".into(), modern("tools/call", Some("drop_tables")), call("drop_tables", "{}").into_bytes()),
        ("arguments a list".into(), modern("tools/call", Some("create_todo")), call("create_todo", "[1]").into_bytes()),
        (
            "title a number".into(),
            modern("tools/call", Some("create_todo")),
            call("create_todo", r#"{"title":5}"#).into_bytes(),
        ),
        (
            "title huge".into(),
            modern("tools/call", Some("create_todo")),
            call("create_todo", &format!(r#"{{"title":"{}"}}"#, "x".repeat(60_000))).into_bytes(),
        ),
        (
            "id huge".into(),
            modern("tools/call", Some("get_todo")),
            call("get_todo", r#"{"id":123456789012345678901234567890}"#).into_bytes(),
        ),
        (
            "id a float".into(),
            modern("tools/call", Some("delete_todo")),
            call("delete_todo", r#"{"id":1.5}"#).into_bytes(),
        ),
        (
            "id an object".into(),
            modern("tools/call", Some("update_todo")),
            call("update_todo", r#"{"id":{"$gt":0},"title":"x"}"#).into_bytes(),
        ),
        (
            "limit huge".into(),
            modern("tools/call", Some("list_todos")),
            call("list_todos", r#"{"limit":1e308}"#).into_bytes(),
        ),
        (
            "SQL in the cursor".into(),
            modern("tools/call", Some("list_todos")),
            call("list_todos", r#"{"cursor":"'; DROP TABLE todos; --"}"#).into_bytes(),
        ),
        (
            "Mcp-Name of another tool".into(),
            modern("tools/call", Some("delete_todo")),
            call("create_todo", r#"{"title":"x"}"#).into_bytes(),
        ),
        (
            "Mcp-Method of another method".into(),
            modern("tools/list", Some("create_todo")),
            call("create_todo", r#"{"title":"x"}"#).into_bytes(),
        ),
        ("no Mcp-Name".into(), modern("tools/call", None), call("create_todo", r#"{"title":"x"}"#).into_bytes()),
        (
            "Mcp-Name bad base64".into(),
            modern("tools/call", Some("=?base64?***?=")),
            call("create_todo", r#"{"title":"x"}"#).into_bytes(),
        ),
        (
            "Mcp-Name not ASCII".into(),
            [modern("tools/call", None), b"Mcp-Name: cr\xc3\xa9ate\r\n".to_vec()].concat(),
            call("create_todo", r#"{"title":"x"}"#).into_bytes(),
        ),
        (
            "version from the future".into(),
            modern("tools/list", None),
            call("list_todos", "{}").replace("2026-07-28", "2099-01-01").into_bytes(),
        ),
        (
            "invalid UTF-8".into(),
            modern("tools/call", Some("create_todo")),
            [&call("create_todo", r#"{"title":"X"}"#).as_bytes()[..140], b"\xff\xfe"].concat(),
        ),
        (
            "huge body".into(),
            modern("tools/list", None),
            format!(r#"{{"pad":"{}"}}"#, "x".repeat(1_000_000)).into_bytes(),
        ),
        (
            "text/plain".into(),
            format!("Authorization: Bearer {token}\r\nContent-Type: text/plain\r\n").into_bytes(),
            call("list_todos", "{}").into_bytes(),
        ),
    ];
    let legacy = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n").into_bytes();
    cases.push((
        "no version header".into(),
        legacy.clone(),
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_vec(),
    ));
    cases.push((
        "initialize with junk".into(),
        legacy,
        br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":[]}}"#.to_vec(),
    ));

    for (what, headers, body) in &cases {
        let answer = raw_answer(&server.base, &raw_request("POST", "/mcp", headers, body));
        let (status, body) = answer.unwrap_or_else(|| panic!("{what}: no answer"));
        assert!(status < 500, "{what}: a server fault ({status}): {body}");
        if status == 200 {
            let reply: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: {body}"));
            let refused = reply.get("error").is_some() || reply["result"]["isError"] == true;
            // Only a handshake with junk may succeed: it changes nothing.
            assert!(refused || what == "initialize with junk", "{what}: expected an error, got {body}");
        } else {
            assert!((400..500).contains(&status), "{what}: got {status}");
            if status != 413 && status != 415 {
                assert!(body.contains("\"jsonrpc\":\"2.0\""), "{what}: a JSON-RPC error object, got {body}");
            }
        }
    }
    let chunked = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n{}\r\n0\r\n\r\n",
        "x".repeat(0xfffff)
    );
    assert_eq!(raw_answer(&server.base, chunked.as_bytes()).map(|(status, _)| status), Some(413));
    // Nothing counted, nothing changed; the server still serves.
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);
    assert_eq!(server.count("SELECT coalesce(sum(count), 0) FROM api_usage"), 0);
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status >= 500"), 0);
    let ok = raw_answer(
        &server.base,
        &raw_request(
            "POST",
            "/mcp",
            &modern("tools/call", Some("create_todo")),
            call("create_todo", r#"{"title":"still alive"}"#).as_bytes(),
        ),
    );
    assert!(ok.as_ref().is_some_and(|(status, body)| *status == 200 && body.contains("still alive")), "{ok:?}");
}

/// A size-limited tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Fails, saying why, where this process may not mount (not root, a container without
    /// CAP_SYS_ADMIN): the test that needs it is `#[ignore]`d, so it runs only when asked for
    /// (scripts/test asks as root), and then it must run.
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::piped())
            .output();
        match mounted {
            Ok(output) if output.status.success() => SmallDisk { dir },
            Ok(output) => panic!(
                "cannot mount a tmpfs here ({}): this test needs root with CAP_SYS_ADMIN",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(e) => panic!("cannot run mount ({e}): this test needs root with CAP_SYS_ADMIN"),
        }
    }

    /// Takes `bytes` of the disk with a file; remove it to free that space.
    fn ballast(&self, bytes: usize) -> std::path::PathBuf {
        let ballast = self.dir.path().join("ballast");
        std::fs::write(&ballast, vec![0x55u8; bytes]).expect("room for the ballast");
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Every answer a full-disk load worker saw: (user agent, status, todo id of a 200).
type Answers = Vec<(String, u16, Option<i64>)>;

fn create_until_stopped(base: &str, token: &str, worker: usize, stop: &AtomicBool) -> Answers {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let description = "x".repeat(2_000);
    let mut answers = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) || n >= 20_000 {
            break;
        }
        let user_agent = format!("disk/w{worker}-{n}");
        let mut response = agent
            .post(format!("{base}/api/todo-demo"))
            .header("Authorization", format!("Bearer {token}"))
            .header("User-Agent", &user_agent)
            .content_type("application/json")
            .send(format!(r#"{{"title":"{user_agent}","description":"{description}"}}"#))
            .expect("the server keeps answering while the disk is full");
        let status = response.status().as_u16();
        let body: serde_json::Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).expect("a JSON body");
        match status {
            200 => answers.push((user_agent, status, Some(body["id"].as_i64().expect("todo id")))),
            503 => {
                assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
                assert!(body["error"].as_str().unwrap().contains("disk is full"), "{body}");
                answers.push((user_agent, status, None));
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("a create on a full disk must be 200 or 503, got {other}: {body}"),
        }
    }
    answers
}

#[test]
#[ignore = "mounts a 4 MB tmpfs to fill: needs root with CAP_SYS_ADMIN; scripts/test runs it as root \
            (cargo test --test api -- --ignored --exact faults::a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_by_itself)"]
fn a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_by_itself() {
    let disk = SmallDisk::mount("4m");
    let db_path = disk.dir.path().join("full.db");
    let logs = tempfile::tempdir().unwrap();
    let conn = db::open_connection(&db_path).unwrap();
    db::migrate(&conn).unwrap();
    let redirect = ["https://chatgpt.com/aip/g-test/oauth/callback".to_string()];
    let client = common::register_client(&conn, "GPT", &redirect, Some(1_000_000), false).unwrap().client_id;
    let callers: Vec<(String, String)> =
        ["ann@example.com", "ben@example.com"].iter().map(|email| add_caller(&conn, email, &client)).collect();
    drop(conn);
    let server = RealServer::start_logging_to(&db_path, &logs.path().join("server.log"));
    let base = server.base.clone();

    // Half the disk is ballast; the load fills the rest, and freeing the ballast makes room again.
    let ballast = disk.ballast(2 * 1024 * 1024);
    let stop = AtomicBool::new(false);
    let (answers, health, api_read, userinfo) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let (base, token, stop) = (&base, &callers[worker % 2].1, &stop);
                scope.spawn(move || (worker % 2, create_until_stopped(base, token, worker, stop)))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = loop {
            let health = get(&format!("{base}/healthz"), None);
            if health.status != 200 || Instant::now() > deadline {
                break health;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // What still works on a full disk, and what does not.
        let api_read = get(&format!("{base}/api/todos?limit=5"), Some(&callers[0].1));
        let userinfo = get(&format!("{base}/api/oauth2/userinfo"), Some(&callers[0].1));
        std::thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::Relaxed);
        let answers: Vec<(usize, Answers)> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        (answers, health, api_read, userinfo)
    });
    assert_eq!(health.status, 503, "healthz while the disk is full: {:?}", health.body);
    assert_eq!(health.body["status"], "degraded");
    assert!(health.body["reason"].as_str().unwrap().contains("disk is full"), "{:?}", health.body);
    assert_eq!(health.header("retry-after"), Some("5"));
    assert_eq!(userinfo.status, 200, "reads that write nothing go on: {:?}", userinfo.body);
    // An API call, a GET too, is counted and logged in the same commit as its answer: refused
    // while that commit fails. A commit small enough for the pages SQLite freed may still go
    // through, and is then answered as usual; never any other status.
    assert!(matches!(api_read.status, 200 | 503), "a counted call on a full disk: {}", api_read.status);
    if api_read.status == 503 {
        assert_eq!(api_read.header("retry-after"), Some("5"));
    }
    let acked: usize = answers.iter().map(|(_, a)| a.iter().filter(|x| x.1 == 200).count()).sum();
    let refused: usize = answers.iter().map(|(_, a)| a.iter().filter(|x| x.1 == 503).count()).sum();
    eprintln!("full disk: {acked} creates acknowledged, {refused} refused with 503");
    assert!(acked > 0 && refused > 0, "the load saw both sides: {acked} acknowledged, {refused} refused");

    // Space freed: writes resume by themselves, and health recovers without a restart.
    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&format!("{base}/healthz"), None).status != 200 {
        assert!(Instant::now() < deadline, "healthz did not recover within 10 s of freeing space");
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = post_json(&format!("{base}/api/todo-demo"), Some(&callers[0].1), r#"{"title":"after the disk"}"#);
    assert_eq!(after.status, 200, "a create after freeing space: {:?}", after.body);
    drop(server); // SIGKILL: what was acknowledged must already be on disk

    let conn = db::open_connection(&db_path).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let count = |sql: &str, user: &str| -> i64 { conn.query_row(sql, [user], |r| r.get(0)).unwrap() };
    for (caller, seen) in &answers {
        let user = &callers[*caller].0;
        for (user_agent, _, id) in seen.iter().filter(|x| x.1 == 200) {
            let title: String = conn
                .query_row("SELECT title FROM todos WHERE id = ?1 AND user_id = ?2", (id, user), |r| r.get(0))
                .unwrap_or_else(|e| panic!("acknowledged todo {id:?} ({user_agent}) is missing: {e}"));
            assert_eq!(&title, user_agent);
        }
        for (user_agent, _, _) in seen.iter().filter(|x| x.1 == 503) {
            let kept: i64 =
                conn.query_row("SELECT count(*) FROM todos WHERE title = ?1", [user_agent], |r| r.get(0)).unwrap();
            assert_eq!(kept, 0, "{user_agent} was refused with 503 but its todo was kept");
        }
    }
    for (n, (user, _)) in callers.iter().enumerate() {
        let counter = count("SELECT count FROM api_usage WHERE user_id = ?1", user);
        let logged_2xx =
            count("SELECT count(*) FROM api_calls WHERE user_id = ?1 AND status BETWEEN 200 AND 299", user);
        let todos = count("SELECT count(*) FROM todos WHERE user_id = ?1", user);
        assert_eq!(counter, logged_2xx, "{user}: the counter equals the 2xx log rows");
        // The first caller's list read is counted too when its commit went through (a 200).
        let counted_reads = i64::from(n == 0 && api_read.status == 200);
        assert_eq!(counter, todos + counted_reads, "{user}: each counted create made one todo");
        eprintln!("full disk: {user}: counter {counter} = {logged_2xx} logged 2xx = {todos} todos");
    }
}

/// A database failure behind `GET /api/oauth2/userinfo` is a 500 with a JSON error, and the
/// server's log says what failed (it used to answer the 500 and log nothing).
#[test]
fn a_userinfo_database_failure_is_a_500_and_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("userinfo.db");
    let conn = db::open_connection(&db_path).unwrap();
    db::migrate(&conn).unwrap();
    let redirect = ["https://chatgpt.com/aip/g-test/oauth/callback".to_string()];
    let client = common::register_client(&conn, "GPT", &redirect, None, false).unwrap().client_id;
    let (_, token) = add_caller(&conn, "ann@example.com", &client);
    let log_path = dir.path().join("server.log");
    let server = RealServer::start_logging_to(&db_path, &log_path);
    let url = format!("{}/api/oauth2/userinfo", server.base);
    assert_eq!(get(&url, Some(&token)).status, 200);

    // The look-up joins the users table; with it renamed, SQLite fails every look-up.
    conn.execute_batch("ALTER TABLE users RENAME TO users_moved").unwrap();
    let failed = get(&url, Some(&token));
    assert_eq!((failed.status, failed.error()), (500, "Database error"), "{:?}", failed.body);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.lines().any(|line| line.contains("ERROR") && line.contains("no such table: users")),
        "the 500 must be logged with its cause; the server's log:\n{log}"
    );
}
