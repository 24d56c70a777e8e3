//! `examples/notes.rs`, a resource of one's own behind the same chain, over real HTTP: counted
//! once per success, refused at the limit with the original demo's message, every outcome logged.

#[allow(dead_code)] // its `main` is the example binary's; the test runs the server it starts
#[path = "../../examples/notes.rs"]
mod notes;

use crate::common::{TestServer, get, post_json};
use gpt_todo::chain::api_error::QUOTA_MESSAGE;

fn start() -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_app(
        &dir.path().join("notes.db"),
        |_| {},
        |listener, config, stop| async move {
            notes::run(listener, config, stop).await.expect("the notes example runs");
        },
    );
    (dir, server)
}

#[test]
fn notes_are_created_and_listed_behind_auth_quota_and_log() {
    let (_dir, server) = start();
    let (user, client, token) = server.caller("notes@example.com", Some(3));
    let url = server.url("/api/notes");

    let created = post_json(&url, Some(&token), r#"{"text":"  first note  "}"#);
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["text"], "first note");
    assert_eq!(created.header("ratelimit"), Some(r#""calls";r=2"#), "counted once");

    let listed = get(&url, Some(&token));
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["notes"][0]["text"], "first note");
    assert_eq!(listed.header("ratelimit-remaining"), Some("1"), "a list is a call too");

    // Failures are answered and logged but not counted: a bad body, no token.
    let bad = post_json(&url, Some(&token), r#"{"text":""}"#);
    assert_eq!((bad.status, bad.error()), (400, "text must be 1 to 1000 characters"));
    assert_eq!(bad.header("ratelimit-remaining"), Some("1"));
    let anonymous = post_json(&url, None, r#"{"text":"x"}"#);
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").is_some_and(|c| c.starts_with("Bearer")));

    assert_eq!(post_json(&url, Some(&token), r#"{"text":"third call"}"#).status, 201);
    let refused = post_json(&url, Some(&token), r#"{"text":"over the limit"}"#);
    assert_eq!((refused.status, refused.error()), (429, QUOTA_MESSAGE));
    assert_eq!(server.count("SELECT count(*) FROM notes"), 2, "the refused note was not written");

    let counter = format!("SELECT count FROM api_usage WHERE user_id = '{user}' AND client_id = '{client}'");
    assert_eq!(server.count(&counter), 3);
    let logged: Vec<(String, i64)> = server
        .sql()
        .prepare("SELECT method, status FROM api_calls WHERE path = '/api/notes' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: Vec<(String, i64)> =
        [("POST", 201), ("GET", 200), ("POST", 400), ("POST", 401), ("POST", 201), ("POST", 429)]
            .iter()
            .map(|(m, s)| (m.to_string(), *s))
            .collect();
    assert_eq!(logged, expected, "every outcome is one api_calls row");
}

#[test]
fn the_todo_api_still_answers_beside_the_notes_and_unknown_paths_are_logged_404s() {
    let (_dir, server) = start();
    let (_user, _client, token) = server.caller("both@example.com", None);
    assert_eq!(post_json(&server.url("/api/todos"), Some(&token), r#"{"title":"a todo"}"#).status, 201);
    assert_eq!(get(&server.url("/api/notes"), Some(&token)).body["notes"], serde_json::json!([]));
    let other = get(&server.url("/api/notes/1"), Some(&token));
    assert_eq!((other.status, other.error()), (404, "Not found"));
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE path = '/api/notes/1' AND status = 404"), 1);
}
