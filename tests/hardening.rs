//! What a stranger without an account can do to the running server (issue 12), checked on the
//! real executable: the call log's size per request, memory and threads under a flood of
//! password checks and of hung-up clients. Each load is bounded and stays on 127.0.0.1; the
//! heavier versions live in `scripts/bench-hardening`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::process::ServerProcess;
use gpt_todo::api::request::{CUT_MARK, MAX_LOGGED_BYTES};

/// Sends `request` as it is and reads the answer until the server closes or 10 s pass.
fn raw_exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_call_log_keeps_at_most_512_bytes_of_a_path_and_user_agent() {
    let server = ServerProcess::start(&[], &[]);
    let path = format!("/api/{}", "p".repeat(60_000));
    let agent = "a".repeat(200_000);
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\nConnection: close\r\n\r\n");
    let answer = raw_exchange(server.address, request.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 404"), "expected a 404, got {:?}", &answer[..answer.len().min(200)]);

    let conn = gpt_todo::db::open_connection(&server.db_path).unwrap();
    let (logged_path, logged_agent): (String, String) =
        conn.query_row("SELECT path, user_agent FROM api_calls", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    for (what, logged, sent) in [("path", &logged_path, &path), ("user agent", &logged_agent, &agent)] {
        assert!(logged.len() <= MAX_LOGGED_BYTES, "the logged {what} has {} bytes", logged.len());
        assert!(logged.ends_with(CUT_MARK), "the logged {what} does not mark its cut: {logged:?}");
        assert!(
            sent.starts_with(logged.trim_end_matches(CUT_MARK)),
            "the logged {what} is not the start of the sent one"
        );
    }
    let stderr = server.stderr();
    let line = stderr.lines().find(|l| l.contains("api call")).expect("an 'api call' line on stderr");
    assert!(line.len() < 2 * MAX_LOGGED_BYTES, "the log line has {} bytes", line.len());
    assert!(line.contains(&logged_path), "the log line does not show the clipped path: {line}");
}
