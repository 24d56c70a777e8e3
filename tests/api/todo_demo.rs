//! `POST /api/todo-demo`: the original GPT-Todo demo's create (docs/contract.md), through auth → quota → log.

use crate::common;

use crate::common::{TestServer, get, http, post_json, reply};
use std::time::Duration;

#[test]
fn creates_a_todo_in_the_reference_shape() {
    let server = TestServer::start();
    let (user, _client, token) = server.caller("alice@example.com", None);
    let created = post_json(
        &server.url("/api/todo-demo"),
        Some(&token),
        r#"{"title":"Buy milk","description":"2 litres","status":"open"}"#,
    );
    assert_eq!(created.status, 200, "{:?}", created.body);
    let todo = &created.body;
    assert_eq!(todo["title"], "Buy milk");
    assert_eq!(todo["description"], "2 litres");
    assert_eq!(todo["status"], "open");
    assert_eq!(todo["userId"], user.as_str());
    assert!(todo["id"].is_i64());
    for time in ["createdAt", "updatedAt"] {
        let text = todo[time].as_str().unwrap();
        assert!(text.ends_with('Z') && text.len() == 24, "{time} should be RFC 3339 UTC with millis, got {text}");
    }
    let keys: Vec<&String> = todo.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7, "exactly the original demo's fields, got {keys:?}");
    assert_eq!(created.header("ratelimit-limit"), Some("1000"));
    assert_eq!(created.header("ratelimit-remaining"), Some("999"));
    assert_eq!(server.count("SELECT count(*) FROM todos WHERE title = 'Buy milk'"), 1);
}

