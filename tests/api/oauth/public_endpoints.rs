//! Issue 18 over real HTTP: the callers a real deployment has get through (a GPT backend's code
//! exchanges and refreshes from one address, an assistant's registrations, people behind one
//! tunnel address), while strangers cannot impersonate the operator's client, fill the database,
//! lock everyone out, forge their address or reach private networks. Each simulated person or
//! backend has its own loopback address (`common::source_address`), or, behind a trusted proxy,
//! its own `X-Forwarded-For`.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::common::process::ServerProcess;
use crate::common::source_address::nth_address;
use gpt_todo::support::clock::Clock;

/// Runs `work(i)` for `0..n` on `threads` threads; the results in order.
fn in_parallel<T: Send>(n: usize, threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return done;
                        }
                        done.push((i, work(i)));
                    }
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// `n` people with the password [`PASSWORD`]: person0@example.com … (one hash, shared, so that
/// making them costs one argon2 run).
fn add_people(server: &TestServer, n: usize) -> Vec<String> {
    server.add_user("person0@example.com");
    let conn = server.sql();
    let hash: String = conn
        .query_row("SELECT password_hash FROM users WHERE email = 'person0@example.com'", [], |r| r.get(0))
        .unwrap();
    for i in 1..n {
        conn.execute(
            "INSERT INTO users (id, email, name, password_hash) VALUES (?1, ?2, 'Person', ?3)",
            rusqlite::params![format!("person-{i}"), format!("person{i}@example.com"), hash],
        )
        .unwrap();
    }
    (0..n).map(|i| format!("person{i}@example.com")).collect()
}

/// `email` signs in with `browser` and allows `client_id`: the code.
fn code_for(browser: &mut Browser, email: &str, client_id: &str) -> String {
    let login = browser.get(&authorize_path(client_id, CALLBACK, &[]));
    assert_eq!(login.status, 200, "{}", login.body);
    let consent = browser.log_in(&login, email, PASSWORD);
    assert!(consent.body.contains("Allow"), "{}", consent.body);
    let done = browser.post(&consent, "consent", &[("decision", "allow")]);
    assert_eq!(done.status, 303, "{}", done.body);
    done.redirect_params()["code"].clone()
}

fn retry_after(reply: &Reply) -> u64 {
    reply.header("retry-after").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no Retry-After: {reply:?}"))
}

// ---- A. Real callers get through ----

#[test]
fn a_gpt_backend_exchanges_and_refreshes_for_150_users_from_one_address() {
    let (server, client) = setup();
    let people = add_people(&server, 150);
    // 150 people sign in, each from their own address.
    let codes = in_parallel(people.len(), 6, |i| {
        code_for(&mut Browser::from_address(&server, nth_address(i as u32)), &people[i], &client.0)
    });
    // The GPT's backend exchanges every code from one address (127.0.0.1), 10 at a time.
    let exchanged = in_parallel(codes.len(), 10, |i| exchange(&server, &codes[i], &client));
    let refused: Vec<_> = exchanged.iter().filter(|r| r.status != 200).collect();
    assert!(refused.is_empty(), "{} of 150 exchanges refused, e.g. {:?}", refused.len(), refused.first());
    eprintln!("150/150 code exchanges from one address succeeded");
    // An hour later it refreshes every user's token, from the same address.
    let refreshed =
        in_parallel(exchanged.len(), 10, |i| refresh(&server, field(&exchanged[i], "refresh_token"), &client));
    let refused: Vec<_> = refreshed.iter().filter(|r| r.status != 200).collect();
    assert!(refused.is_empty(), "{} of 150 refreshes refused, e.g. {:?}", refused.len(), refused.first());
    eprintln!("150/150 refreshes from one address succeeded");
    assert_eq!(create_todo(&server, field(&refreshed[149], "access_token")), 200);
}

