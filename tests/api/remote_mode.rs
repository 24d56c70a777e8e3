//! Remote user-info mode (`--userinfo-url`): the original GPT-Todo demo's architecture (docs/contract.md), with one gpt-todo as
//! another's user-info server, and a stand-in for third-party providers that name fields differently.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{TestServer, get, post_json};

fn remote_of(provider_url: &str) -> TestServer {
    let url = provider_url.to_string();
    TestServer::start_with(move |config| {
        config.userinfo_url = Some(url);
        config.userinfo_timeout = Duration::from_secs(2);
    })
}

#[test]
fn a_token_from_a_works_on_b_and_b_survives_a_stopping() {
    let mut a = TestServer::start();
    let (user, client, token) = a.caller("remote@example.com", None);
    let b = remote_of(&a.url("/api/oauth2/userinfo"));

    let created = post_json(&b.url("/api/todo-demo"), Some(&token), r#"{"title":"made on B"}"#);
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.body["userId"], user.as_str(), "B must attribute the todo to A's user");
    let counted = format!("SELECT count FROM api_usage WHERE user_id = '{user}' AND client_id = '{client}'");
    assert_eq!(b.count(&counted), 1, "B counts the call against A's (user, client)");
    assert_eq!(created.header("ratelimit-limit"), Some("1000"), "a client B does not know gets the default limit");

    let refused = post_json(&b.url("/api/todo-demo"), Some("gta_unknown"), r#"{"title":"x"}"#);
    assert_eq!(refused.status, 401, "A refused the token, so B must too");

    // A token A issued but B has never seen, then A goes away.
    let uncached = a.token(&user, &client, Duration::from_secs(3600));
    a.stop();

    let started = Instant::now();
    let failed = post_json(&b.url("/api/todo-demo"), Some(&uncached), r#"{"title":"x"}"#);
    assert_eq!(failed.status, 500, "{:?}", failed.body);
    assert!(failed.error().contains("user-info"), "the error should say what failed: {:?}", failed.body);
    assert!(started.elapsed() < Duration::from_secs(4), "must give up within the 2 s timeout");

    let cached = post_json(&b.url("/api/todo-demo"), Some(&token), r#"{"title":"still works"}"#);
    assert_eq!(cached.status, 200, "a cached token keeps working while A is down");
    assert_eq!(get(&b.url("/healthz"), None).status, 200);
    assert_eq!(b.count("SELECT count(*) FROM api_calls WHERE status = 500 AND user_id IS NULL"), 1);
}

/// A minimal HTTP server answering every request with `status` and `body`, like a third-party
/// provider's user-info endpoint; returns its URL and how many requests it has answered.
fn provider(status: &'static str, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/userinfo", listener.local_addr().unwrap());
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, answered)
}

fn provider_answering(body: &'static str) -> String {
    provider("200 OK", body).0
}

#[test]
fn refusals_are_remembered_briefly_so_a_flood_of_bad_tokens_stays_local() {
    let (url, answered) = provider("401 Unauthorized", r#"{"error":"invalid_token"}"#);
    let server = remote_of(&url);
    for _ in 0..5 {
        assert_eq!(post_json(&server.url("/api/todo-demo"), Some("bogus"), r#"{"title":"x"}"#).status, 401);
    }
    assert_eq!(answered.load(Ordering::SeqCst), 1, "the provider is asked once for one bad token");
    assert_eq!(post_json(&server.url("/api/todo-demo"), Some("another"), r#"{"title":"x"}"#).status, 401);
    assert_eq!(answered.load(Ordering::SeqCst), 2);
}

#[test]
fn user_and_client_ids_come_from_the_fields_providers_use() {
    let provider = provider_answering(r#"{"sub":"auth0|42","azp":"gpt-client-7","email":"x@example.com"}"#);
    let server = remote_of(&provider);
    let created = post_json(&server.url("/api/todo-demo"), Some("any-provider-token"), r#"{"title":"x"}"#);
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.body["userId"], "auth0|42");
    assert_eq!(
        server.count("SELECT count(*) FROM api_usage WHERE user_id = 'auth0|42' AND client_id = 'gpt-client-7'"),
        1
    );
}

#[test]
fn the_default_client_id_fills_in_when_the_provider_names_none() {
    let provider = provider_answering(r#"{"id":7}"#);
    let without_default = remote_of(&provider);
    let refused = post_json(&without_default.url("/api/todo-demo"), Some("t1"), r#"{"title":"x"}"#);
    assert_eq!(refused.status, 401, "a token that names no client cannot be counted: {:?}", refused.body);

    let url = provider.clone();
    let with_default = TestServer::start_with(move |config| {
        config.userinfo_url = Some(url);
        config.default_client_id = Some("fallback-client".into());
    });
    let created = post_json(&with_default.url("/api/todo-demo"), Some("t2"), r#"{"title":"x"}"#);
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.body["userId"], "7");
    assert_eq!(with_default.count("SELECT count(*) FROM api_usage WHERE client_id = 'fallback-client'"), 1);
}