#[test]
fn every_failure_has_its_status_a_json_error_and_a_log_row() {
    let server = TestServer::start();
    let (_user, client, token) = server.caller("bob@example.com", None);
    let url = server.url("/api/todo-demo");
    let cases: Vec<(&str, common::Reply, u16, &str)> = vec![
        ("malformed JSON", post_json(&url, Some(&token), "{\"title\":"), 400, "Malformed JSON"),
        ("missing title", post_json(&url, Some(&token), "{}"), 400, "title"),
        ("wrong type", post_json(&url, Some(&token), r#"{"title":"x","status":7}"#), 400, "status"),
        ("too long", post_json(&url, Some(&token), &format!(r#"{{"title":"{}"}}"#, "x".repeat(501))), 400, "title"),
        (
            "too large",
            post_json(&url, Some(&token), &format!(r#"{{"title":"x","description":"{}"}}"#, "y".repeat(70_000))),
            413,
            "larger",
        ),
        (
            "form body",
            reply(
                http()
                    .post(&url)
                    .header("Authorization", format!("Bearer {token}"))
                    .content_type("text/plain")
                    .send("title=x"),
            ),
            415,
            "Content-Type",
        ),
    ];
    for (what, response, status, mentions) in &cases {
        assert_eq!(response.status, *status, "{what}: {:?}", response.body);
        assert!(response.error().contains(mentions), "{what}: error should mention {mentions}: {:?}", response.body);
    }
    // None of them counted, every one of them logged with the caller.
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);
    assert_eq!(server.count("SELECT coalesce(sum(count), 0) FROM api_usage"), 0);
    let logged =
        server.count(&format!("SELECT count(*) FROM api_calls WHERE client_id = '{client}' AND status >= 400"));
    assert_eq!(logged, cases.len() as i64);
}

#[test]
fn unauthorized_for_missing_malformed_unknown_expired_and_revoked_tokens() {
    let server = TestServer::start();
    let (user, client, _token) = server.caller("carol@example.com", None);
    let expired = server.token(&user, &client, Duration::from_secs(1));
    let revoked = server.token(&user, &client, Duration::from_secs(3600));
    server
        .sql()
        .execute(
            "UPDATE oauth_tokens SET revoked_at = 1 WHERE token_hash = ?1",
            [gpt_todo::support::secrets::hash_secret(&revoked)],
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    let url = server.url("/api/todo-demo");
    let body = r#"{"title":"x"}"#;
    let cases = [
        ("missing", reply(http().post(&url).content_type("application/json").send(body))),
        (
            "not bearer",
            reply(http().post(&url).header("Authorization", "Basic YTpi").content_type("application/json").send(body)),
        ),
        ("unknown", post_json(&url, Some("gta_not-a-real-token"), body)),
        ("expired", post_json(&url, Some(&expired), body)),
        ("revoked", post_json(&url, Some(&revoked), body)),
    ];
    for (what, response) in &cases {
        assert_eq!(response.status, 401, "{what}: {:?}", response.body);
        assert!(response.header("www-authenticate").unwrap_or("").starts_with("Bearer"), "{what}: WWW-Authenticate");
        assert!(!response.error().is_empty());
    }
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status = 401 AND user_id IS NULL"), 5);
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);
}

#[test]
fn quota_is_exact_under_concurrency() {
    let server = TestServer::start();
    let (user, client, token) = server.caller("dave@example.com", Some(50));
    let url = server.url("/api/todo-demo");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..200)
            .map(|i| {
                let (url, token) = (&url, &token);
                scope.spawn(move || post_json(url, Some(token), &format!(r#"{{"title":"race {i}"}}"#)).status)
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 50, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 150);
    assert_eq!(server.count("SELECT count(*) FROM todos"), 50);
    let counter =
        server.count(&format!("SELECT count FROM api_usage WHERE user_id = '{user}' AND client_id = '{client}'"));
    assert_eq!(counter, 50);
    assert_eq!(server.count("SELECT count(*) FROM api_calls"), 200);
    let over = post_json(&url, Some(&token), r#"{"title":"one more"}"#);
    assert_eq!(over.error(), "You have reached the maximum number of free API calls.");
    assert_eq!(over.header("ratelimit-remaining"), Some("0"));
}

#[test]
fn callers_are_counted_apart_and_tokens_never_logged() {
    let server = TestServer::start();
    let (user_a, client, token_a) = server.caller("erin@example.com", Some(10));
    let user_b = server.add_user("frank@example.com");
    let token_b = server.token(&user_b, &client, Duration::from_secs(3600));
    for _ in 0..3 {
        assert_eq!(post_json(&server.url("/api/todo-demo"), Some(&token_a), r#"{"title":"a"}"#).status, 200);
    }
    let first_b = post_json(&server.url("/api/todo-demo"), Some(&token_b), r#"{"title":"b"}"#);
    assert_eq!(first_b.header("ratelimit-remaining"), Some("9"), "B's counter must not include A's calls");
    assert_eq!(server.count(&format!("SELECT count FROM api_usage WHERE user_id = '{user_a}'")), 3);
    assert_eq!(server.count(&format!("SELECT count FROM api_usage WHERE user_id = '{user_b}'")), 1);
    // Search every column of every log row, and the whole database file, for the tokens.
    let conn = server.sql();
    let dump: String = conn
        .query_row("SELECT group_concat(quote(api_calls.id) || method || path || coalesce(user_agent,'') || coalesce(error,'') || request_id, '|') FROM api_calls", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    for token in [&token_a, &token_b] {
        assert!(!dump.contains(token.as_str()));
        let file = std::fs::read(&server.db_path).unwrap();
        let needle = token.as_bytes();
        assert!(!file.windows(needle.len()).any(|w| w == needle), "the token must not be stored anywhere");
    }
}

#[test]
fn health_cors_and_unknown_routes() {
    let server = TestServer::start();
    let health = get(&server.url("/healthz"), None);
    assert_eq!((health.status, health.body.clone()), (200, serde_json::json!({"status":"ok"})));
    let preflight = reply(
        http()
            .options(server.url("/api/todo-demo"))
            .header("Origin", "https://chatgpt.com")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization, content-type")
            .call(),
    );
    assert_eq!(preflight.status, 200);
    assert!(preflight.header("access-control-allow-origin").is_some());
    assert_eq!(get(&server.url("/api/nope"), None).status, 404);
    assert_eq!(get(&server.url("/api/todo-demo"), None).status, 405);
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status IN (404, 405)"), 2);
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE path = '/healthz'"), 0);
}

#[test]
fn configured_cors_origins_are_the_only_ones_allowed() {
    let server = TestServer::start_with(|config| config.cors_origins = vec!["https://chatgpt.com".into()]);
    let preflight = |origin: &str| {
        reply(
            http()
                .options(server.url("/api/todo-demo"))
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .call(),
        )
    };
    let allowed = preflight("https://chatgpt.com");
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://chatgpt.com"));
    let refused = preflight("https://evil.example");
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert!(refused.error().contains("CORS"));
}

#[test]
fn a_failed_insert_is_the_references_500_logged_and_not_counted() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("gina@example.com", None);
    // An operator's trigger stands in for a database that refuses the write.
    server
        .sql()
        .execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON todos BEGIN SELECT RAISE(ABORT, 'no'); END;")
        .unwrap();
    let failed = post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"x"}"#);
    assert_eq!(failed.status, 500);
    assert_eq!(failed.error(), "Failed to create todo item");
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);
    assert_eq!(server.count("SELECT coalesce(sum(count), 0) FROM api_usage"), 0, "a failed call does not count");
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status = 500"), 1, "but it is logged");
}

#[test]
fn when_the_log_row_cannot_be_written_nothing_of_the_call_is_kept() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("hal@example.com", None);
    server
        .sql()
        .execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON api_calls BEGIN SELECT RAISE(ABORT, 'no'); END;")
        .unwrap();
    let failed = post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"x"}"#);
    assert_eq!(failed.status, 500, "{:?}", failed.body);
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0, "an unlogged call must not leave its todo");
    assert_eq!(server.count("SELECT coalesce(sum(count), 0) FROM api_usage"), 0, "nor its count");
    server.sql().execute_batch("DROP TRIGGER refuse").unwrap();
    assert_eq!(post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"x"}"#).status, 200);
}

#[test]
fn every_response_carries_the_request_id_its_log_row_has() {
    let server = TestServer::start();
    let (_, _, token) = server.caller("rid@example.com", None);
    let logged = |id: &str| server.count(&format!("SELECT count(*) FROM api_calls WHERE request_id = '{id}'"));
    let created = post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"id"}"#);
    let unauthorized = post_json(&server.url("/api/todo-demo"), None, r#"{"title":"id"}"#);
    let unmatched = get(&server.url("/api/nothing-here"), Some(&token));
    for (what, reply) in [("200", &created), ("401", &unauthorized), ("404", &unmatched)] {
        let id = reply.header("x-request-id").unwrap_or_else(|| panic!("{what} without X-Request-Id"));
        assert_eq!(logged(id), 1, "the {what}'s X-Request-Id {id} names its api_calls row");
    }
    let health = get(&server.url("/healthz"), None);
    let ids = [&created, &unauthorized, &unmatched, &health].map(|r| r.header("x-request-id").unwrap().to_owned());
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 4, "every request its own id: {ids:?}");
}

/// The route table beside `routes()` is the server's whole surface: each listed method of each
/// path is routed (never a 404 or 405), and every other method is a 405 whose `Allow` is the table's.
#[test]
fn every_path_and_method_follows_the_route_table() {
    let server = TestServer::start();
    let agent = common::http();
    for (pattern, allowed) in gpt_todo::ROUTE_TABLE {
        let url = server.url(&pattern.replace("{id}", "1"));
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let sent = match method {
                "GET" => agent.get(&url).call(),
                "DELETE" => agent.delete(&url).call(),
                "POST" => agent.post(&url).send_empty(),
                "PUT" => agent.put(&url).send_empty(),
                _ => agent.patch(&url).send_empty(),
            };
            let answer = reply(sent);
            if allowed.split(", ").any(|m| m == method) {
                assert!(![404, 405].contains(&answer.status), "{method} {pattern} is routed, got {}", answer.status);
            } else {
                assert_eq!(
                    (answer.status, answer.header("allow")),
                    (405, Some(*allowed)),
                    "{method} {pattern} is not in the table: expected a 405 with Allow: {allowed}"
                );
            }
        }
    }
}
