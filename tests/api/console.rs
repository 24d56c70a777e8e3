//! The operator console at /admin on the real server: who may open it, the protections of its
//! forms, and every change it makes with its admin_audit row.

use std::time::Duration;

use crate::common::{self, TestServer, post_json};

const PASSWORD: &str = "password123";

/// A browser that keeps the console's cookie, never follows redirects, and posts the CSRF token
/// of the last page it saw.
struct Console {
    agent: ureq::Agent,
    base: String,
    cookie: Option<String>,
    csrf: String,
}

#[derive(Debug)]
struct Page {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl Console {
    fn new(server: &TestServer) -> Console {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Console { agent, base: server.url(""), cookie: None, csrf: String::new() }
    }

    fn get(&mut self, path: &str) -> Page {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        self.keep(request.call())
    }

    /// Posts `fields` with the CSRF token of the last page seen.
    fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all)
    }

    fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        self.keep(request.send_form(fields.iter().copied()))
    }

    fn keep(&mut self, response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
        let mut response = response.expect("HTTP request failed");
        let headers = response.headers().clone();
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap();
            self.cookie = (!pair.ends_with('=')).then(|| pair.to_owned());
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        if let Some(start) = body.find(r#"name="csrf" value=""#) {
            let rest = &body[start + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        Page { status: response.status().as_u16(), headers, body }
    }

    fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.get("/admin/login");
        self.post("/admin/login", &[("email", email), ("password", password)])
    }
}

fn with_admin() -> (TestServer, Console) {
    let server = TestServer::start();
    let admin = server.add_user("root@example.com");
    server.sql().execute("UPDATE users SET is_admin = 1 WHERE id = ?1", [&admin]).unwrap();
    let mut console = Console::new(&server);
    let signed_in = console.sign_in("root@example.com", PASSWORD);
    assert_eq!((signed_in.status, signed_in.header("location")), (303, "/admin"), "{}", signed_in.body);
    (server, console)
}

fn audit_rows(server: &TestServer, action: &str) -> i64 {
    server.count(&format!(
        "SELECT count(*) FROM admin_audit WHERE action = '{action}' AND admin_email = 'root@example.com'"
    ))
}

#[test]
fn with_no_admin_the_console_only_says_how_to_create_one() {
    let server = TestServer::start();
    server.add_user("ann@example.com");
    let mut console = Console::new(&server);
    for path in ["/admin", "/admin/login", "/admin/clients", "/admin/users", "/admin/calls"] {
        let page = console.get(path);
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(page.body.contains("gpt-todo user add you@example.com --admin"), "{path}: {}", page.body);
        assert!(
            !page.body.contains("<nav") && !page.body.contains("<form"),
            "{path} shows nothing else: {}",
            page.body
        );
    }
    let tried = console.post_raw("/admin/login", &[("email", "ann@example.com"), ("password", PASSWORD)]);
    assert_eq!(tried.status, 403);
    assert_eq!(server.count("SELECT count(*) FROM oauth_sessions"), 0);
}

#[test]
fn a_user_who_is_not_an_admin_is_refused_after_the_right_password() {
    let (server, _) = with_admin();
    server.add_user("ann@example.com");
    let mut ann = Console::new(&server);
    let refused = ann.sign_in("ann@example.com", PASSWORD);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("not an admin"), "{}", refused.body);
    assert_eq!(ann.get("/admin").header("location"), "/admin/login", "no session was made");
    let wrong = ann.sign_in("ann@example.com", "not the password");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong email or password"), "{}", wrong.body);
}

#[test]
fn an_admin_demoted_meanwhile_loses_the_console_at_once() {
    let (server, mut console) = with_admin();
    assert_eq!(console.get("/admin").status, 200);
    server.sql().execute("UPDATE users SET is_admin = 0", []).unwrap();
    server.add_user("other@example.com");
    server.sql().execute("UPDATE users SET is_admin = 1 WHERE email = 'other@example.com'", []).unwrap();
    let page = console.get("/admin/clients");
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("cannot open the console") && !page.body.contains("<nav"), "{}", page.body);
}