#[test]
fn wrong_client_secrets_from_one_address_meet_a_429_with_retry_after() {
    let (server, client) = setup();
    let guess = |agent: &ureq::Agent| {
        reply(agent.post(server.url("/api/oauth2/token")).send_form([
            ("grant_type", "refresh_token"),
            ("refresh_token", "gtrt_x"),
            ("client_id", client.0.as_str()),
            ("client_secret", "gts_a_guess"),
        ]))
    };
    let guesser = common::source_address::http_from("127.0.7.1".parse().unwrap());
    let mut answered = 0;
    let limited = loop {
        let reply = guess(&guesser);
        if reply.status == 429 || answered == 400 {
            break reply;
        }
        assert_oauth_error(&reply, 401, "invalid_client");
        answered += 1;
    };
    assert_oauth_error(&limited, 429, "temporarily_unavailable");
    assert!((1..=60).contains(&retry_after(&limited)), "{limited:?}");
    let burst = gpt_todo::http::rate_limit::Rate::CLIENT_AUTH.burst as usize;
    assert!((burst..400).contains(&answered), "{answered} wrong secrets were answered before the 429");
    eprintln!("wrong client secrets from one address: {answered} answered 401, then 429");
    // Another address is not held back, and the right secret from it works.
    let other = common::source_address::http_from("127.0.7.2".parse().unwrap());
    assert_oauth_error(&guess(&other), 401, "invalid_client");
}

#[test]
fn forty_people_behind_one_address_all_get_a_code_and_thirty_wrong_passwords_meet_a_429() {
    let (server, client) = setup();
    let people = add_people(&server, 40);
    // A tunnel without --trusted-proxy: every browser has the same address (127.0.0.1).
    let codes = in_parallel(people.len(), 8, |i| code_for(&mut Browser::new(&server), &people[i], &client.0));
    let exchanged = codes.iter().filter(|code| exchange(&server, code, &client).status == 200).count();
    assert_eq!(exchanged, 40, "every one of the 40 people gets a code that works");
    eprintln!("40/40 people behind one address signed in and got a code");

    let mut guesser = Browser::from_address(&server, "127.0.8.1".parse().unwrap());
    let login = guesser.get(&authorize_path(&client.0, CALLBACK, &[]));
    let statuses: Vec<(u16, Option<u64>)> = (0..30)
        .map(|n| {
            let page = guesser.post(&login, "login", &[("email", &format!("guess{n}@example.com")), ("password", "x")]);
            (page.status, page.header("retry-after").and_then(|v| v.parse().ok()))
        })
        .collect();
    let first_429 = statuses.iter().position(|(status, _)| *status == 429).expect("a 429 within 30 wrong passwords");
    assert!(statuses[..first_429].iter().all(|(status, _)| *status == 401), "{statuses:?}");
    assert!(statuses[first_429].1.is_some_and(|s| (1..=60).contains(&s)), "Retry-After: {statuses:?}");
    eprintln!("wrong passwords from one address: {first_429} answered 401, then 429");
    // The people behind the tunnel address are not held back by the guesser.
    code_for(&mut Browser::new(&server), &people[0], &client.0);
}

#[test]
fn an_assistant_registers_100_clients_named_claude_from_one_address() {
    let (server, _) = setup();
    let body = serde_json::json!({
        "client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"],
    });
    let statuses = in_parallel(100, 4, |_| register_client(&server, body.clone()).status);
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(created, 100, "{statuses:?}");
    assert_eq!(server.count("SELECT count(*) FROM oauth_clients WHERE name = 'Claude'"), 100);
    eprintln!("100/100 registrations named Claude from one address succeeded");
}

