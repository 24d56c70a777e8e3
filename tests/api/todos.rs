//! `/api/todos`: list, create, read, update, delete, each through auth → quota → log.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::{Reply, TestServer, get, http, post_json, reply};
use serde_json::Value;

fn patch_json(url: &str, token: &str, body: &str) -> Reply {
    reply(
        http()
            .patch(url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body),
    )
}

fn delete(url: &str, token: &str) -> Reply {
    reply(http().delete(url).header("Authorization", format!("Bearer {token}")).call())
}

/// Creates a todo through the API and returns it.
fn create(server: &TestServer, token: &str, body: &str) -> Value {
    let created = post_json(&server.url("/api/todos"), Some(token), body);
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body
}

fn ids(page: &Reply) -> Vec<i64> {
    page.body["todos"]
        .as_array()
        .unwrap_or_else(|| panic!("expected a page, got {:?}", page.body))
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

fn usage(server: &TestServer, user: &str) -> i64 {
    server.count(&format!("SELECT coalesce(sum(count), 0) FROM api_usage WHERE user_id = '{user}'"))
}

#[test]
fn create_answers_201_with_location_and_the_todo_reads_back() {
    let server = TestServer::start();
    let (user, _client, token) = server.caller("alice@example.com", None);
    let created =
        post_json(&server.url("/api/todos"), Some(&token), r#"{"title":"Buy milk","description":"2 litres"}"#);
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(created.header("location"), Some(format!("/api/todos/{id}").as_str()));
    assert_eq!(created.body["status"], "pending");
    assert_eq!(created.body["userId"], user.as_str());
    assert_eq!(created.header("ratelimit-remaining"), Some("999"));

    let read = get(&server.url(&format!("/api/todos/{id}")), Some(&token));
    assert_eq!(read.status, 200);
    assert_eq!(read.body, created.body, "GET must answer the todo exactly as created");
    assert_eq!(read.header("ratelimit-remaining"), Some("998"));
}

#[test]
fn list_is_newest_first_and_filters_by_status() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("bob@example.com", None);
    let mut made = Vec::new();
    for i in 0..5 {
        let status = if i % 2 == 0 { "done" } else { "pending" };
        made.push(
            create(&server, &token, &format!(r#"{{"title":"t{i}","status":"{status}"}}"#))["id"].as_i64().unwrap(),
        );
    }
    let all = get(&server.url("/api/todos"), Some(&token));
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(ids(&all), made.iter().rev().copied().collect::<Vec<_>>(), "newest first");
    assert_eq!(all.body["nextCursor"], Value::Null, "one page holds everything");
    assert_eq!(all.body["todos"][0]["title"], "t4");

    let done = get(&server.url("/api/todos?status=done"), Some(&token));
    assert_eq!(ids(&done), vec![made[4], made[2], made[0]]);
    let spaced = create(&server, &token, r#"{"title":"x","status":"in progress"}"#);
    let by_space = get(&server.url("/api/todos?status=in%20progress"), Some(&token));
    assert_eq!(ids(&by_space), vec![spaced["id"].as_i64().unwrap()]);
    assert!(ids(&get(&server.url("/api/todos?status=nothing-has-this"), Some(&token))).is_empty());
}

#[test]
fn limit_bounds_and_bad_parameters_are_400s_naming_them() {
    let server = TestServer::start();
    let (user, _client, token) = server.caller("carol@example.com", None);
    for i in 0..3 {
        create(&server, &token, &format!(r#"{{"title":"t{i}"}}"#));
    }
    let one = get(&server.url("/api/todos?limit=1"), Some(&token));
    assert_eq!(ids(&one).len(), 1);
    assert!(one.body["nextCursor"].is_string());
    assert_eq!(ids(&get(&server.url("/api/todos?limit=100"), Some(&token))).len(), 3);
    let counted = usage(&server, &user);

    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("limit=2.5", "limit"),
        ("status=", "status"),
        (&format!("status={}", "s".repeat(51)), "status"),
        ("cursor=not-a-cursor", "cursor"),
    ];
    for (query, name) in &cases {
        let bad = get(&server.url(&format!("/api/todos?{query}")), Some(&token));
        assert_eq!(bad.status, 400, "{query}: {:?}", bad.body);
        assert!(bad.error().starts_with(name), "{query}: the error should name {name}: {:?}", bad.body);
    }
    assert_eq!(usage(&server, &user), counted, "refused calls are not counted");
    let logged = server.count("SELECT count(*) FROM api_calls WHERE status = 400 AND path = '/api/todos'");
    assert_eq!(logged, cases.len() as i64, "but every one is logged");
}

/// Walks every page with `limit`, calling `between` after each page; returns the ids in order.
fn walk(server: &TestServer, token: &str, limit: u32, mut between: impl FnMut()) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut url = server.url(&format!("/api/todos?limit={limit}"));
    loop {
        let page = get(&url, Some(token));
        assert_eq!(page.status, 200, "{:?}", page.body);
        let page_ids = ids(&page);
        assert!(page_ids.len() <= limit as usize);
        seen.extend(page_ids);
        between();
        match page.body["nextCursor"].as_str() {
            Some(cursor) => url = server.url(&format!("/api/todos?limit={limit}&cursor={cursor}")),
            None => return seen,
        }
    }
}

#[test]
fn pagination_returns_every_todo_exactly_once_even_while_todos_are_added() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("dave@example.com", None);
    let (_other, _client, other_token) = server.caller("eve@example.com", None);
    let mut existing: Vec<i64> =
        (0..45).map(|i| create(&server, &token, &format!(r#"{{"title":"t{i}"}}"#))["id"].as_i64().unwrap()).collect();
    existing.reverse();

    assert_eq!(walk(&server, &token, 10, || {}), existing, "all todos, newest first, each once");
    assert_eq!(walk(&server, &token, 15, || {}), existing, "a limit that divides the total evenly ends cleanly");

    let mut added = 0;
    let walked = walk(&server, &token, 10, || {
        create(&server, &token, r#"{"title":"added while walking"}"#);
        create(&server, &other_token, r#"{"title":"someone else's"}"#);
        added += 1;
    });
    assert_eq!(walked, existing, "todos added during the walk neither repeat nor hide older ones");
    let unique: HashSet<i64> = walked.iter().copied().collect();
    assert_eq!(unique.len(), walked.len());
    let everything = walk(&server, &token, 100, || {});
    assert_eq!(everything.len(), 45 + added, "the added todos are on a fresh walk, and only the caller's");
}

#[test]
fn another_users_todo_is_404_for_every_method_and_unchanged() {
    let server = TestServer::start();
    let (alice, _client, alice_token) = server.caller("alice@example.com", None);
    let (bob, _client, bob_token) = server.caller("bob@example.com", None);
    let todo = create(&server, &alice_token, r#"{"title":"Alice's secret","description":"mine"}"#);
    let url = server.url(&format!("/api/todos/{}", todo["id"]));
    let (alice_count, bob_count) = (usage(&server, &alice), usage(&server, &bob));

    let attempts = [
        ("GET", get(&url, Some(&bob_token))),
        ("PATCH", patch_json(&url, &bob_token, r#"{"title":"Bob was here","status":"done"}"#)),
        ("DELETE", delete(&url, &bob_token)),
    ];
    for (method, response) in &attempts {
        assert_eq!(response.status, 404, "{method}: {:?}", response.body);
        assert_eq!(response.error(), "Not found", "{method}: nothing may reveal that the todo exists");
    }
    assert_eq!(usage(&server, &alice), alice_count, "Alice's counter is untouched");
    assert_eq!(usage(&server, &bob), bob_count, "Bob's failed calls are not counted");
    let bobs_list = get(&server.url("/api/todos"), Some(&bob_token));
    assert_eq!(ids(&bobs_list), Vec::<i64>::new(), "Bob's list never shows Alice's rows");

    let after = get(&url, Some(&alice_token));
    assert_eq!(after.body, todo, "Alice's todo is exactly as it was");
    let bobs_own = create(&server, &bob_token, r#"{"title":"Bob's"}"#);
    assert_eq!(ids(&get(&server.url("/api/todos"), Some(&alice_token))), vec![todo["id"].as_i64().unwrap()]);
    assert_eq!(ids(&get(&server.url("/api/todos"), Some(&bob_token))), vec![bobs_own["id"].as_i64().unwrap()]);
}

#[test]
fn patch_changes_only_what_it_names_and_refreshes_updated_at() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("frank@example.com", None);
    let todo = create(&server, &token, r#"{"title":"Write report","description":"Q3","status":"pending"}"#);
    let url = server.url(&format!("/api/todos/{}", todo["id"]));
    std::thread::sleep(Duration::from_millis(5));

    let patched = patch_json(&url, &token, r#"{"status":"done","title":null,"unknown":1}"#);
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["status"], "done");
    for unchanged in ["id", "title", "description", "userId", "createdAt"] {
        assert_eq!(patched.body[unchanged], todo[unchanged], "{unchanged} must not change");
    }
    assert!(patched.body["updatedAt"].as_str() > todo["updatedAt"].as_str(), "updatedAt is refreshed");
    let both = patch_json(&url, &token, r#"{"title":"Write the report","description":""}"#);
    assert_eq!((both.body["title"].as_str(), both.body["description"].as_str()), (Some("Write the report"), Some("")));
    assert_eq!(get(&url, Some(&token)).body, both.body);
}

#[test]
fn patch_is_validated_like_create_and_an_empty_patch_is_400() {
    let server = TestServer::start();
    let (user, _client, token) = server.caller("grace@example.com", None);
    let todo = create(&server, &token, r#"{"title":"Keep me"}"#);
    let url = server.url(&format!("/api/todos/{}", todo["id"]));
    let counted = usage(&server, &user);
    let long_title = format!(r#"{{"title":"{}"}}"#, "x".repeat(501));
    let long_description = format!(r#"{{"description":"{}"}}"#, "x".repeat(10_001));
    let long_status = format!(r#"{{"status":"{}"}}"#, "x".repeat(51));
    let cases: [(&str, &str, &str); 10] = [
        ("{}", "Nothing to update", "an empty patch"),
        (r#"{"title":null,"other":"x"}"#, "Nothing to update", "only nulls and unknown fields"),
        (r#"{"title":""}"#, "title", "an empty title"),
        (r#"{"title":"   "}"#, "title", "a blank title"),
        (r#"{"status":""}"#, "status", "an empty status"),
        (r#"{"description":7}"#, "description", "a number"),
        (&long_title, "title", "501 characters"),
        (&long_description, "description", "10,001 characters"),
        (&long_status, "status", "51 characters"),
        (r#"{"title":"#, "Malformed JSON", "malformed JSON"),
    ];
    for (body, mentions, what) in &cases {
        let refused = patch_json(&url, &token, body);
        assert_eq!(refused.status, 400, "{what}: {:?}", refused.body);
        assert!(refused.error().contains(mentions), "{what}: the error should mention {mentions}: {:?}", refused.body);
    }
    let form = reply(
        http().patch(&url).header("Authorization", format!("Bearer {token}")).content_type("text/plain").send("x"),
    );
    assert_eq!(form.status, 415);
    assert_eq!(get(&url, Some(&token)).body, todo, "no refused patch changed the todo");
    assert_eq!(usage(&server, &user), counted + 1, "only the GET just above counted");
}

#[test]
fn delete_answers_204_and_the_todo_is_gone() {
    let server = TestServer::start();
    let (user, _client, token) = server.caller("heidi@example.com", None);
    let todo = create(&server, &token, r#"{"title":"Temporary"}"#);
    let url = server.url(&format!("/api/todos/{}", todo["id"]));
    let deleted = delete(&url, &token);
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null, "a 204 has no body");
    assert_eq!(deleted.header("ratelimit-remaining"), Some("998"));
    assert_eq!(get(&url, Some(&token)).status, 404);
    assert_eq!(delete(&url, &token).status, 404);
    assert_eq!(patch_json(&url, &token, r#"{"title":"back?"}"#).status, 404);
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);
    assert_eq!(usage(&server, &user), 2, "the create and the delete; the 404s do not count");
}

#[test]
fn malformed_ids_are_400_after_auth_and_unknown_ids_404() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("ivan@example.com", None);
    for bad in ["abc", "0", "-3", "1.5", "99999999999999999999"] {
        let url = server.url(&format!("/api/todos/{bad}"));
        let refused = get(&url, Some(&token));
        assert_eq!(refused.status, 400, "{bad}: {:?}", refused.body);
        assert!(refused.error().starts_with("id must be"), "{bad}: {:?}", refused.body);
        assert_eq!(delete(&url, &token).status, 400, "{bad}");
        assert_eq!(get(&url, None).status, 401, "{bad}: auth comes before everything else");
    }
    assert_eq!(get(&server.url("/api/todos/12345"), Some(&token)).status, 404);
    let put = reply(http().put(server.url("/api/todos/1")).send("{}"));
    assert_eq!((put.status, put.header("allow")), (405, Some("GET, PATCH, DELETE")), "a 405 says what is allowed");
    let wrong = reply(http().put(server.url("/api/todos")).send("{}"));
    assert_eq!(wrong.header("allow"), Some("GET, POST"));
    assert_eq!(get(&server.url("/api/todos/1/extra"), Some(&token)).status, 404);
}

#[test]
fn each_successful_call_counts_once_and_failures_do_not() {
    let server = TestServer::start();
    let (user, client, token) = server.caller("judy@example.com", Some(5));
    let todo = create(&server, &token, r#"{"title":"one"}"#);
    let url = server.url(&format!("/api/todos/{}", todo["id"]));
    assert_eq!(get(&server.url("/api/todos"), Some(&token)).status, 200);
    assert_eq!(get(&url, Some(&token)).status, 200);
    assert_eq!(get(&server.url("/api/todos/999"), Some(&token)).status, 404);
    assert_eq!(patch_json(&url, &token, "{}").status, 400);
    assert_eq!(get(&server.url("/api/todos?limit=0"), Some(&token)).status, 400);
    assert_eq!(usage(&server, &user), 3, "three successes");
    assert_eq!(patch_json(&url, &token, r#"{"status":"done"}"#).status, 200);
    let fifth = delete(&url, &token);
    assert_eq!((fifth.status, fifth.header("ratelimit-remaining")), (204, Some("0")));
    let over = get(&server.url("/api/todos"), Some(&token));
    assert_eq!(over.status, 429);
    assert_eq!(over.error(), "You have reached the maximum number of free API calls.");
    assert_eq!(usage(&server, &user), 5);
    let logged = server.count(&format!("SELECT count(*) FROM api_calls WHERE client_id = '{client}'"));
    assert_eq!(logged, 9, "every outcome is logged once");
    let counted_rows = server.count(&format!(
        "SELECT count(*) FROM api_calls WHERE client_id = '{client}' AND status < 300 AND usage_count IS NOT NULL"
    ));
    assert_eq!(counted_rows, 5);
}

fn with_bearer<B>(request: ureq::RequestBuilder<B>, token: Option<&str>) -> ureq::RequestBuilder<B> {
    match token {
        Some(token) => request.header("Authorization", format!("Bearer {token}")),
        None => request,
    }
}

#[test]
fn every_operation_needs_a_valid_token() {
    let server = TestServer::start();
    let (_user, _client, token) = server.caller("kim@example.com", None);
    let todo = create(&server, &token, r#"{"title":"guarded"}"#);
    let one = server.url(&format!("/api/todos/{}", todo["id"]));
    let list = server.url("/api/todos");
    let body = r#"{"title":"x"}"#;
    for bearer in [None, Some("gta_not-a-real-token")] {
        let attempts = [
            ("list", get(&list, bearer)),
            ("create", post_json(&list, bearer, body)),
            ("read", get(&one, bearer)),
            ("update", reply(with_bearer(http().patch(&one), bearer).content_type("application/json").send(body))),
            ("delete", reply(with_bearer(http().delete(&one), bearer).call())),
        ];
        for (what, response) in &attempts {
            assert_eq!(response.status, 401, "{what} with {bearer:?}: {:?}", response.body);
            assert!(response.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")), "{what}");
        }
    }
    assert_eq!(get(&one, Some(&token)).body, todo, "nothing changed");
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status = 401 AND user_id IS NULL"), 10);
}
