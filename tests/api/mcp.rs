//! The MCP endpoint over real HTTP: both protocol eras, the tools through the chain (counted,
//! logged, the quota exact under a race and shared with the REST API), and every refusal of the
//! transport, none of which counts anything.

use crate::common;

use std::sync::{Arc, Barrier};

use crate::common::{Reply, TestServer, get, post_json, reply};
use serde_json::{Value, json};

const MODERN: &str = "2026-07-28";
const QUOTA_MESSAGE: &str = "You have reached the maximum number of free API calls.";

/// A 2026-07-28 request with its `_meta` and the headers that mirror it.
fn modern(server: &TestServer, token: Option<&str>, id: u64, method: &str, mut params: Value) -> Reply {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "tests/api/mcp.rs", "version": "1" },
    });
    let mut headers = vec![("MCP-Protocol-Version", MODERN.to_owned()), ("Mcp-Method", method.to_owned())];
    // Mcp-Name mirrors the tool's name or the resource's URI (2026-07-28, Streamable HTTP).
    if let Some(name) = params["name"].as_str().or(params["uri"].as_str()) {
        headers.push(("Mcp-Name", name.to_owned()));
    }
    let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
    send(server, token, &headers, &body.to_string())
}

/// A handshake-era request, with the version negotiated by `initialize` in its header.
fn legacy(
    server: &TestServer,
    token: Option<&str>,
    version: &str,
    id: Option<u64>,
    method: &str,
    params: Value,
) -> Reply {
    let mut body = json!({ "jsonrpc": "2.0", "method": method, "params": params });
    if let Some(id) = id {
        body["id"] = id.into();
    }
    let headers = if method == "initialize" { vec![] } else { vec![("MCP-Protocol-Version", version.to_owned())] };
    send(server, token, &headers, &body.to_string())
}