#[test]
fn forwarded_for_from_a_proxy_that_is_not_trusted_warns_once_and_the_console_says_so() {
    let server = ServerProcess::start(&[], &[]);
    for n in 0..5 {
        let answer =
            common::http().get(server.url("/healthz")).header("X-Forwarded-For", format!("203.0.113.{n}")).call();
        assert_eq!(answer.unwrap().status(), 200);
    }
    let stderr = server.stderr();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("is not a --trusted-proxy")).collect();
    assert_eq!(warnings.len(), 1, "one warning expected:\n{stderr}");
    assert!(warnings[0].contains("--trusted-proxy 127.0.0.1"), "{}", warnings[0]);

    let trusted = ServerProcess::start(&["--trusted-proxy", "127.0.0.1"], &[]);
    let answer = common::http().get(trusted.url("/healthz")).header("X-Forwarded-For", "203.0.113.1").call();
    assert_eq!(answer.unwrap().status(), 200);
    assert!(!trusted.stderr().contains("is not a --trusted-proxy"), "{}", trusted.stderr());
}

// ---- B. The holes the security review confirmed ----

/// A raw request with the given header lines, answered over its own connection.
fn raw(server: &TestServer, head: &str, body: &str) -> String {
    let address = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let request = format!("{head}Host: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn a_second_forwarded_for_line_decides_the_address_not_the_clients_first() {
    let (server, client) = setup_with(|config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let body = format!("grant_type=refresh_token&refresh_token=x&client_id={}&client_secret=wrong", client.0);
    // The client sends its own line naming a victim; the proxy (HAProxy's `option forwardfor`)
    // appends a line with the client's real address.
    let two_lines = "POST /api/oauth2/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                     X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 203.0.113.7\r\n";
    let mut statuses = Vec::new();
    while statuses.last() != Some(&429) && statuses.len() < 200 {
        let answer = raw(&server, two_lines, &body);
        statuses.push(answer.get(9..12).and_then(|s| s.parse::<u16>().ok()).unwrap_or(0));
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let from = |address: &str| {
        reply(common::http().post(server.url("/api/oauth2/token")).header("X-Forwarded-For", address).send_form([
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client.0),
            ("client_secret", "wrong"),
        ]))
    };
    assert_eq!(from("203.0.113.7").status, 429, "the address the proxy appended is the one held back");
    assert_eq!(from("198.51.100.1").status, 401, "the address the client wrote is not");
}

#[test]
fn a_flood_of_sign_ups_from_2600_addresses_locks_nobody_out_and_a_locked_guesser_stays_locked() {
    let (server, client) = setup_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        config.allow_signup = true;
    });
    let alice = server.add_user("alice@example.com");
    server.sql().execute("UPDATE users SET is_admin = 1 WHERE id = ?1", [&alice]).unwrap();
    server.add_user("victim@example.com");
    // A guesser locks himself out of the victim's account first.
    let mut guesser = Browser::new(&server);
    guesser.forwarded_for = Some("203.0.113.66".into());
    let guessers_page = guesser.get(&authorize_path(&client.0, CALLBACK, &[]));
    for _ in 0..gpt_todo::oauth::MAX_FAILURES {
        let wrong = guesser.post(&guessers_page, "login", &[("email", "victim@example.com"), ("password", "guess")]);
        assert_eq!(wrong.status, 401, "{}", wrong.body);
    }
    // The review's flood: 26,000 sign-up posts with invalid emails, 10 from each of 2,600
    // addresses (each within the address's budget), through the trusted proxy: two emails five
    // times each, which once locked 10,400 entries and so filled the lockout map with locks.
    let mut flooder = Browser::new(&server);
    let page = flooder.get(&authorize_path(&client.0, CALLBACK, &[]));
    let mut fields = page.hidden_fields();
    fields.push(("action".into(), "signup".into()));
    fields.push(("password".into(), "long enough pw".into()));
    let cookie = flooder.cookie.clone().unwrap();
    let agent = common::http();
    let url = server.url("/api/oauth2/authorize");
    let statuses = in_parallel(2600, 8, |address| {
        let forwarded = IpAddr::from((0x0a00_0000u32 + address as u32).to_be_bytes()).to_string();
        (0..10)
            .map(|post| {
                let mut form = fields.clone();
                form.push(("email".into(), format!("not-an-email-{address}-{}", post % 2)));
                let request = agent.post(&url).header("Cookie", &cookie).header("X-Forwarded-For", &forwarded);
                request.send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap().status().as_u16()
            })
            .collect::<Vec<u16>>()
    });
    let statuses: Vec<u16> = statuses.into_iter().flatten().collect();
    assert_eq!(statuses.len(), 26_000);
    assert!(statuses.iter().all(|s| *s == 400), "invalid sign-ups are refused for their fields");
    eprintln!("flood: 26,000 invalid sign-ups from 2,600 addresses, all 400");

    // Alice, with the right password, from an address that never failed: in, on both forms.
    let mut owner = Browser::new(&server);
    owner.forwarded_for = Some("198.51.100.20".into());
    let login = owner.get(&authorize_path(&client.0, CALLBACK, &[]));
    let consent = owner.log_in(&login, "alice@example.com", PASSWORD);
    assert!(consent.body.contains("Allow"), "{}", consent.body);
    let console = console_sign_in(&server, "198.51.100.21", "alice@example.com", PASSWORD);
    assert_eq!(console, 303, "the console's admin signs in after the flood");
    // The guesser's lockout outlived the flood, even with the right password.
    let locked = guesser.post(&guessers_page, "login", &[("email", "victim@example.com"), ("password", PASSWORD)]);
    assert_eq!(locked.status, 429, "{}", locked.body);
}