#[test]
fn the_session_cookie_is_strict_scoped_to_admin_and_the_pages_may_not_be_framed() {
    let server = TestServer::start();
    let admin = server.add_user("root@example.com");
    server.sql().execute("UPDATE users SET is_admin = 1 WHERE id = ?1", [&admin]).unwrap();
    let mut console = Console::new(&server);
    let login = console.get("/admin/login");
    assert_eq!(login.status, 200);
    let signed_in = console.post("/admin/login", &[("email", "root@example.com"), ("password", PASSWORD)]);
    let cookie = signed_in.header("set-cookie");
    for part in ["gpt_todo_admin=", "Path=/admin", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(part), "expected {part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http on loopback: {cookie}");
    let overview = console.get("/admin");
    let csp = overview.header("content-security-policy");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"), "no script may run: {csp}");
    assert_eq!(overview.header("x-frame-options"), "DENY");
    assert!(!overview.body.contains("<script"), "no script on the page");

    let signed_out = console.post("/admin/logout", &[]);
    assert_eq!((signed_out.status, signed_out.header("location")), (303, "/admin/login"));
    assert!(signed_out.header("set-cookie").contains("Max-Age=0"), "the cookie is dropped");
    assert_eq!(server.count("SELECT count(*) FROM oauth_sessions"), 0, "the session is gone");
}

#[test]
fn the_cookie_is_secure_behind_https() {
    let server = TestServer::start_with(|config| config.public_url = Some("https://todo.example.com".into()));
    let admin = server.add_user("root@example.com");
    server.sql().execute("UPDATE users SET is_admin = 1 WHERE id = ?1", [&admin]).unwrap();
    let mut console = Console::new(&server);
    assert!(console.get("/admin/login").header("set-cookie").contains("; Secure"));
}

#[test]
fn a_form_without_this_browsers_csrf_token_changes_nothing() {
    let (server, mut console) = with_admin();
    let (client_id, _) = server.add_client(None);
    let path = format!("/admin/clients/{client_id}");
    let missing = console.post_raw(&path, &[("action", "set-limit"), ("call_limit", "5"), ("per", "total")]);
    assert_eq!(missing.status, 403, "{}", missing.body);
    let forged = console.post_raw(&path, &[("csrf", "forged"), ("action", "revoke-tokens")]);
    assert_eq!(forged.status, 403);
    // Another signed-in browser's token is no good either.
    let mut other = Console::new(&server);
    other.sign_in("root@example.com", PASSWORD);
    let theirs = other.csrf.clone();
    let crossed = console.post_raw(&path, &[("csrf", &theirs), ("action", "set-limit"), ("call_limit", "5")]);
    assert_eq!(crossed.status, 403);
    assert_eq!(server.count("SELECT count(*) FROM admin_audit"), 0);
    assert_eq!(server.count("SELECT count(*) FROM oauth_clients WHERE call_limit IS NOT NULL"), 0);
}

#[test]
fn repeated_wrong_passwords_lock_the_console_sign_in() {
    let (server, _) = with_admin();
    let mut guesser = Console::new(&server);
    for _ in 0..gpt_todo::oauth::MAX_FAILURES {
        assert_eq!(guesser.sign_in("root@example.com", "wrong guess").status, 401);
    }
    let locked = guesser.sign_in("root@example.com", PASSWORD);
    assert_eq!(locked.status, 429, "even the right password is refused while locked: {}", locked.body);
    assert!(locked.body.contains("Too many failed sign-ins"), "{}", locked.body);
}

#[test]
fn the_console_and_the_oauth_sign_in_page_share_one_lockout() {
    let (server, _) = with_admin();
    let (client_id, _) = server.add_client(None);
    let mut guesser = Console::new(&server);
    for _ in 0..gpt_todo::oauth::MAX_FAILURES {
        assert_eq!(guesser.sign_in("root@example.com", "wrong guess").status, 401);
    }
    // The same browser (the same address) on the OAuth sign-in page, with the right password.
    let request = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", "https://chatgpt.com/aip/g-test/oauth/callback"),
    ];
    let mut oauth = Console::new(&server);
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(request).finish();
    let login = oauth.get(&format!("/api/oauth2/authorize?{query}"));
    assert_eq!(login.status, 200, "{}", login.body);
    let mut fields = request.to_vec();
    fields.extend([("action", "login"), ("email", "root@example.com"), ("password", PASSWORD)]);
    let locked = oauth.post("/api/oauth2/authorize", &fields);
    assert_eq!(locked.status, 429, "the console's failures lock the OAuth sign-in too: {}", locked.body);
    assert!(locked.body.contains("Too many failed sign-ins"), "{}", locked.body);
}