fn send(server: &TestServer, token: Option<&str>, headers: &[(&str, String)], body: &str) -> Reply {
    let mut request = common::http()
        .post(server.url("/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    reply(request.send(body))
}

fn call_tool(server: &TestServer, token: &str, name: &str, arguments: Value) -> Value {
    let answer = modern(server, Some(token), 7, "tools/call", json!({ "name": name, "arguments": arguments }));
    assert_eq!(answer.status, 200, "{name}: {:?}", answer.body);
    answer.body["result"].clone()
}

fn tool_error(result: &Value) -> &str {
    assert_eq!(result["isError"], true, "expected a tool error, got {result}");
    result["content"][0]["text"].as_str().unwrap()
}

/// What the call log holds for /mcp, oldest first: (tool, status).
fn mcp_log(server: &TestServer) -> Vec<(Option<String>, u16)> {
    let conn = server.sql();
    let mut statement = conn.prepare("SELECT tool, status FROM api_calls WHERE path = '/mcp' ORDER BY id").unwrap();
    statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn usage(server: &TestServer) -> i64 {
    server.count("SELECT coalesce(sum(count), 0) FROM api_usage")
}

#[test]
fn a_401_tells_the_client_where_to_sign_in() {
    let server = TestServer::start_with(|config| config.public_url = Some("https://todo.example".into()));
    let refused = modern(&server, None, 1, "server/discover", json!({}));
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(
        refused.header("www-authenticate"),
        Some(
            r#"Bearer resource_metadata="https://todo.example/.well-known/oauth-protected-resource/mcp", scope="todos""#
        )
    );
    let bogus = modern(&server, Some("gta_nope"), 1, "tools/list", json!({}));
    assert_eq!(bogus.status, 401);
    assert!(bogus.header("www-authenticate").unwrap().contains(r#"error="invalid_token""#), "{:?}", bogus.headers);
    for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"] {
        let document = get(&server.url(path), None);
        assert_eq!(document.status, 200, "{path}");
        assert_eq!(document.body["resource"], "https://todo.example/mcp", "{path}");
        assert_eq!(document.body["authorization_servers"], json!(["https://todo.example"]), "{path}");
        assert_eq!(document.body["scopes_supported"], json!(["todos"]), "{path}");
    }
    let metadata = get(&server.url("/.well-known/oauth-authorization-server"), None).body;
    assert_eq!(metadata["registration_endpoint"], "https://todo.example/api/oauth2/register");
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    assert_eq!(metadata["code_challenge_methods_supported"], json!(["S256"]));
    assert!(metadata["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));
    // Both refusals are logged, without a caller; nothing is counted.
    assert_eq!(mcp_log(&server), vec![(None, 401), (None, 401)]);
    assert_eq!(usage(&server), 0);
}

#[test]
fn only_tokens_bound_to_the_mcp_endpoint_are_taken_there() {
    let server = TestServer::start();
    let user = server.add_user("ann@example.com");
    let (client, _) = server.add_client(None);
    let unbound = server.token(&user, &client, std::time::Duration::from_secs(3600));
    let for_mcp = server.mcp_token(&user, &client);
    let for_api = server.bound_token(&user, &client, Some(&server.base));
    let elsewhere = server.bound_token(&user, &client, Some("https://other.example/mcp"));
    for (token, mcp, api) in [(&unbound, 401, 200), (&for_mcp, 200, 401), (&for_api, 401, 200), (&elsewhere, 401, 401)]
    {
        let on_mcp = modern(&server, Some(token), 1, "tools/list", json!({}));
        assert_eq!(on_mcp.status, mcp, "/mcp: {:?}", on_mcp.body);
        let on_api = get(&server.url("/api/todos"), Some(token));
        assert_eq!(on_api.status, api, "/api/todos: {:?}", on_api.body);
        if api == 401 {
            assert_eq!(on_api.error(), "The access token was not issued for this resource");
        }
    }
    let created = modern(
        &server,
        Some(&unbound),
        1,
        "tools/call",
        json!({ "name": "create_todo", "arguments": { "title": "x" } }),
    );
    assert_eq!(created.status, 401, "{:?}", created.body);
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);
    assert_eq!(mcp_log(&server).last(), Some(&(Some("create_todo".to_owned()), 401)));
    // Only the two REST reads that were let in counted.
    assert_eq!(usage(&server), 2);
}

/// A legacy-era `tools/call` of `create_todo` posted to `path`.
fn create_at(server: &TestServer, path: &str, token: &str) -> Reply {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": { "name": "create_todo", "arguments": { "title": "via MCP" } } });
    let request = common::http()
        .post(server.url(path))
        .header("Content-Type", "application/json")
        .header("MCP-Protocol-Version", "2025-11-25")
        .header("Authorization", format!("Bearer {token}"));
    reply(request.send(body.to_string()))
}

#[test]
fn the_trailing_slash_takes_the_same_audience_check_and_user_info_refuses_mcp_tokens() {
    let server = TestServer::start();
    let user = server.add_user("ann@example.com");
    let (client, _) = server.add_client(None);
    let unbound = server.token(&user, &client, std::time::Duration::from_secs(3600));
    let for_mcp = server.mcp_token(&user, &client);
    // `/mcp/` once checked the audience as the todo API does, so an unbound token ran tools there.
    let refused = create_at(&server, "/mcp/", &unbound);
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);
    let created = create_at(&server, "/mcp/", &for_mcp);
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.body["result"]["isError"], false, "{:?}", created.body);
    assert_eq!(mcp_log(&server).len(), 2, "both calls are logged as /mcp");
    // User info belongs to the todo API: a token bound to /mcp is not taken there.
    let info = get(&server.url("/api/oauth2/userinfo"), Some(&for_mcp));
    assert_eq!(info.status, 401, "{:?}", info.body);
    assert_eq!(info.error(), "The access token was not issued for this resource");
    assert_eq!(get(&server.url("/api/oauth2/userinfo"), Some(&unbound)).body["id"], user.as_str());
}

#[test]
fn the_2026_07_28_flow_discover_list_and_every_tool() {
    let server = TestServer::start();
    let (user, client) = (server.add_user("ann@example.com"), server.add_client(None).0);
    let token = server.mcp_token(&user, &client);

    let discover = modern(&server, Some(&token), 1, "server/discover", json!({}));
    assert_eq!(discover.status, 200, "{:?}", discover.body);
    let result = &discover.body["result"];
    assert_eq!((discover.body["id"].as_u64(), result["resultType"].as_str()), (Some(1), Some("complete")));
    assert_eq!(result["supportedVersions"], json!([MODERN, "2025-11-25", "2025-06-18"]));
    assert_eq!(result["capabilities"]["tools"], json!({ "listChanged": false }));
    assert_eq!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "gpt-todo");
    assert!(result["ttlMs"].as_u64().is_some() && result["cacheScope"].is_string(), "{result}");
    assert!(discover.header("mcp-session-id").is_none(), "a stateless server issues no session");

    let tools = modern(&server, Some(&token), 2, "tools/list", json!({})).body["result"].clone();
    let names: Vec<&str> = tools["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["list_todos", "get_todo", "create_todo", "update_todo", "delete_todo"]);
    assert!(tools["ttlMs"].is_u64(), "{tools}");
    let create = &tools["tools"][2];
    assert_eq!(create["inputSchema"]["properties"]["title"]["maxLength"], 500);
    assert_eq!(create["inputSchema"]["properties"]["description"]["maxLength"], 10_000);
    assert_eq!(create["inputSchema"]["properties"]["status"]["maxLength"], 50);
    assert_eq!(create["annotations"]["readOnlyHint"], false);
    assert_eq!(tools["tools"][4]["annotations"]["destructiveHint"], true);

    let created = call_tool(&server, &token, "create_todo", json!({ "title": "Buy milk", "description": "2 l" }));
    assert_eq!(created["isError"], false, "{created}");
    let todo = created["structuredContent"].clone();
    assert_eq!((todo["title"].as_str(), todo["status"].as_str()), (Some("Buy milk"), Some("pending")));
    let text: Value = serde_json::from_str(created["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, todo, "the text block carries the same todo");
    let id = todo["id"].as_i64().unwrap();

    let listed = call_tool(&server, &token, "list_todos", json!({ "limit": 10 }));
    assert_eq!(listed["structuredContent"]["todos"][0]["id"], id);
    assert_eq!(listed["structuredContent"]["nextCursor"], Value::Null);
    assert_eq!(call_tool(&server, &token, "get_todo", json!({ "id": id }))["structuredContent"], todo);
    let updated = call_tool(&server, &token, "update_todo", json!({ "id": id, "status": "done" }));
    assert_eq!(updated["structuredContent"]["status"], "done");
    assert_eq!(updated["structuredContent"]["title"], "Buy milk");
    let deleted = call_tool(&server, &token, "delete_todo", json!({ "id": id }));
    assert_eq!(deleted["structuredContent"], json!({ "id": id, "deleted": true }));
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);

    // Five tool calls counted and logged with their tools; discover and list are neither.
    assert_eq!(usage(&server), 5);
    let logged: Vec<(Option<String>, u16)> = ["create_todo", "list_todos", "get_todo", "update_todo", "delete_todo"]
        .map(|t| (Some(t.to_owned()), 200))
        .into();
    assert_eq!(mcp_log(&server), logged);
    let logs = server.cli(&["logs", "--json"]);
    let rows: Value = serde_json::from_slice(&logs.stdout).unwrap();
    assert_eq!(rows[0]["path"], "/mcp");
    assert_eq!(rows[0]["tool"], "delete_todo");
    assert_eq!(rows[0]["clientId"], client.as_str());
    assert_eq!(rows[0]["usageCount"], 5);
    let table = String::from_utf8(server.cli(&["logs"]).stdout).unwrap();
    assert!(table.contains("TOOL") && table.contains("create_todo"), "{table}");
}

#[test]
fn the_handshake_era_flows_negotiate_and_then_call_tools() {
    let server = TestServer::start();
    let (user, client) = (server.add_user("ann@example.com"), server.add_client(None).0);
    let token = server.mcp_token(&user, &client);
    for (asked, agreed) in [("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"), ("2024-11-05", "2025-11-25")] {
        let init = legacy(
            &server,
            Some(&token),
            agreed,
            Some(1),
            "initialize",
            json!({ "protocolVersion": asked, "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } }),
        );
        assert_eq!(init.status, 200, "{:?}", init.body);
        let result = &init.body["result"];
        assert_eq!(result["protocolVersion"], agreed, "asked for {asked}");
        assert_eq!(result["serverInfo"]["name"], "gpt-todo");
        assert_eq!(result["capabilities"]["tools"], json!({ "listChanged": false }));
        assert!(result.get("resultType").is_none(), "handshake-era results have no resultType: {result}");
        let initialized = legacy(&server, Some(&token), agreed, None, "notifications/initialized", json!({}));
        assert_eq!((initialized.status, &initialized.body), (202, &Value::Null));
        let ping = legacy(&server, Some(&token), agreed, Some(2), "ping", json!({}));
        assert_eq!(ping.body["result"], json!({}), "{:?}", ping.body);
        let tools = legacy(&server, Some(&token), agreed, Some(3), "tools/list", json!({}));
        assert_eq!(tools.body["result"]["tools"].as_array().map(Vec::len), Some(5), "{:?}", tools.body);
        let call = legacy(
            &server,
            Some(&token),
            agreed,
            Some(4),
            "tools/call",
            json!({ "name": "create_todo", "arguments": { "title": format!("from {agreed}") } }),
        );
        assert_eq!(call.body["result"]["structuredContent"]["title"], format!("from {agreed}"), "{:?}", call.body);
    }
    assert_eq!(usage(&server), 3);
    // ping and the handshake are gone in 2026-07-28; discover is not in the older revisions.
    let ping = modern(&server, Some(&token), 9, "ping", json!({}));
    assert_eq!((ping.status, ping.body["error"]["code"].as_i64()), (404, Some(-32601)), "{:?}", ping.body);
    let discover = legacy(&server, Some(&token), "2025-11-25", Some(9), "server/discover", json!({}));
    assert_eq!((discover.status, discover.body["error"]["code"].as_i64()), (200, Some(-32601)), "{:?}", discover.body);
}

#[test]
fn bad_arguments_and_unknown_ids_are_tool_errors_that_name_the_problem() {
    let server = TestServer::start();
    let (user, client) = (server.add_user("ann@example.com"), server.add_client(None).0);
    let token = server.mcp_token(&user, &client);
    let (bob, bob_client) = (server.add_user("bob@example.com"), server.add_client(None).0);
    let bobs_token = server.mcp_token(&bob, &bob_client);
    let bobs =
        call_tool(&server, &bobs_token, "create_todo", json!({ "title": "Bob's" }))["structuredContent"]["id"].clone();

    let cases = [
        ("create_todo", json!({}), "title is required"),
        ("create_todo", json!({ "title": " " }), "title must not be empty"),
        ("create_todo", json!({ "title": 5 }), "title must be a string"),
        ("create_todo", json!({ "title": "x".repeat(501) }), "title must be at most 500 characters"),
        (
            "create_todo",
            json!({ "title": "x", "description": "d".repeat(10_001) }),
            "description must be at most 10000 characters",
        ),
        ("create_todo", json!({ "title": "x", "status": "" }), "status must not be empty"),
        ("update_todo", json!({ "id": 1 }), "Nothing to update: give at least one of title, description, status"),
        ("get_todo", json!({ "id": -3 }), "id must be a positive integer (a todo's id)"),
        ("get_todo", json!({ "id": 1e300 }), "id must be a positive integer (a todo's id)"),
        ("get_todo", json!({ "id": "99999999999999999999999" }), "id must be a positive integer (a todo's id)"),
        ("delete_todo", json!({}), "id must be a positive integer (a todo's id)"),
        ("list_todos", json!({ "limit": 101 }), "limit must be an integer from 1 to 100"),
        (
            "list_todos",
            json!({ "cursor": "nope" }),
            "cursor is not valid: pass the nextCursor of a previous page unchanged",
        ),
    ];
    for (tool, arguments, message) in &cases {
        let result = call_tool(&server, &token, tool, arguments.clone());
        assert_eq!(tool_error(&result), *message, "{tool} {arguments}");
    }
    // Bob's todo and one that does not exist look the same to Ann.
    for id in [bobs.clone(), json!(424242)] {
        for tool in ["get_todo", "delete_todo"] {
            let result = call_tool(&server, &token, tool, json!({ "id": id }));
            assert_eq!(
                tool_error(&result),
                format!("No todo with id {id} was found for this user. Use list_todos to see the ids.")
            );
        }
        let result = call_tool(&server, &token, "update_todo", json!({ "id": id, "title": "mine now" }));
        assert!(tool_error(&result).starts_with("No todo with id"), "{result}");
    }
    assert_eq!(server.count("SELECT count(*) FROM todos WHERE title = 'Bob''s'"), 1, "Bob's todo is untouched");
    // Refused calls are logged (400, 404) but not counted: only Bob's create counted.
    assert_eq!(usage(&server), 1);
    let statuses: Vec<u16> = mcp_log(&server).into_iter().map(|(_, status)| status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), cases.len());
    assert_eq!(statuses.iter().filter(|s| **s == 404).count(), 6);
}

#[test]
fn at_the_limit_a_tool_call_is_a_tool_error_with_the_references_message_and_a_logged_429() {
    let server = TestServer::start();
    let user = server.add_user("ann@example.com");
    let (client, _) = server.add_client(Some(3));
    let mcp = server.mcp_token(&user, &client);
    let rest = server.token(&user, &client, std::time::Duration::from_secs(3600));
    // One counter for the user and the client, whichever door the call came through.
    assert_eq!(post_json(&server.url("/api/todos"), Some(&rest), r#"{"title":"rest"}"#).status, 201);
    assert_eq!(call_tool(&server, &mcp, "create_todo", json!({ "title": "mcp" }))["isError"], false);
    assert_eq!(call_tool(&server, &mcp, "list_todos", json!({}))["isError"], false);
    let refused = call_tool(&server, &mcp, "create_todo", json!({ "title": "one too many" }));
    assert_eq!(tool_error(&refused), QUOTA_MESSAGE);
    let over = post_json(&server.url("/api/todos"), Some(&rest), r#"{"title":"rest again"}"#);
    assert_eq!((over.status, over.error()), (429, QUOTA_MESSAGE));
    assert_eq!(mcp_log(&server).last(), Some(&(Some("create_todo".to_owned()), 429)));
    assert_eq!(server.count("SELECT count FROM api_usage"), 3);
    assert_eq!(server.count("SELECT count(*) FROM todos"), 2);
    // Methods other than tools/call need the token but are not counted, even at the limit.
    assert_eq!(modern(&server, Some(&mcp), 1, "tools/list", json!({})).status, 200);
}

#[test]
fn exactly_the_limit_of_racing_tool_calls_succeed() {
    const LIMIT: usize = 20;
    const CALLS: usize = 64;
    let server = Arc::new(TestServer::start());
    let user = server.add_user("ann@example.com");
    let (client, _) = server.add_client(Some(LIMIT as u64));
    let token = Arc::new(server.mcp_token(&user, &client));
    let start = Arc::new(Barrier::new(CALLS));
    let threads: Vec<_> = (0..CALLS)
        .map(|i| {
            let (server, token, start) = (server.clone(), token.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                call_tool(&server, &token, "create_todo", json!({ "title": format!("race {i}") }))
            })
        })
        .collect();
    let results: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let succeeded = results.iter().filter(|r| r["isError"] == false).count();
    assert_eq!(succeeded, LIMIT, "tool calls that succeeded under a limit of {LIMIT}");
    for refused in results.iter().filter(|r| r["isError"] == true) {
        assert_eq!(tool_error(refused), QUOTA_MESSAGE);
    }
    assert_eq!(server.count("SELECT count(*) FROM todos"), LIMIT as i64);
    assert_eq!(server.count("SELECT count FROM api_usage"), LIMIT as i64);
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE path = '/mcp' AND status = 200"), LIMIT as i64);
    assert_eq!(
        server.count("SELECT count(*) FROM api_calls WHERE path = '/mcp' AND status = 429"),
        (CALLS - LIMIT) as i64
    );
}

#[test]
fn transport_refusals_are_json_rpc_errors_or_4xx_and_count_nothing() {
    let server = TestServer::start_with(|config| config.cors_origins = vec!["https://app.example".into()]);
    let (user, client) = (server.add_user("ann@example.com"), server.add_client(None).0);
    let token = server.mcp_token(&user, &client);
    let raw = |headers: &[(&str, String)], body: &str| send(&server, Some(&token), headers, body);
    let mcp_headers =
        |method: &str| vec![("MCP-Protocol-Version", MODERN.to_owned()), ("Mcp-Method", method.to_owned())];
    let rpc_error = |reply: &Reply, status: u16, code: i64| {
        assert_eq!(reply.status, status, "{:?}", reply.body);
        assert_eq!(reply.body["jsonrpc"], "2.0", "{:?}", reply.body);
        assert_eq!(reply.body["error"]["code"].as_i64(), Some(code), "{:?}", reply.body);
        assert!(reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    };
    rpc_error(&raw(&mcp_headers("tools/list"), "{"), 400, -32700);
    rpc_error(&raw(&mcp_headers("tools/list"), r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#), 400, -32600);
    rpc_error(&raw(&mcp_headers("tools/list"), r#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#), 400, -32600);
    rpc_error(&raw(&mcp_headers("tools/list"), r#"{"id":1,"method":"tools/list"}"#), 400, -32600);
    rpc_error(&modern(&server, Some(&token), 1, "resources/subscribe", json!({ "uri": "ui://x" })), 404, -32601);
    rpc_error(&modern(&server, Some(&token), 1, "tools/call", json!({ "name": "drop_tables" })), 200, -32602);
    rpc_error(
        &modern(&server, Some(&token), 1, "tools/call", json!({ "name": "get_todo", "arguments": [1] })),
        200,
        -32602,
    );
    // The headers must mirror the body (2026-07-28, Streamable HTTP, server validation).
    let body = |method: &str, name: &str| {
        json!({ "jsonrpc": "2.0", "id": 3, "method": method, "params": { "name": name, "arguments": {},
            "_meta": { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} } } })
        .to_string()
    };
    let mut wrong_name = mcp_headers("tools/call");
    wrong_name.push(("Mcp-Name", "delete_todo".into()));
    rpc_error(&raw(&wrong_name, &body("tools/call", "list_todos")), 400, -32020);
    rpc_error(&raw(&mcp_headers("tools/call"), &body("tools/call", "list_todos")), 400, -32020);
    rpc_error(&raw(&mcp_headers("tools/list"), &body("tools/call", "list_todos")), 400, -32020);
    rpc_error(&raw(&[("Mcp-Method", "tools/list".into())], &body("tools/list", "")), 400, -32020);
    // An unknown version in the body: with the same version in the header it is unsupported;
    // with another one, header and body disagree, which is checked first.
    let future = body("tools/list", "").replace(MODERN, "2099-01-01");
    rpc_error(&raw(&mcp_headers("tools/list"), &future), 400, -32020);
    let future_headers = [("MCP-Protocol-Version", "2099-01-01".to_owned()), ("Mcp-Method", "tools/list".into())];
    let unsupported = raw(&future_headers, &future);
    rpc_error(&unsupported, 400, -32022);
    assert_eq!(unsupported.body["error"]["data"]["supported"], json!([MODERN, "2025-11-25", "2025-06-18"]));
    rpc_error(&raw(&[], r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#), 400, -32022);
    rpc_error(
        &raw(&[("MCP-Protocol-Version", "2024-11-05".into())], r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
        400,
        -32022,
    );
    rpc_error(&raw(&mcp_headers("tools/list"), r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#), 400, -32602);
    // Too big, or not JSON: refused before anything is read as JSON-RPC.
    let huge =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{}"}}}}"#, "x".repeat(70_000));
    rpc_error(&raw(&mcp_headers("tools/list"), &huge), 413, -32600);
    let form = reply(
        common::http()
            .post(server.url("/mcp"))
            .header("Content-Type", "text/plain")
            .header("Authorization", format!("Bearer {token}"))
            .send("{}"),
    );
    rpc_error(&form, 415, -32600);
    // Other methods of the endpoint, and other origins.
    for method in ["GET", "DELETE", "PUT"] {
        let refused = reply(
            common::http().run(ureq::http::Request::builder().method(method).uri(server.url("/mcp")).body(()).unwrap()),
        );
        assert_eq!((refused.status, refused.header("allow")), (405, Some("POST")), "{method}");
    }
    let from = |origin: &str| {
        let mut request = common::http()
            .post(server.url("/mcp"))
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {token}"))
            .header("Origin", origin);
        for (name, value) in mcp_headers("tools/list") {
            request = request.header(name, value);
        }
        reply(request.send(body("tools/list", "")))
    };
    assert_eq!(from("https://evil.example").status, 403);
    assert_eq!(from("null").status, 403);
    let own = from(&server.base);
    assert_eq!((own.status, own.header("access-control-allow-origin")), (200, Some(server.base.as_str())));
    assert_eq!(from("https://app.example").status, 200);

    assert_eq!(usage(&server), 0, "nothing above is an API call");
    assert_eq!(server.count("SELECT count(*) FROM todos"), 0);
    assert_eq!(server.count("SELECT count(*) FROM api_calls WHERE status = 200"), 0);
}

#[test]
fn initialize_is_the_handshake_of_the_older_revisions_only() {
    let server = TestServer::start();
    let (user, client) = (server.add_user("ann@example.com"), server.add_client(None).0);
    let token = server.mcp_token(&user, &client);
    // Sent as a 2026-07-28 request (its header and _meta), initialize is a method that revision
    // does not have.
    let modern_init = modern(&server, Some(&token), 1, "initialize", json!({ "protocolVersion": "2025-11-25" }));
    assert_eq!(
        (modern_init.status, modern_init.body["error"]["code"].as_i64()),
        (404, Some(-32601)),
        "{:?}",
        modern_init.body
    );
    // Without a version to negotiate, the handshake is malformed.
    for params in [None, Some(json!({})), Some(json!({ "protocolVersion": 20251125 }))] {
        let mut body = json!({ "jsonrpc": "2.0", "id": 2, "method": "initialize" });
        if let Some(params) = params.clone() {
            body["params"] = params;
        }
        let bare = send(&server, Some(&token), &[], &body.to_string());
        assert_eq!(
            (bare.status, bare.body["error"]["code"].as_i64()),
            (400, Some(-32602)),
            "{params:?}: {:?}",
            bare.body
        );
        assert!(bare.body["error"]["message"].as_str().unwrap().contains("protocolVersion"), "{:?}", bare.body);
    }
    let handshake =
        legacy(&server, Some(&token), "2025-11-25", Some(3), "initialize", json!({ "protocolVersion": "2025-11-25" }));
    assert_eq!(handshake.body["result"]["protocolVersion"], "2025-11-25", "{:?}", handshake.body);
    assert_eq!(usage(&server), 0);
}

#[test]
fn the_todo_view_is_a_resource_of_both_eras_that_the_tools_point_at() {
    let server = TestServer::start();
    let (user, client) = (server.add_user("ann@example.com"), server.add_client(None).0);
    let token = server.mcp_token(&user, &client);
    let call = |method: &str, params: Value| {
        let answer = modern(&server, Some(&token), 1, method, params);
        assert_eq!(answer.status, 200, "{method}: {:?}", answer.body);
        answer.body["result"].clone()
    };
    let public_for_an_hour = |result: &Value, what: &str| {
        assert_eq!(
            (result["ttlMs"].as_u64(), result["cacheScope"].as_str()),
            (Some(3_600_000), Some("public")),
            "{what}"
        );
    };

    // The extension is declared where the server says what it offers, in both eras.
    let discover = call("server/discover", json!({}));
    let capabilities = &discover["capabilities"];
    assert_eq!(capabilities["extensions"]["io.modelcontextprotocol/ui"], json!({}), "{capabilities}");
    assert!(capabilities["resources"].is_object() && capabilities["prompts"].is_object(), "{capabilities}");
    let init = legacy(
        &server,
        Some(&token),
        "2025-11-25",
        Some(1),
        "initialize",
        json!({ "protocolVersion": "2025-11-25",
        "capabilities": { "extensions": { "io.modelcontextprotocol/ui": { "mimeTypes": ["text/html;profile=mcp-app"] } } } }),
    );
    assert_eq!(init.body["result"]["capabilities"], *capabilities, "{:?}", init.body);

    let listed = call("resources/list", json!({}));
    public_for_an_hour(&listed, "resources/list");
    let resources = listed["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1, "{listed}");
    let uri = resources[0]["uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with("ui://"), "{uri}");
    assert_eq!(resources[0]["mimeType"], "text/html;profile=mcp-app");

    let read = call("resources/read", json!({ "uri": uri }));
    public_for_an_hour(&read, "resources/read");
    let content = &read["contents"][0];
    assert_eq!(
        (content["uri"].as_str(), content["mimeType"].as_str()),
        (Some(uri.as_str()), Some("text/html;profile=mcp-app"))
    );
    let html = content["text"].as_str().unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("ui/initialize"), "{}", &html[..80]);
    assert_eq!(
        content["_meta"]["ui"]["csp"],
        json!({ "connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": [] })
    );
    assert_eq!(content["_meta"]["ui"]["prefersBorder"], true);
    assert!(content["_meta"]["openai/widgetDescription"].as_str().is_some_and(|d| !d.is_empty()));

    // 2026-07-28, resources: an unknown resource is -32602 naming it, never an empty contents.
    let missing = modern(&server, Some(&token), 2, "resources/read", json!({ "uri": "ui://gpt-todo/other.html" }));
    assert_eq!(missing.body["error"]["code"], -32602, "{:?}", missing.body);
    assert_eq!(missing.body["error"]["data"], json!({ "uri": "ui://gpt-todo/other.html" }));
    let templates = call("resources/templates/list", json!({}));
    assert_eq!(templates["resourceTemplates"], json!([]));
    public_for_an_hour(&templates, "resources/templates/list");
    let prompts = call("prompts/list", json!({}));
    assert_eq!(prompts["prompts"], json!([]));
    public_for_an_hour(&prompts, "prompts/list");

    // The tools that show todos point at the view, for MCP Apps hosts and for ChatGPT alike.
    let tools = call("tools/list", json!({}))["tools"].clone();
    for tool in tools.as_array().unwrap() {
        let name = tool["name"].as_str().unwrap();
        let with_view = matches!(name, "list_todos" | "create_todo" | "update_todo");
        let expected = with_view.then_some(uri.as_str());
        assert_eq!(tool["_meta"]["ui"]["resourceUri"].as_str(), expected, "{name}");
        assert_eq!(tool["_meta"]["openai/outputTemplate"].as_str(), expected, "{name}");
        assert!(tool["_meta"]["openai/toolInvocation/invoking"].is_string(), "{name}");
    }

    // One tool list for every client: the same with or without the extension, in both eras.
    let mut with_ui = json!({});
    with_ui["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": { "extensions": { "io.modelcontextprotocol/ui": { "mimeTypes": ["text/html;profile=mcp-app"] } } },
    });
    let body = json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": with_ui });
    let headers = [("MCP-Protocol-Version", MODERN.to_owned()), ("Mcp-Method", "tools/list".to_owned())];
    let from_an_apps_host = send(&server, Some(&token), &headers, &body.to_string());
    assert_eq!(from_an_apps_host.body["result"]["tools"], tools);
    let old = legacy(&server, Some(&token), "2025-11-25", Some(6), "tools/list", json!({}));
    assert_eq!(old.body["result"]["tools"], tools);

    // Handshake-era clients read the same resource, without the caching hints of 2026-07-28.
    let old_read = legacy(&server, Some(&token), "2025-06-18", Some(7), "resources/read", json!({ "uri": uri }));
    assert_eq!(old_read.body["result"]["contents"], read["contents"], "{:?}", old_read.body);
    assert!(old_read.body["result"].get("ttlMs").is_none());
    let old_list = legacy(&server, Some(&token), "2025-06-18", Some(8), "resources/list", json!({}));
    assert_eq!(old_list.body["result"]["resources"], listed["resources"]);

    // Reading needs the token like every method, and none of it is an API call.
    let refused = modern(&server, None, 9, "resources/read", json!({ "uri": uri }));
    assert_eq!(refused.status, 401);
    assert_eq!(usage(&server), 0);
    assert_eq!(mcp_log(&server), vec![(None, 401)]);
}

#[test]
fn a_browser_client_on_an_allowed_origin_can_read_the_405_of_get_and_delete() {
    let server = TestServer::start_with(|config| config.cors_origins = vec!["https://app.example".into()]);
    let (user, client) = (server.add_user("ann@example.com"), server.add_client(None).0);
    let token = server.mcp_token(&user, &client);
    let request = |method: &str, origin: &str, extra: &[(&str, &str)]| {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(server.url("/mcp"))
            .header("Origin", origin)
            .header("Authorization", format!("Bearer {token}"));
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        reply(common::http().run(builder.body(()).unwrap()))
    };
    // The preflight of a 2025-11-25 client's GET (its standalone stream) from an allowed origin.
    let preflight = request(
        "OPTIONS",
        "https://app.example",
        &[
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization, mcp-protocol-version"),
        ],
    );
    assert_eq!(preflight.status, 200, "{:?}", preflight.headers);
    for method in ["GET", "DELETE"] {
        let answer = request(method, "https://app.example", &[("MCP-Protocol-Version", "2025-11-25")]);
        assert_eq!((answer.status, answer.header("allow")), (405, Some("POST")), "{method}");
        assert_eq!(answer.header("access-control-allow-origin"), Some("https://app.example"), "{method}");
        assert_eq!(request(method, "https://evil.example", &[]).status, 403, "{method}");
    }
    assert_eq!(usage(&server), 0);
}