/// Signs in to the console from `address` (behind the trusted proxy): the status of the post.
fn console_sign_in(server: &TestServer, address: &str, email: &str, password: &str) -> u16 {
    let mut console = Browser::new(server);
    console.forwarded_for = Some(address.into());
    let page = console.get("/admin/login");
    let csrf = page.body.split(r#"name="csrf" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let response = agent
        .post(server.url("/admin/login"))
        .header("Cookie", console.cookie.as_deref().unwrap())
        .header("X-Forwarded-For", address)
        .send_form([("csrf", csrf.as_str()), ("email", email), ("password", password)])
        .unwrap();
    response.status().as_u16()
}

/// A document server on 127.0.0.1 that answers any path with a valid document naming that URL.
fn serve_any_document() -> (String, std::sync::Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let (counter, own) = (hits.clone(), base.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (counter, own) = (counter.clone(), own.clone());
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let n = stream.read(&mut request).unwrap_or(0);
                counter.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&request[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let body = client_document(&format!("{own}{path}"), "Flood app");
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            });
        }
    });
    (base, hits)
}

#[test]
fn a_flood_of_metadata_document_urls_stores_nothing_until_a_code_is_issued() {
    let (base, hits) = serve_any_document();
    let (server, _) = setup_with(|config| config.allow_private_client_metadata = true);
    let (_, challenge) = pkce();
    let pkce_params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let size_before = std::fs::metadata(&server.db_path).unwrap().len();
    let pages = in_parallel(600, 8, |i| {
        let url = format!("{base}/flood-{i}.json");
        Browser::new(&server).get(&authorize_path(&url, LOCAL_CALLBACK, &pkce_params)).status
    });
    assert!(pages.iter().all(|s| *s == 200), "each document is valid, so each login page shows");
    assert_eq!(hits.load(Ordering::SeqCst), 600);
    let rows = server.count("SELECT count(*) FROM oauth_clients WHERE registration = 'metadata-document'");
    assert_eq!(rows, 0, "600 authorization requests stored {rows} clients");
    let size_after = std::fs::metadata(&server.db_path).unwrap().len();
    eprintln!("metadata-document flood: 600 requests, {rows} rows, file {size_before} -> {size_after} bytes");
    // A person who allows one of them gets its row, with the code.
    let issued = public_client_tokens(&server, &format!("{base}/flood-7.json"), LOCAL_CALLBACK, &server.url("/mcp"));
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    assert_eq!(server.count("SELECT count(*) FROM oauth_clients WHERE registration = 'metadata-document'"), 1);
}