/// A change on a client's page: its form fields, the audit action, the audit detail.
type Step<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn client_changes_each_write_one_audit_row() {
    let (server, mut console) = with_admin();
    console.get("/admin/clients");
    let added = console.post(
        "/admin/clients",
        &[("name", "Console GPT"), ("redirect_uris", "https://a.example/cb\nhttps://b.example/cb"), ("call_limit", "")],
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(
        added.body.contains("Added client &quot;Console GPT&quot;.") && added.body.contains("gts_"),
        "{}",
        added.body
    );
    let client_id: String = server
        .sql()
        .query_row("SELECT client_id FROM oauth_clients WHERE name = 'Console GPT'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audit_rows(&server, "client.add"), 1);
    let path = format!("/admin/clients/{client_id}");
    console.get(&path);

    let steps: [Step; 6] = [
        (
            &[("action", "add-redirect"), ("uri", "https://c.example/cb")],
            "client.add-redirect-uri",
            "https://c.example/cb",
        ),
        (
            &[("action", "remove-redirect"), ("uri", "https://a.example/cb")],
            "client.remove-redirect-uri",
            "https://a.example/cb",
        ),
        (&[("action", "set-limit"), ("call_limit", "2"), ("per", "day")], "client.set-limit", "2 calls per day"),
        (&[("action", "set-limit"), ("call_limit", ""), ("per", "total")], "client.set-limit", "server default"),
        (&[("action", "rotate-secret")], "client.rotate-secret", ""),
        (&[("action", "revoke-tokens")], "client.revoke-tokens", ""),
    ];
    for (fields, action, detail) in steps {
        let before = audit_rows(&server, action);
        let page = console.post(&path, fields);
        assert_eq!(page.status, 200, "{action}: {}", page.body);
        assert_eq!(audit_rows(&server, action), before + 1, "{action} wrote its row");
        let last: (String, String) = server
            .sql()
            .query_row("SELECT target, detail FROM admin_audit ORDER BY id DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(last, (client_id.clone(), detail.to_owned()), "{action}");
    }
    let uris: String = server.sql().query_row("SELECT redirect_uris FROM oauth_clients", [], |r| r.get(0)).unwrap();
    assert_eq!(uris, r#"["https://b.example/cb","https://c.example/cb"]"#);
    assert_eq!(server.count("SELECT count(*) FROM oauth_clients WHERE call_limit IS NULL"), 1, "limit cleared");

    // A refused change is shown and writes nothing.
    let before = server.count("SELECT count(*) FROM admin_audit");
    let refused = console.post(&path, &[("action", "add-redirect"), ("uri", "not a uri")]);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains(r#"class="error""#), "{}", refused.body);
    assert_eq!(server.count("SELECT count(*) FROM admin_audit"), before);
}

#[test]
fn clients_that_registered_themselves_are_marked_as_such() {
    let (server, mut console) = with_admin();
    server.add_client(None);
    let body = serde_json::json!({
        "client_name": "Self-registered MCP client",
        "redirect_uris": ["https://mcp.example/callback"],
        "token_endpoint_auth_method": "none",
    });
    let registered = post_json(&server.url("/api/oauth2/register"), None, &body.to_string());
    assert_eq!(registered.status, 201, "{}", registered.body);
    let dynamic_id = registered.body["client_id"].as_str().unwrap().to_owned();
    // A client known by its metadata document's URL gets its row when the server first fetches
    // that document; the fetch itself is covered by tests/mcp.rs.
    let document_id = "https://app.example/client.json";
    let uris = vec!["https://app.example/cb".to_owned()];
    common::remember_metadata_document(&server.sql(), document_id, "Document client", &uris).unwrap();

    let list = console.get("/admin/clients");
    assert_eq!(list.status, 200, "{}", list.body);
    let row = |id: &str| {
        let start =
            list.body.find(&format!("<code>{id}</code>")).unwrap_or_else(|| panic!("{id} listed: {}", list.body));
        list.body[start..].split("</tr>").next().unwrap().to_owned()
    };
    assert!(row(&dynamic_id).contains("<td>dynamic (RFC 7591)</td>"), "{}", row(&dynamic_id));
    assert!(row(document_id).contains("<td>metadata document</td>"), "{}", row(document_id));
    assert_eq!(list.body.matches("<td>by the operator</td>").count(), 1, "{}", list.body);

    let detail = console.get(&format!("/admin/clients/{dynamic_id}"));
    assert!(detail.body.contains("<dt>Registered</dt><dd>dynamic (RFC 7591)</dd>"), "{}", detail.body);
}

#[test]
fn a_client_whose_id_is_a_url_opens_from_its_encoded_link() {
    let (server, mut console) = with_admin();
    let document_id = "https://app.example/oauth/client.json?v=1";
    let uris = vec!["https://app.example/cb".to_owned()];
    common::remember_metadata_document(&server.sql(), document_id, "Document client", &uris).unwrap();
    let list = console.get("/admin/clients");
    let encoded = "/admin/clients/https%3A%2F%2Fapp.example%2Foauth%2Fclient.json%3Fv%3D1";
    assert!(list.body.contains(&format!(r#"href="{encoded}""#)), "{}", list.body);
    let detail = console.get(encoded);
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(detail.body.contains("<h1>Document client</h1>"), "{}", detail.body);
    assert!(detail.body.contains(&format!(r#"action="{encoded}""#)), "its forms post back to it: {}", detail.body);
    assert!(detail.body.contains("/admin/calls?client=https%3A%2F%2Fapp.example"), "{}", detail.body);
    let limited = console.post(encoded, &[("action", "set-limit"), ("call_limit", "5"), ("per", "day")]);
    assert_eq!(limited.status, 200, "{}", limited.body);
    assert_eq!(server.count("SELECT call_limit FROM oauth_clients WHERE client_id LIKE 'https://app.example/%'"), 5);
}

#[test]
fn the_overview_says_when_a_proxy_that_is_not_trusted_forwards_requests() {
    let (server, mut console) = with_admin();
    assert!(!console.get("/admin").body.contains("trusted proxy"));
    let forwarded = common::http().get(server.url("/healthz")).header("X-Forwarded-For", "203.0.113.9").call();
    assert_eq!(forwarded.unwrap().status(), 200);
    let overview = console.get("/admin");
    assert!(overview.body.contains("<code>--trusted-proxy 127.0.0.1</code>"), "{}", overview.body);
}

#[test]
fn a_limit_set_in_the_console_and_a_disable_take_effect_on_the_api_at_once() {
    let (server, mut console) = with_admin();
    let (user_id, client_id, token) = server.caller("ann@example.com", None);
    let todo = r#"{"title":"t"}"#;
    assert_eq!(post_json(&server.url("/api/todos"), Some(&token), todo).status, 201);
    console.get(&format!("/admin/clients/{client_id}"));
    console.post(
        &format!("/admin/clients/{client_id}"),
        &[("action", "set-limit"), ("call_limit", "1"), ("per", "total")],
    );
    assert_eq!(post_json(&server.url("/api/todos"), Some(&token), todo).status, 429);

    let user_page = format!("/admin/users/{user_id}");
    let page = console.get(&user_page);
    assert!(page.body.contains(&client_id), "the user's counters per client: {}", page.body);
    let reset = console.post(&user_page, &[("action", "reset"), ("client", &client_id)]);
    assert!(reset.body.contains("Reset 1 counter."), "{}", reset.body);
    assert_eq!(post_json(&server.url("/api/todos"), Some(&token), todo).status, 201, "the counter starts again");

    console.post(&user_page, &[("action", "disable")]);
    assert_eq!(post_json(&server.url("/api/todos"), Some(&token), todo).status, 401);
    console.post(&user_page, &[("action", "enable")]);
    console.post(&user_page, &[("action", "admin-on")]);
    assert_eq!(server.count("SELECT is_admin FROM users WHERE email = 'ann@example.com'"), 1);
    console.post(&user_page, &[("action", "admin-off")]);
    assert_eq!(server.count("SELECT is_admin FROM users WHERE email = 'ann@example.com'"), 0);
    for action in ["user.reset-usage", "user.disable", "user.enable", "user.make-admin", "user.remove-admin"] {
        assert_eq!(audit_rows(&server, action), 1, "{action}");
    }
    let overview = console.get("/admin");
    assert!(overview.body.contains("user.remove-admin"), "the overview shows the latest changes");
}

#[test]
fn changes_made_with_the_cli_are_in_the_latest_changes_marked_as_cli() {
    let (server, mut console) = with_admin();
    let (client_id, _) = server.add_client(None);
    let said = server.cli(&["client", "set-limit", &client_id, "7", "--per", "day"]);
    assert!(said.status.success(), "{said:?}");
    server.add_user("ann@example.com");
    assert!(server.cli(&["user", "disable", "ann@example.com"]).status.success());
    console.get(&format!("/admin/clients/{client_id}"));
    console.post(&format!("/admin/clients/{client_id}"), &[("action", "rotate-secret")]);
    assert!(server.cli(&["user", "enable", "ann@example.com"]).status.success());
    let me = String::from_utf8(std::process::Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let overview = console.get("/admin");
    let changes = &overview.body[overview.body.find("Latest changes").expect("the latest changes")..];
    for (action, by) in [
        ("client.rotate-secret", "root@example.com".to_owned()),
        ("user.enable", format!("CLI: {}", me.trim())),
        ("user.disable", format!("CLI: {}", me.trim())),
        ("client.set-limit", format!("CLI: {}", me.trim())),
    ] {
        let row =
            changes.split("<tr>").find(|row| row.contains(action)).unwrap_or_else(|| panic!("{action}: {changes}"));
        assert!(row.contains(&by), "{action} is shown as made by {by}: {row}");
    }
    assert!(changes.contains("7 calls per day"), "the CLI's detail: {changes}");
}

#[test]
fn the_call_log_filters_pages_and_shows_one_call() {
    let (server, mut console) = with_admin();
    let (_, client_id, token) = server.caller("ann@example.com", Some(60));
    for _ in 0..55 {
        post_json(&server.url("/api/todos"), Some(&token), r#"{"title":"t"}"#);
    }
    post_json(&server.url("/api/todos"), Some("no-such-token"), r#"{"title":"t"}"#);
    let first = console.get(&format!("/admin/calls?client={client_id}&status=2xx"));
    assert_eq!(first.status, 200);
    assert_eq!(first.body.matches("<tr><td><a href=\"/admin/calls/").count(), 50, "a page of 50");
    let older = first.body.split("before=").nth(1).map(|rest| rest[..rest.find('"').unwrap()].to_owned());
    let older = older.expect("a link to older calls");
    let second = console.get(&format!("/admin/calls?client={client_id}&status=2xx&before={older}"));
    assert_eq!(second.body.matches("<tr><td><a href=\"/admin/calls/").count(), 5);
    let refused = console.get("/admin/calls?status=401");
    assert_eq!(refused.body.matches("<tr><td><a href=\"/admin/calls/").count(), 1);
    let id: i64 = server.sql().query_row("SELECT max(id) FROM api_calls", [], |r| r.get(0)).unwrap();
    let detail = console.get(&format!("/admin/calls/{id}"));
    assert!(detail.body.contains("<dd>401</dd>"), "{}", detail.body);
    let bad = console.get("/admin/calls?status=teapot");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("is not a status"), "{}", bad.body);
    let future = console.get("/admin/calls?from=2999-01-01");
    assert!(future.body.contains("No calls match."), "{}", future.body);
}

#[test]
fn a_call_log_page_searches_a_bounded_window_and_links_on_to_older_calls() {
    let (server, mut console) = with_admin();
    // Three failed calls long ago, then a success 150,000 ids later: a 5xx filter that read the
    // whole log to fill its page would read every id in between.
    let insert = "INSERT INTO api_calls (id, at, method, path, status, duration_ms, request_id)
                  VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day'), 'GET', '/api/todos', ?2, 1.0, 'w')";
    let conn = server.sql();
    for (id, status) in [(1, 500), (2, 503), (3, 500), (150_000, 200)] {
        conn.execute(insert, rusqlite::params![id, status]).unwrap();
    }
    let rows = |page: &Page| page.body.matches("<tr><td><a href=\"/admin/calls/").count();

    let first = console.get("/admin/calls?status=5xx");
    assert_eq!((first.status, rows(&first)), (200, 0), "{}", first.body);
    assert!(first.body.contains("No calls match among the latest ones searched."), "{}", first.body);
    let link = r#"<a href="/admin/calls?status=5xx&before=50001">Search older calls →</a>"#;
    assert!(first.body.contains(link), "{}", first.body);

    let older = console.get("/admin/calls?status=5xx&before=50001");
    assert_eq!(rows(&older), 3, "{}", older.body);
    assert!(!older.body.contains("Search older calls"), "the log's start was reached: {}", older.body);
    // Unfiltered, the newest call is found at once.
    assert_eq!(
        rows(&console.get("/admin/calls")),
        1 + server.count("SELECT count(*) FROM api_calls WHERE id > 150000") as usize
    );
}

/// Logs `n` calls of `user` with `client` as if made `days_ago` days ago (the trigger counts them
/// in the rollups, as it does for calls the server logs). Their ids are below every id the server
/// gave (negative, below `first_id`), as older calls' ids are.
fn log_old_calls(db: &std::path::Path, user: &str, client: &str, n: usize, days_ago: i64, first_id: i64) {
    let mut conn = gpt_todo::store::sqlite::open_connection(db).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO api_calls (id, at, method, path, status, user_id, client_id, duration_ms, request_id)
                 VALUES (?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1), 'POST', '/api/todos', 201, ?2, ?3, 1.0, 'old')",
            )
            .unwrap();
        for i in 0..n as i64 {
            let id = first_id - n as i64 + i;
            insert.execute(rusqlite::params![format!("-{days_ago} days"), user, client, id]).unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Starts a server with a 7-day call log on `db` and waits until its housekeeping (which runs
/// soon after start) has pruned the rows [`log_old_calls`] wrote.
fn start_and_prune(db: &std::path::Path) -> TestServer {
    let server = TestServer::start_on(db, |config| config.call_log_days = 7);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.count("SELECT count(*) FROM api_calls WHERE request_id = 'old'") > 0 {
        assert!(std::time::Instant::now() < deadline, "old call-log rows were not pruned in 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

#[test]
fn old_call_log_rows_are_pruned_the_rollups_and_counters_stay_and_the_file_stops_growing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retention.db");
    let mut server = TestServer::start_on(&db, |config| config.call_log_days = 7);
    let (user, client, token) = server.caller("ann@example.com", Some(100));
    for _ in 0..3 {
        assert_eq!(post_json(&server.url("/api/todos"), Some(&token), r#"{"title":"t"}"#).status, 201);
    }
    server.stop();
    let old_day = "SELECT coalesce(sum(calls), 0) FROM api_calls_daily WHERE day = date('now', '-10 days')";
    log_old_calls(&db, &user, &client, 3000, 10, 0);
    let pages_full = gpt_todo::store::sqlite::open_connection(&db)
        .unwrap()
        .query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let mut server = start_and_prune(&db);
    assert_eq!(server.count("SELECT count(*) FROM api_calls"), 3, "the calls inside the window stay");
    assert_eq!(server.count(old_day), 3000, "the rollups keep every pruned call");
    assert_eq!(server.count("SELECT count FROM api_usage WHERE period = 'total'"), 3, "the counter is untouched");

    // Another window's worth of rows fits in the pages the pruned ones freed.
    server.stop();
    log_old_calls(&db, &user, &client, 3000, 10, -3000);
    let server = start_and_prune(&db);
    let pages_after = server.count("PRAGMA page_count");
    assert!(pages_after <= pages_full, "the file grew from {pages_full} to {pages_after} pages");
    assert_eq!(server.count(old_day), 6000);
    assert_eq!(post_json(&server.url("/api/todos"), Some(&token), r#"{"title":"t"}"#).status, 201);
    assert_eq!(server.count("SELECT count FROM api_usage WHERE period = 'total'"), 4, "the quota counts on");
}

#[test]
fn the_metrics_text_counts_requests_refusals_and_writer_batches() {
    let server = TestServer::start();
    let (_, _, token) = server.caller("ann@example.com", Some(1));
    assert_eq!(post_json(&server.url("/api/todos"), Some(&token), r#"{"title":"t"}"#).status, 201);
    assert_eq!(post_json(&server.url("/api/todos"), Some(&token), r#"{"title":"t"}"#).status, 429);
    let text = gpt_todo::http::metrics::render(Some(&server.db_path));
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    // Other tests in this binary count too: at least what this one did.
    assert!(value(r#"gpt_todo_http_requests_total{route="/api/todos",status="201"}"#) >= 1.0);
    assert!(value(r#"gpt_todo_http_requests_total{route="/api/todos",status="429"}"#) >= 1.0);
    assert!(value("gpt_todo_quota_refusals_total") >= 1.0);
    assert!(value(r#"gpt_todo_http_request_duration_seconds_count{route="/api/todos"}"#) >= 2.0);
    assert!(value("gpt_todo_writer_batch_jobs_count") >= 1.0);
    assert!(value("gpt_todo_writer_commit_seconds_count") >= 1.0);
    assert!(value("gpt_todo_database_bytes") > 0.0);
    assert!(text.contains(r#"gpt_todo_userinfo_cache_total{result="hit"}"#), "{text}");
    assert!(text.contains("# TYPE gpt_todo_wal_fsync_seconds histogram"), "{text}");
}