#[test]
fn registrations_are_bounded_by_evicting_the_oldest_unused_clients_never_one_with_tokens() {
    let start = 1_900_000_000;
    let clock = Clock::manual(start);
    let (server, _) = setup_with(|config| {
        config.clock = clock.clone();
        config.max_unused_clients = 20;
    });
    let register = |name: &str| {
        let body = serde_json::json!({ "client_name": name, "redirect_uris": [LOCAL_CALLBACK], "token_endpoint_auth_method": "none" });
        let registered = register_client(&server, body);
        assert_eq!(registered.status, 201, "{:?}", registered.body);
        field(&registered, "client_id").to_owned()
    };
    let old: Vec<String> = (0..60).map(|i| register(&format!("Old {i}"))).collect();
    assert_eq!(
        server.count("SELECT count(*) FROM oauth_clients WHERE registration = 'dynamic'"),
        60,
        "none is 15 minutes old"
    );
    // One completes an authorization; another holds a token an operator issued.
    let issued = public_client_tokens(&server, &old[0], LOCAL_CALLBACK, &server.url("/mcp"));
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    let ann = server
        .sql()
        .query_row("SELECT id FROM users WHERE email = 'ann@example.com'", [], |r| r.get::<_, String>(0))
        .unwrap();
    server.token(&ann, &old[1], std::time::Duration::from_secs(3600));

    clock.set(start + 16 * 60);
    let new: Vec<String> = (0..40).map(|i| register(&format!("New {i}"))).collect();
    let rows = server.count("SELECT count(*) FROM oauth_clients WHERE registration = 'dynamic'");
    eprintln!("after 100 registrations with --max-unused-clients 20: {rows} rows");
    assert_eq!(rows, 42, "the 40 new ones (none 15 minutes old), and the two in use");
    let kept = |id: &str| server.count(&format!("SELECT count(*) FROM oauth_clients WHERE client_id = '{id}'")) == 1;
    assert!(kept(&old[0]) && kept(&old[1]), "clients with tokens are never removed");
    assert!(new.iter().all(|id| kept(id)));
    assert_eq!(server.count("SELECT count(*) FROM oauth_clients WHERE registration = 'operator'"), 1);
}

#[test]
fn a_self_registered_client_the_operator_gave_a_token_to_is_kept_after_the_token_is_gone() {
    let (server, _) = setup();
    let body = serde_json::json!({ "client_name": "Claude", "redirect_uris": [LOCAL_CALLBACK], "token_endpoint_auth_method": "none" });
    let registered = register_client(&server, body);
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let client_id = field(&registered, "client_id").to_owned();
    let issued = server.cli(&["token", "issue", "--user", "ann@example.com", "--client", &client_id, "--ttl", "1"]);
    assert!(issued.status.success(), "{issued:?}");
    // Housekeeping removes an expired token's row, and then only authorized_at tells that the
    // client was ever in use (docs/security.md: "or ever given any").
    let in_use =
        format!("SELECT count(*) FROM oauth_clients WHERE client_id = '{client_id}' AND authorized_at IS NOT NULL");
    assert_eq!(server.count(&in_use), 1, "`token issue` marks the client as in use");
}

#[test]
fn look_alikes_of_the_operators_client_are_refused_and_self_registered_ones_are_marked() {
    let (server, _) = setup();
    let operator = common::register_client(&server.sql(), "My GPT", &[CALLBACK.to_owned()], None, false).unwrap();
    let register = |name: &str, redirect: &str| {
        register_client(&server, serde_json::json!({ "client_name": name, "redirect_uris": [redirect] }))
    };
    for look_alike in
        ["My GPT", "MY GPT", "my gpt", "My\u{200b}GPT", "My GPT\u{202e}", "\u{41c}y GPT", "My G\u{420}\u{422}"]
    {
        let refused = register(look_alike, "https://evil.example/cb");
        assert_oauth_error(&refused, 400, "invalid_client_metadata");
        assert!(field(&refused, "error_description").contains("client_name"), "{:?}", refused.body);
    }
    assert_eq!(server.count("SELECT count(*) FROM oauth_clients"), 2, "only the operator's and setup's clients");

    // A name that only says it is someone else's registers, but its consent page says what it is.
    let imposter = register("My GPT (published by chatgpt.com)", "https://evil.example/cb");
    assert_eq!(imposter.status, 201, "{:?}", imposter.body);
    let consent_of = |client_id: &str, redirect: &str| {
        let mut browser = Browser::new(&server);
        let login = browser.get(&authorize_path(client_id, redirect, &[]));
        browser.log_in(&login, "ann@example.com", PASSWORD).body
    };
    let imposters = consent_of(field(&imposter, "client_id"), "https://evil.example/cb");
    assert!(imposters.contains("Unverified app"), "{imposters}");
    assert!(imposters.contains(r#"<strong class="host redirect">evil.example</strong>"#), "{imposters}");
    let operators = consent_of(&operator.client_id, CALLBACK);
    assert!(!operators.contains("Unverified") && !operators.contains("evil.example"), "{operators}");
    assert_ne!(without_csrf(&imposters), without_csrf(&operators));

    // A stranger who registers a name first does not keep the operator from using it.
    assert_eq!(register("Team Todo", "https://evil.example/cb").status, 201);
    let added = server.cli(&["client", "add", "Team Todo", "--redirect-uri", CALLBACK]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    assert_oauth_error(&register("Team Todo", "https://evil.example/cb"), 400, "invalid_client_metadata");

    // A metadata document may not take the name either.
    let (url, _) = serve_document(|url| client_document(url, "My GPT"));
    let (lenient, _) = setup_with(|config| config.allow_private_client_metadata = true);
    common::register_client(&lenient.sql(), "My GPT", &[CALLBACK.to_owned()], None, false).unwrap();
    let (_, challenge) = pkce();
    let page = Browser::new(&lenient).get(&authorize_path(
        &url,
        LOCAL_CALLBACK,
        &[("code_challenge", &challenge), ("code_challenge_method", "S256")],
    ));
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("looks like &quot;My GPT&quot;"), "{}", page.body);
}

#[test]
fn the_fetcher_refuses_every_special_purpose_range_even_with_the_test_flag_and_says_nothing_more() {
    let (url, hits) = serve_document(|url| client_document(url, "Doc Client"));
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap().to_owned();
    let (server, _) = setup_with(|config| config.allow_private_client_metadata = true);
    let (_, challenge) = pkce();
    let pkce_params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let refused = |client_id: &str| {
        let page = Browser::new(&server).get(&authorize_path(client_id, LOCAL_CALLBACK, &pkce_params));
        assert_eq!(page.status, 400, "{client_id}: {}", page.body);
        let message = page.body.split(r#"<p class="error">"#).nth(1).unwrap_or("").split("</p>").next().unwrap();
        message.replace(client_id, "URL")
    };
    // The test flag allows 127.0.0.1, where the document is served; these forms of it are not.
    let mut messages = Vec::new();
    for host in [
        "[::127.0.0.1]",
        "[::ffff:0:7f00:1]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b:1::7f00:1]",
        "[2002:7f00:1::1]",
        "[fec0::1]",
        "192.0.0.1",
        "10.0.0.1",
    ] {
        messages.push(refused(&format!("http://{host}:{port}/client.json")));
    }
    // A port where nothing listens is told in the same words: no port scanning through the server.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    messages.push(refused(&format!("http://127.0.0.1:{closed}/client.json")));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was fetched");
    assert!(messages.iter().all(|m| *m == messages[0]), "the same answer for every failure: {messages:#?}");
    assert!(messages[0].contains("could not be fetched"), "{}", messages[0]);
    for detail in ["refused", "route", "certificate", "unreachable", "os error"] {
        assert!(!messages[0].to_lowercase().contains(detail), "{}", messages[0]);
    }
    // Loopback itself still works with the flag.
    assert_eq!(Browser::new(&server).get(&authorize_path(&url, LOCAL_CALLBACK, &pkce_params)).status, 200);
}
