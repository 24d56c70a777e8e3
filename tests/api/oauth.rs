//! The built-in OAuth 2.0 authorization server over real HTTP: the pages a browser sees (driven
//! here like a browser without JavaScript: cookies, hidden fields, no automatic redirects) and the
//! endpoints a client such as ChatGPT calls.

use crate::common;

use std::collections::HashMap;

use crate::common::{Reply, TestServer, get, post_json, reply};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

mod browser;
use browser::Browser;
mod public_endpoints;

const CALLBACK: &str = "https://chatgpt.com/aip/g-test/oauth/callback";
const PASSWORD: &str = "password123";

fn authorize_path(client_id: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("response_type", "code").append_pair("client_id", client_id);
    query.append_pair("redirect_uri", redirect_uri).append_pair("state", "st&te 1/2");
    query.extend_pairs(extra);
    format!("/api/oauth2/authorize?{}", query.finish())
}

/// Signs in and allows; returns the redirect's parameters (code, state, iss).
fn authorize(
    server: &TestServer,
    email: &str,
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut browser = Browser::new(server);
    let login = browser.get(&authorize_path(client_id, redirect_uri, extra));
    assert_eq!(login.status, 200, "{}", login.body);
    let consent = browser.log_in(&login, email, PASSWORD);
    assert!(consent.body.contains("Allow"), "expected the consent page: {}", consent.body);
    let done = browser.post(&consent, "consent", &[("decision", "allow")]);
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.location().starts_with(&format!("{redirect_uri}?")), "redirected to {}", done.location());
    done.redirect_params()
}

/// POSTs a form to the token or revocation endpoint, optionally with HTTP Basic credentials.
fn post_form(server: &TestServer, path: &str, fields: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
    let mut request = common::http().post(server.url(path));
    if let Some((id, secret)) = basic {
        request = request.header("Authorization", format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))));
    }
    reply(request.send_form(fields.iter().copied()))
}

fn exchange(server: &TestServer, code: &str, client: &(String, String)) -> Reply {
    post_form(
        server,
        "/api/oauth2/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ],
        None,
    )
}

fn refresh(server: &TestServer, refresh_token: &str, client: &(String, String)) -> Reply {
    post_form(
        server,
        "/api/oauth2/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        Some((&client.0, &client.1)),
    )
}

fn create_todo(server: &TestServer, token: &str) -> u16 {
    post_json(&server.url("/api/todo-demo"), Some(token), r#"{"title":"via OAuth"}"#).status
}

fn field<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.body[name].as_str().unwrap_or_else(|| panic!("expected {name} in {}", reply.body))
}

fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!((reply.status, reply.body["error"].as_str()), (status, Some(error)), "{:?}", reply.body);
    assert!(reply.body["error_description"].is_string(), "{:?}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

/// A server with one user and one confidential client registered for [`CALLBACK`].
fn setup() -> (TestServer, (String, String)) {
    setup_with(|_| {})
}

fn setup_with(configure: impl FnOnce(&mut gpt_todo::cli::config::Config)) -> (TestServer, (String, String)) {
    let server = TestServer::start_with(configure);
    server.add_user("ann@example.com");
    let client = server.add_client(None);
    (server, client)
}

/// Ann signs in and allows `client`, which exchanges the code: the token response.
fn signed_in_tokens(server: &TestServer, client: &(String, String)) -> Reply {
    let code = authorize(server, "ann@example.com", &client.0, CALLBACK, &[])["code"].clone();
    let issued = exchange(server, &code, client);
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    issued
}

fn register(server: &TestServer, uris: &[&str], public: bool) -> (String, Option<String>) {
    let uris: Vec<String> = uris.iter().map(|u| u.to_string()).collect();
    let registered = common::register_client(&server.sql(), "Other App", &uris, None, public).expect("register");
    (registered.client_id, registered.client_secret)
}

#[test]
fn metadata_names_every_endpoint_under_the_public_url() {
    let server = TestServer::start_with(|config| config.public_url = Some("https://todo.example".into()));
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let metadata = get(&server.url(path), None);
        assert_eq!(metadata.status, 200, "{path}");
        assert_eq!(metadata.body["issuer"], "https://todo.example");
        assert_eq!(metadata.body["authorization_endpoint"], "https://todo.example/api/oauth2/authorize");
        assert_eq!(metadata.body["token_endpoint"], "https://todo.example/api/oauth2/token");
        assert_eq!(metadata.body["revocation_endpoint"], "https://todo.example/api/oauth2/revoke");
        assert_eq!(metadata.body["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        let methods = metadata.body["token_endpoint_auth_methods_supported"].to_string();
        assert!(methods.contains("client_secret_basic") && methods.contains("client_secret_post"), "{methods}");
    }
}

#[test]
fn unknown_client_or_unregistered_redirect_uri_gets_an_error_page_never_a_redirect() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let near_misses = [
        "https://chatgpt.com/aip/g-test/oauth/callback/",
        "https://chatgpt.com/aip/g-test/oauth/callback?x=1",
        "https://chatgpt.com/aip/g-test/oauth/callbac",
        "https://CHATGPT.com/aip/g-test/oauth/callback",
        "http://chatgpt.com/aip/g-test/oauth/callback",
        "https://evil.example/",
    ];
    for uri in near_misses {
        let page = browser.get(&authorize_path(&client_id, uri, &[]));
        assert_eq!(page.status, 400, "{uri} must not be accepted");
        assert!(page.header("location").is_none(), "{uri} must not be redirected to");
        assert!(page.body.contains("redirect URI is not registered"), "{}", page.body);
    }
    let unknown = browser.get(&authorize_path("gtc_nobody", CALLBACK, &[]));
    assert_eq!((unknown.status, unknown.header("location")), (400, None));
    assert!(unknown.body.contains("unknown client_id"), "{}", unknown.body);
    let no_redirect = browser.get(&format!("/api/oauth2/authorize?response_type=code&client_id={client_id}"));
    assert_eq!((no_redirect.status, no_redirect.header("location")), (400, None));
    // Even a bad response_type is not redirected while the client or redirect URI is wrong.
    let both_bad = browser.get(&authorize_path("gtc_nobody", CALLBACK, &[("response_type", "token")]));
    assert_eq!((both_bad.status, both_bad.header("location")), (400, None));
}

#[test]
fn other_request_errors_go_back_to_the_client_with_state_and_iss() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let path = format!(
        "/api/oauth2/authorize?response_type=token&client_id={client_id}&redirect_uri={}&state=abc",
        form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    );
    let refused = browser.get(&path);
    assert_eq!(refused.status, 303);
    let params = refused.redirect_params();
    assert_eq!(params["error"], "unsupported_response_type");
    assert_eq!(params["state"], "abc");
    assert_eq!(params["iss"], server.base);
}

#[test]
fn login_page_has_a_strict_cookie_csp_and_csrf_field() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let page = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.body.contains("Test GPT"), "the login page should name the client");
    assert!(page.body.contains("name=\"password\"") && !page.body.contains("<script"));
    let csp = page.header("content-security-policy").expect("a CSP header");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");
    let cookie = page.header("set-cookie").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/api/oauth2"] {
        assert!(cookie.contains(attribute), "cookie should have {attribute}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure flag on a plain-http public URL: {cookie}");
    assert!(page.hidden_fields().iter().any(|(name, value)| name == "csrf" && value.len() == 64));
    assert!(!page.body.contains("Create account"), "sign-up is off by default");

    let https = TestServer::start_with(|config| config.public_url = Some("https://todo.example".into()));
    let (https_client, _) = https.add_client(None);
    let page = Browser::new(&https).get(&authorize_path(&https_client, CALLBACK, &[]));
    let cookie = page.header("set-cookie").expect("a session cookie");
    assert!(cookie.contains("; Secure"), "Secure when the public URL is https: {cookie}");
}

#[test]
fn every_form_refuses_a_missing_or_foreign_csrf_token() {
    let (server, (client_id, _)) = setup();
    let mut mine = Browser::new(&server);
    let login = mine.get(&authorize_path(&client_id, CALLBACK, &[]));
    let mut theirs = Browser::new(&server);
    let their_login = theirs.get(&authorize_path(&client_id, CALLBACK, &[]));

    let credentials = [("email", "ann@example.com"), ("password", PASSWORD)];
    let foreign = mine.post(&their_login, "login", &credentials);
    assert_eq!(foreign.status, 403, "a token from another browser: {}", foreign.body);
    let mut fields: Vec<(String, String)> = login.hidden_fields().into_iter().filter(|(n, _)| n != "csrf").collect();
    fields.push(("action".into(), "login".into()));
    fields.extend(credentials.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    assert_eq!(mine.post_fields(&fields).status, 403, "no token");
    let mut cookieless = Browser::new(&server);
    assert_eq!(cookieless.post(&login, "login", &credentials).status, 403, "no cookie");

    // Signed in, the consent form is protected the same way: a forged Allow issues no code.
    let consent = mine.log_in(&login, "ann@example.com", PASSWORD);
    let forged = mine.post(&their_login, "consent", &[("decision", "allow")]);
    assert_eq!((forged.status, forged.header("location")), (403, None));
    assert_eq!(server.count("SELECT count(*) FROM oauth_codes"), 0);
    assert_eq!(mine.post(&consent, "consent", &[("decision", "allow")]).status, 303);
}

#[test]
fn code_flow_with_client_secret_post_gives_tokens_that_work_on_the_api() {
    let (server, client) = setup();
    let redirect = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[("scope", "")]);
    assert_eq!(redirect["state"], "st&te 1/2", "state must come back unchanged");
    assert_eq!(redirect["iss"], server.base);
    let code = &redirect["code"];

    let issued = exchange(&server, code, &client);
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    assert_eq!(issued.header("cache-control"), Some("no-store"));
    assert_eq!(issued.header("content-type"), Some("application/json"));
    assert_eq!(issued.body["token_type"], "bearer");
    assert_eq!(issued.body["expires_in"], 3600);
    assert_eq!(issued.body["scope"], "todos");
    assert!(field(&issued, "refresh_token").starts_with("gtr_"));
    let access = field(&issued, "access_token");
    assert_eq!(create_todo(&server, access), 200);
    let info = get(&server.url("/api/oauth2/userinfo"), Some(access));
    assert_eq!((info.body["email"].as_str(), info.body["cid"].as_str()), (Some("ann@example.com"), Some(&*client.0)));
}

#[test]
fn client_secret_basic_works_and_wrong_credentials_are_invalid_client() {
    let (server, client) = setup();
    let code = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[])["code"].clone();
    let fields = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)];

    let wrong_basic = post_form(&server, "/api/oauth2/token", &fields, Some((&client.0, "gts_wrong")));
    assert_oauth_error(&wrong_basic, 401, "invalid_client");
    assert_eq!(wrong_basic.header("www-authenticate"), Some(r#"Basic realm="gpt-todo""#));
    let mut wrong_post = fields.to_vec();
    wrong_post.extend([("client_id", client.0.as_str()), ("client_secret", "gts_wrong")]);
    assert_oauth_error(&post_form(&server, "/api/oauth2/token", &wrong_post, None), 401, "invalid_client");
    let no_auth = post_form(&server, "/api/oauth2/token", &fields, None);
    assert_oauth_error(&no_auth, 401, "invalid_client");
    let mut both = fields.to_vec();
    both.push(("client_secret", &client.1));
    assert_oauth_error(
        &post_form(&server, "/api/oauth2/token", &both, Some((&client.0, &client.1))),
        400,
        "invalid_request",
    );

    // None of those spent the code.
    let issued = post_form(&server, "/api/oauth2/token", &fields, Some((&client.0, &client.1)));
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    assert_eq!(create_todo(&server, field(&issued, "access_token")), 200);
}

#[test]
fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let (server, client) = setup();
    let code = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[])["code"].clone();
    let first = exchange(&server, &code, &client);
    assert_eq!(first.status, 200, "{:?}", first.body);
    let access = field(&first, "access_token");
    assert_eq!(create_todo(&server, access), 200);

    assert_oauth_error(&exchange(&server, &code, &client), 400, "invalid_grant");
    assert_eq!(create_todo(&server, access), 401, "the replayed code's access token must be revoked");
    assert_oauth_error(&refresh(&server, field(&first, "refresh_token"), &client), 400, "invalid_grant");
}

#[test]
fn an_expired_code_is_refused() {
    let (server, client) = setup();
    let code = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[])["code"].clone();
    let lifetime: i64 = server
        .sql()
        .query_row("SELECT expires_at - CAST(strftime('%s', 'now') AS INTEGER) FROM oauth_codes", [], |r| r.get(0))
        .unwrap();
    assert!((1..=600).contains(&lifetime), "codes live at most 10 minutes, this one {lifetime} s");
    server.sql().execute("UPDATE oauth_codes SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) - 1", []).unwrap();
    assert_oauth_error(&exchange(&server, &code, &client), 400, "invalid_grant");
}

#[test]
fn a_code_is_bound_to_its_redirect_uri_and_client() {
    let server = TestServer::start();
    server.add_user("ann@example.com");
    let other_uri = "https://chat.openai.com/aip/g-test/oauth/callback";
    let (client_id, secret) = register(&server, &[CALLBACK, other_uri], false);
    let secret = secret.unwrap();
    let code = authorize(&server, "ann@example.com", &client_id, CALLBACK, &[])["code"].clone();

    let wrong_uri = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", other_uri)];
    let refused = post_form(&server, "/api/oauth2/token", &wrong_uri, Some((&client_id, &secret)));
    assert_oauth_error(&refused, 400, "invalid_grant");
    assert!(refused.body["error_description"].as_str().unwrap().contains("redirect_uri"));
    let other_client = server.add_client(None);
    assert_oauth_error(&exchange(&server, &code, &other_client), 400, "invalid_grant");

    assert_eq!(exchange(&server, &code, &(client_id, secret)).status, 200, "the right client and URI still work");
}

#[test]
fn public_clients_must_use_pkce_s256_and_downgrades_are_refused() {
    let server = TestServer::start();
    server.add_user("ann@example.com");
    let local = "http://127.0.0.1:9/callback";
    let (public_id, _) = register(&server, &[local], true);
    let verifier = "a-very-long-and-random-code-verifier-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut browser = Browser::new(&server);

    for (extra, why) in [
        (vec![], "no challenge at all"),
        (vec![("code_challenge", verifier), ("code_challenge_method", "plain")], "plain"),
        (vec![("code_challenge", challenge.as_str())], "no method means plain"),
    ] {
        let refused = browser.get(&authorize_path(&public_id, local, &extra));
        assert_eq!(refused.status, 303, "{why}");
        assert_eq!(refused.redirect_params()["error"], "invalid_request", "{why}");
    }

    let pkce = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let code = authorize(&server, "ann@example.com", &public_id, local, &pkce)["code"].clone();
    let token = |verifier: Option<&str>| {
        let mut fields = vec![("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", local)];
        fields.push(("client_id", &public_id));
        fields.extend(verifier.map(|v| ("code_verifier", v)));
        post_form(&server, "/api/oauth2/token", &fields, None)
    };
    assert_oauth_error(&token(None), 400, "invalid_grant");
    assert_oauth_error(&token(Some("the-wrong-verifier-but-long-enough-0123456789")), 400, "invalid_grant");
    assert_oauth_error(&token(Some(&challenge)), 400, "invalid_grant");
    let issued = token(Some(verifier));
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    assert_eq!(create_todo(&server, field(&issued, "access_token")), 200);

    // A verifier for a code that had no challenge is a downgrade attempt.
    let client = server.add_client(None);
    let code = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[])["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ];
    assert_oauth_error(
        &post_form(&server, "/api/oauth2/token", &fields, Some((&client.0, &client.1))),
        400,
        "invalid_grant",
    );
    // And a public client cannot skip PKCE by presenting a client id without a secret for a confidential one.
    let no_secret =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK), ("client_id", &client.0)];
    assert_oauth_error(&post_form(&server, "/api/oauth2/token", &no_secret, None), 401, "invalid_client");
}

#[test]
fn refresh_tokens_rotate_and_reusing_an_old_one_revokes_the_family() {
    let (server, client) = setup_with(|config| config.access_token_ttl = std::time::Duration::from_secs(120));
    let first = signed_in_tokens(&server, &client);
    assert_eq!(first.body["expires_in"], 120, "--access-token-ttl is honoured");

    let second = refresh(&server, field(&first, "refresh_token"), &client);
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.header("cache-control"), Some("no-store"));
    assert_ne!(field(&second, "refresh_token"), field(&first, "refresh_token"), "refresh tokens rotate");
    assert_ne!(field(&second, "access_token"), field(&first, "access_token"));
    assert_eq!(second.body["token_type"], "bearer");
    assert_eq!(create_todo(&server, field(&second, "access_token")), 200);
    let other = server.add_client(None);
    assert_oauth_error(&refresh(&server, field(&second, "refresh_token"), &other), 400, "invalid_grant");

    // Someone replays the first refresh token: every token of the family stops working.
    assert_oauth_error(&refresh(&server, field(&first, "refresh_token"), &client), 400, "invalid_grant");
    assert_eq!(create_todo(&server, field(&second, "access_token")), 401);
    assert_oauth_error(&refresh(&server, field(&second, "refresh_token"), &client), 400, "invalid_grant");
}

#[test]
fn housekeeping_prunes_dead_tokens_but_a_replayed_rotated_refresh_token_still_revokes_the_family() {
    let (server, client) = setup();
    let first = signed_in_tokens(&server, &client);
    let second = refresh(&server, field(&first, "refresh_token"), &client);
    assert_eq!(second.status, 200, "{:?}", second.body);
    // Another grant whose tokens are revoked: nothing can use them any more.
    let revoked = signed_in_tokens(&server, &client);
    let gone = post_form(
        &server,
        "/api/oauth2/revoke",
        &[("token", field(&revoked, "refresh_token"))],
        Some((&client.0, &client.1)),
    );
    assert_eq!(gone.status, 200);
    // The first access token has expired.
    let first_access = gpt_todo::support::secrets::hash_secret(field(&first, "access_token"));
    server.sql().execute("UPDATE oauth_tokens SET expires_at = 0 WHERE token_hash = ?1", [first_access]).unwrap();
    let before = server.count("SELECT count(*) FROM oauth_tokens");

    // What the writer runs on its timer.
    while gpt_todo::store::sqlite::housekeeping::run_steps(&server.sql(), Default::default()) {}
    let after = server.count("SELECT count(*) FROM oauth_tokens");
    assert!(after < before, "nothing was pruned: {before} rows before, {after} after");
    assert_eq!(
        server.count("SELECT count(*) FROM oauth_tokens WHERE revoked_at IS NOT NULL OR expires_at <= unixepoch()"),
        0
    );

    // The rotated refresh token survived: replaying it still revokes the family.
    assert_oauth_error(&refresh(&server, field(&first, "refresh_token"), &client), 400, "invalid_grant");
    assert_eq!(create_todo(&server, field(&second, "access_token")), 401);
    assert_oauth_error(&refresh(&server, field(&second, "refresh_token"), &client), 400, "invalid_grant");
}

#[test]
fn revocation_endpoint_revokes_access_and_refresh_tokens() {
    let (server, client) = setup();
    let issued = signed_in_tokens(&server, &client);
    let (access, refresh_token) = (field(&issued, "access_token"), field(&issued, "refresh_token"));
    let basic = Some((client.0.as_str(), client.1.as_str()));

    let unauthenticated = post_form(&server, "/api/oauth2/revoke", &[("token", access)], None);
    assert_oauth_error(&unauthenticated, 401, "invalid_client");
    let other = server.add_client(None);
    let by_other = post_form(&server, "/api/oauth2/revoke", &[("token", access)], Some((&other.0, &other.1)));
    assert_eq!(by_other.status, 200, "RFC 7009: no telling whether the token exists");
    assert_eq!(create_todo(&server, access), 200, "another client cannot revoke it");

    assert_eq!(post_form(&server, "/api/oauth2/revoke", &[("token", access)], basic).status, 200);
    assert_eq!(create_todo(&server, access), 401, "a revoked access token is refused by the API");
    assert_eq!(get(&server.url("/api/oauth2/userinfo"), Some(access)).status, 401);

    let fields = [("token", refresh_token), ("token_type_hint", "refresh_token")];
    assert_eq!(post_form(&server, "/api/oauth2/revoke", &fields, basic).status, 200);
    assert_oauth_error(&refresh(&server, refresh_token, &client), 400, "invalid_grant");
    assert_eq!(post_form(&server, "/api/oauth2/revoke", &[("token", "gta_unknown")], basic).status, 200);
}

#[test]
fn an_expired_access_token_gets_401_on_the_api() {
    let (server, client) = setup_with(|config| config.access_token_ttl = std::time::Duration::from_secs(0));
    let issued = signed_in_tokens(&server, &client);
    let refused = post_json(&server.url("/api/todo-demo"), Some(field(&issued, "access_token")), r#"{"title":"x"}"#);
    assert_eq!(refused.status, 401);
    assert!(refused.header("www-authenticate").unwrap_or("").starts_with("Bearer"));
}

#[test]
fn a_returning_user_sees_only_consent_and_can_deny_or_switch_account() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    browser.log_in(&login, "ann@example.com", PASSWORD);

    let again = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    assert_eq!(again.status, 200);
    assert!(again.body.contains("Allow") && !again.body.contains("name=\"password\""), "{}", again.body);
    assert!(again.body.contains("ann@example.com") && again.body.contains("Test GPT"));
    assert!(again.header("set-cookie").is_none(), "the session cookie is kept");

    let denied = browser.post(&again, "consent", &[("decision", "deny")]);
    assert_eq!(denied.status, 303);
    let params = denied.redirect_params();
    assert_eq!((params["error"].as_str(), params["state"].as_str()), ("access_denied", "st&te 1/2"));
    assert!(!params.contains_key("code"));

    let signed_out = browser.post(&again, "logout", &[]);
    assert_eq!(signed_out.status, 303);
    let login_again = browser.get(signed_out.location());
    assert!(login_again.body.contains("name=\"password\""), "after signing out, the login page again");
}

#[test]
fn wrong_passwords_are_refused_and_repeated_failures_lock_the_account_for_a_while() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    let unknown = browser.post(&login, "login", &[("email", "nobody@example.com"), ("password", PASSWORD)]);
    assert_eq!(unknown.status, 401);
    for _ in 0..gpt_todo::oauth::MAX_FAILURES {
        let wrong = browser.post(&login, "login", &[("email", "Ann@Example.com"), ("password", "not the password")]);
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("Wrong email or password"), "{}", wrong.body);
    }
    let locked = browser.post(&login, "login", &[("email", "ann@example.com"), ("password", PASSWORD)]);
    assert_eq!(locked.status, 429, "even the right password is refused while locked");
    assert!(locked.body.contains("Too many failed sign-ins"), "{}", locked.body);
    assert!(locked.header("location").is_none());
}

#[test]
fn sign_up_only_when_allowed() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    let fields = [("name", "Neo"), ("email", "neo@example.com"), ("password", "long enough pw")];
    assert_eq!(browser.post(&login, "signup", &fields).status, 400);
    assert_eq!(server.count("SELECT count(*) FROM users WHERE email = 'neo@example.com'"), 0);

    let open = TestServer::start_with(|config| config.allow_signup = true);
    let (open_client, _) = open.add_client(None);
    let mut browser = Browser::new(&open);
    let login = browser.get(&authorize_path(&open_client, CALLBACK, &[]));
    assert!(login.body.contains("Create account"));
    let short = browser.post(&login, "signup", &[("email", "neo@example.com"), ("password", "short")]);
    assert_eq!(short.status, 400);
    assert!(short.body.contains("at least 8 characters"), "{}", short.body);
    let created = browser.post(&login, "signup", &fields);
    assert_eq!(created.status, 303, "{}", created.body);
    let after = browser.get(created.location());
    assert!(after.body.contains("its account is ready"), "{}", after.body);
    let consent = browser.log_in(&after, "neo@example.com", "long enough pw");
    assert!(consent.body.contains("Neo (neo@example.com)"), "{}", consent.body);
    assert_eq!(open.count("SELECT count(*) FROM users WHERE email = 'neo@example.com'"), 1);
}

/// Strips what differs between two browsers anyway: the CSRF token derived from each cookie.
fn without_csrf(body: &str) -> String {
    body.split("name=\"csrf\" value=\"")
        .enumerate()
        .map(|(i, part)| if i == 0 { part } else { part.split_once('"').map_or(part, |(_, rest)| rest) })
        .collect()
}

#[test]
fn sign_up_for_a_taken_email_looks_exactly_like_a_new_one() {
    let (server, (client_id, _)) = setup_with(|config| config.allow_signup = true);
    let sign_up = |email: &str| {
        let mut browser = Browser::new(&server);
        let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
        let answer =
            browser.post(&login, "signup", &[("name", "Someone"), ("email", email), ("password", "a new password")]);
        let next = browser.get(answer.location());
        (answer, next)
    };
    let (taken, taken_next) = sign_up("Ann@example.com");
    let (new, new_next) = sign_up("fresh@example.com");
    assert_eq!((taken.status, taken.location()), (new.status, new.location()), "the answers differ");
    assert_eq!(taken.header("set-cookie"), None, "no session for a taken address: {:?}", taken.headers);
    assert_eq!(new.header("set-cookie"), None, "nor for a new one, or the two could be told apart");
    assert_eq!(without_csrf(&taken_next.body), without_csrf(&new_next.body), "the pages after them differ");
    assert!(!taken_next.body.contains("already"), "{}", taken_next.body);

    // Ann's account is untouched: her password works, the sign-up's does not.
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    let wrong = browser.post(&login, "login", &[("email", "ann@example.com"), ("password", "a new password")]);
    assert_eq!(wrong.status, 401);
    browser.log_in(&login, "ann@example.com", PASSWORD);
    assert_eq!(server.count("SELECT count(*) FROM users WHERE email = 'ann@example.com'"), 1);
}

#[test]
fn sign_up_attempts_count_against_the_address_lockout() {
    let (server, (client_id, _)) = setup_with(|config| config.allow_signup = true);
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    for _ in 0..gpt_todo::oauth::MAX_FAILURES {
        let answer = browser.post(&login, "signup", &[("email", "ann@example.com"), ("password", "guess guess")]);
        assert_eq!(answer.status, 303, "{}", answer.body);
    }
    let refused = browser.post(&login, "signup", &[("email", "ann@example.com"), ("password", "guess guess")]);
    assert_eq!(refused.status, 429, "{}", refused.body);
    let locked = browser.post(&login, "login", &[("email", "ann@example.com"), ("password", PASSWORD)]);
    assert_eq!(locked.status, 429, "sign-ups and sign-ins share the address's lockout");
}

#[test]
fn sign_up_refuses_control_characters_in_email_and_name() {
    let (server, (client_id, _)) = setup_with(|config| config.allow_signup = true);
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    for (name, email) in [("Eve\u{1b}[2J", "eve@example.com"), ("Eve", "eve\u{7}@example.com")] {
        let refused =
            browser.post(&login, "signup", &[("name", name), ("email", email), ("password", "long enough pw")]);
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused.body.contains("control characters"), "{}", refused.body);
    }
    assert_eq!(server.count("SELECT count(*) FROM users WHERE email LIKE 'eve%'"), 0);
}

#[test]
fn token_endpoint_errors_follow_rfc_6749() {
    let (server, client) = setup();
    let basic = Some((client.0.as_str(), client.1.as_str()));
    let cases = [
        (post_form(&server, "/api/oauth2/token", &[("grant_type", "password")], basic), 400, "unsupported_grant_type"),
        (post_form(&server, "/api/oauth2/token", &[], basic), 400, "invalid_request"),
        (
            post_form(&server, "/api/oauth2/token", &[("grant_type", "authorization_code")], basic),
            400,
            "invalid_request",
        ),
        (
            post_form(
                &server,
                "/api/oauth2/token",
                &[("grant_type", "authorization_code"), ("code", "gtac_x"), ("redirect_uri", CALLBACK)],
                basic,
            ),
            400,
            "invalid_grant",
        ),
        (
            post_json(&server.url("/api/oauth2/token"), None, r#"{"grant_type":"refresh_token"}"#),
            400,
            "invalid_request",
        ),
        (
            reply(
                common::http()
                    .post(server.url("/api/oauth2/token"))
                    .send_form([("grant_type", "a"), ("grant_type", "b")]),
            ),
            400,
            "invalid_request",
        ),
    ];
    for (reply, status, error) in &cases {
        assert_oauth_error(reply, *status, error);
    }
}

#[test]
fn pages_work_from_their_own_origin_whatever_cors_origin_says() {
    let server = TestServer::start_with(|config| config.cors_origins = vec!["https://chat.openai.com".into()]);
    server.add_user("ann@example.com");
    let (client_id, _) = server.add_client(None);
    let mut browser = Browser::new(&server);
    browser.origin = Some(server.base.clone());
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    let consent = browser.log_in(&login, "ann@example.com", PASSWORD);
    assert_eq!(browser.post(&consent, "consent", &[("decision", "allow")]).status, 303);
    let metadata = common::reply(
        common::http()
            .get(server.url("/.well-known/oauth-authorization-server"))
            .header("Origin", "https://inspector.example")
            .call(),
    );
    assert_eq!(
        metadata.header("access-control-allow-origin"),
        Some("https://inspector.example"),
        "clients in browsers may read it"
    );
}

#[test]
fn an_expired_refresh_token_is_refused() {
    let (server, client) = setup_with(|config| config.refresh_token_ttl = std::time::Duration::from_secs(0));
    let issued = signed_in_tokens(&server, &client);
    assert_oauth_error(&refresh(&server, field(&issued, "refresh_token"), &client), 400, "invalid_grant");
}

#[test]
fn parallel_guesses_cannot_outrun_the_lockout() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    let mut fields = login.hidden_fields();
    fields.push(("action".into(), "login".into()));
    fields.push(("email".into(), "ann@example.com".into()));
    fields.push(("password".into(), "a wrong guess".into()));
    let cookie = browser.cookie.clone().expect("the login page sets a cookie");
    let url = server.url("/api/oauth2/authorize");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..20)
            .map(|_| {
                let (url, cookie, fields) = (&url, &cookie, &fields);
                scope.spawn(move || {
                    let form = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                    reply(common::http().post(url).header("Cookie", cookie).send_form(form)).status
                })
            })
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, gpt_todo::oauth::MAX_FAILURES as usize, "only that many passwords may be tried: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20 - checked);
}

// ---- MCP clients: RFC 8707 resources, RFC 7591 registration, Client ID Metadata Documents ----

const LOCAL_CALLBACK: &str = "http://127.0.0.1:33418/callback";

/// A PKCE S256 pair: (verifier, challenge).
fn pkce() -> (String, String) {
    let verifier = "mcp-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz".to_owned();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A public client's whole code flow with PKCE and `resource`: the token response.
fn public_client_tokens(server: &TestServer, client_id: &str, redirect_uri: &str, resource: &str) -> Reply {
    let (verifier, challenge) = pkce();
    let extra = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256"), ("resource", resource)];
    let code = authorize(server, "ann@example.com", client_id, redirect_uri, &extra)["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier.as_str()),
        ("resource", resource),
    ];
    post_form(server, "/api/oauth2/token", &fields, None)
}

fn mcp_tools_list(server: &TestServer, token: &str) -> u16 {
    let request = common::http()
        .post(server.url("/mcp"))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {token}"))
        .header("MCP-Protocol-Version", "2025-11-25");
    reply(request.send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)).status
}

#[test]
fn a_resource_at_authorize_and_token_binds_the_tokens_to_it() {
    let (server, client) = setup();
    let mcp = server.url("/mcp");
    let code = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[("resource", &mcp)])["code"].clone();
    let stored: Option<String> = server.sql().query_row("SELECT resource FROM oauth_codes", [], |r| r.get(0)).unwrap();
    assert_eq!(stored.as_deref(), Some(mcp.as_str()));
    let issued = exchange(&server, &code, &client);
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    let access = field(&issued, "access_token");
    assert_eq!(mcp_tools_list(&server, access), 200);
    assert_eq!(create_todo(&server, access), 401, "a token for /mcp is not one for the todo API");
    // A refresh keeps the binding, and may not move it elsewhere.
    let other = post_form(
        &server,
        "/api/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", field(&issued, "refresh_token")),
            ("resource", &server.base),
        ],
        Some((&client.0, &client.1)),
    );
    assert_oauth_error(&other, 400, "invalid_target");
    let refreshed = refresh(&server, field(&issued, "refresh_token"), &client);
    assert_eq!(mcp_tools_list(&server, field(&refreshed, "access_token")), 200);

    // A GPT Action sends no resource: its tokens are unbound and work on the API, not on /mcp.
    let unbound = signed_in_tokens(&server, &client);
    assert_eq!(create_todo(&server, field(&unbound, "access_token")), 200);
    assert_eq!(mcp_tools_list(&server, field(&unbound, "access_token")), 401);
    // Naming another resource at the token endpoint than at authorize is refused.
    let code = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[("resource", &mcp)])["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", client.0.as_str()),
        ("client_secret", client.1.as_str()),
        ("resource", server.base.as_str()),
    ];
    assert_oauth_error(&post_form(&server, "/api/oauth2/token", &fields, None), 400, "invalid_target");
}

#[test]
fn a_resource_that_is_not_ours_is_invalid_target() {
    let (server, client) = setup();
    let mut browser = Browser::new(&server);
    let page = browser.get(&authorize_path(&client.0, CALLBACK, &[("resource", "https://other.example/mcp")]));
    assert_eq!(page.status, 303, "{}", page.body);
    let params = page.redirect_params();
    assert_eq!(params.get("error").map(String::as_str), Some("invalid_target"));
    assert_eq!(params.get("state").map(String::as_str), Some("st&te 1/2"));
    let code = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[])["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", client.0.as_str()),
        ("client_secret", client.1.as_str()),
        ("resource", "https://other.example/mcp"),
    ];
    assert_oauth_error(&post_form(&server, "/api/oauth2/token", &fields, None), 400, "invalid_target");
}

fn register_client(server: &TestServer, body: serde_json::Value) -> Reply {
    post_json(&server.url("/api/oauth2/register"), None, &body.to_string())
}

#[test]
fn a_public_client_registers_itself_and_signs_in_with_pkce() {
    let (server, _) = setup();
    let registered = register_client(
        &server,
        serde_json::json!({
            "client_name": "Claude", "redirect_uris": [LOCAL_CALLBACK], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "application_type": "native",
        }),
    );
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    assert_eq!(registered.header("cache-control"), Some("no-store"));
    assert!(registered.body.get("client_secret").is_none(), "a public client gets no secret: {:?}", registered.body);
    assert_eq!(registered.body["token_endpoint_auth_method"], "none");
    assert_eq!(registered.body["redirect_uris"], serde_json::json!([LOCAL_CALLBACK]));
    let client_id = field(&registered, "client_id").to_owned();
    // A public client must use PKCE at the authorization endpoint.
    let mut browser = Browser::new(&server);
    let without = browser.get(&authorize_path(&client_id, LOCAL_CALLBACK, &[]));
    assert_eq!(without.redirect_params().get("error").map(String::as_str), Some("invalid_request"));
    let issued = public_client_tokens(&server, &client_id, LOCAL_CALLBACK, &server.url("/mcp"));
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    assert_eq!(mcp_tools_list(&server, field(&issued, "access_token")), 200);
    // It shows in `client list`, marked as dynamically registered, with the default limit.
    let listed = listed_client(&server, &client_id);
    assert_eq!(
        (&listed["name"], &listed["type"], &listed["registeredBy"], &listed["callLimit"]),
        (
            &serde_json::json!("Claude"),
            &serde_json::json!("public"),
            &serde_json::json!("dynamic"),
            &serde_json::Value::Null
        ),
        "{listed}"
    );
    let table = String::from_utf8(server.cli(&["client", "list"]).stdout).unwrap();
    assert!(table.lines().next().unwrap_or("").contains("REGISTERED BY"), "{table}");
}

/// The client's entry in `client list --json`.
fn listed_client(server: &TestServer, client_id: &str) -> serde_json::Value {
    let list: serde_json::Value = serde_json::from_slice(&server.cli(&["client", "list", "--json"]).stdout).unwrap();
    let found = list.as_array().unwrap().iter().find(|c| c["clientId"] == client_id).cloned();
    found.unwrap_or_else(|| panic!("{client_id} is not in client list: {list}"))
}

#[test]
fn a_confidential_client_registers_and_authenticates_with_its_secret() {
    let (server, _) = setup();
    let registered =
        register_client(&server, serde_json::json!({ "client_name": "Web app", "redirect_uris": [CALLBACK] }));
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    assert_eq!(registered.body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(registered.body["client_secret_expires_at"], 0);
    let client = (field(&registered, "client_id").to_owned(), field(&registered, "client_secret").to_owned());
    let code = authorize(&server, "ann@example.com", &client.0, CALLBACK, &[])["code"].clone();
    let issued = post_form(
        &server,
        "/api/oauth2/token",
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)],
        Some((&client.0, &client.1)),
    );
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    let stored: String = server
        .sql()
        .query_row("SELECT registration FROM oauth_clients WHERE client_id = ?1", [&client.0], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, "dynamic");
}

#[test]
fn registration_refuses_bad_metadata_is_throttled_and_can_be_switched_off() {
    // A budget of 20 an hour here (the default, 120 an hour, is tested in public_endpoints.rs).
    let (server, _) = setup_with(|config| config.public_rates.registrations = "20/h".parse().unwrap());
    for (body, error) in [
        (serde_json::json!({}), "invalid_redirect_uri"),
        (serde_json::json!({ "redirect_uris": ["http://evil.example/cb"] }), "invalid_redirect_uri"),
        (serde_json::json!({ "redirect_uris": ["https://a.example/cb#x"] }), "invalid_redirect_uri"),
        (
            serde_json::json!({ "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt" }),
            "invalid_client_metadata",
        ),
        (serde_json::json!({ "redirect_uris": [CALLBACK], "grant_types": ["implicit"] }), "invalid_client_metadata"),
        (serde_json::json!({ "redirect_uris": [CALLBACK], "client_name": ["x"] }), "invalid_client_metadata"),
    ] {
        let refused = register_client(&server, body.clone());
        assert_oauth_error(&refused, 400, error);
    }
    assert_oauth_error(&post_json(&server.url("/api/oauth2/register"), None, "{"), 400, "invalid_client_metadata");
    assert_eq!(server.count("SELECT count(*) FROM oauth_clients WHERE registration = 'dynamic'"), 0);
    let good = serde_json::json!({ "redirect_uris": [LOCAL_CALLBACK], "token_endpoint_auth_method": "none" });
    for _ in 0..20 {
        assert_eq!(register_client(&server, good.clone()).status, 201);
    }
    // The address's budget (`--registration-rate 20/h`: 20 at once, then one every 3 min).
    let throttled = register_client(&server, good.clone());
    assert_oauth_error(&throttled, 429, "temporarily_unavailable");
    let wait: u64 = throttled.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
    assert!((1..=180).contains(&wait), "Retry-After {wait}");
    assert_eq!(server.count("SELECT count(*) FROM oauth_clients WHERE registration = 'dynamic'"), 20);

    let (off, _) = setup_with(|config| config.dynamic_registration = false);
    assert_oauth_error(&register_client(&off, good), 403, "invalid_request");
    let metadata = get(&off.url("/.well-known/oauth-authorization-server"), None).body;
    assert!(metadata.get("registration_endpoint").is_none(), "{metadata}");
}

/// Serves `document` as JSON at `http://127.0.0.1:<port>/client.json` to every request, on a
/// thread of its own; returns the URL and how many requests it got.
fn serve_document(
    document: impl Fn(&str) -> String + Send + 'static,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (counter, own_url) = (hits.clone(), url.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = document(&own_url);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
        }
    });
    (url, hits)
}

fn client_document(url: &str, name: &str) -> String {
    serde_json::json!({
        "client_id": url, "client_name": name, "redirect_uris": [LOCAL_CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "token_endpoint_auth_method": "none",
    })
    .to_string()
}

#[test]
fn a_client_id_metadata_document_identifies_a_client_and_its_host_is_shown() {
    let (url, hits) = serve_document(|url| client_document(url, "Doc Client"));
    let (server, _) = setup_with(|config| config.allow_private_client_metadata = true);
    let (_, challenge) = pkce();
    let pkce_params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&url, LOCAL_CALLBACK, &pkce_params));
    assert_eq!(login.status, 200, "{}", login.body);
    let consent = browser.log_in(&login, "ann@example.com", PASSWORD);
    assert!(consent.body.contains("Doc Client"), "{}", consent.body);
    let host = url.trim_start_matches("http://").split('/').next().unwrap();
    assert!(consent.body.contains(&format!("<strong class=\"host\">{host}</strong>")), "{}", consent.body);

    let issued = public_client_tokens(&server, &url, LOCAL_CALLBACK, &server.url("/mcp"));
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    assert_eq!(mcp_tools_list(&server, field(&issued, "access_token")), 200);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "the document is cached");
    let listed = listed_client(&server, &url);
    assert_eq!(
        (&listed["registeredBy"], &listed["callLimit"]),
        (&serde_json::json!("metadata-document"), &serde_json::Value::Null),
        "{listed}"
    );

    // A redirect URI the document does not list exactly is an error page, never a redirect.
    let mut browser = Browser::new(&server);
    let wrong = browser.get(&authorize_path(&url, "http://127.0.0.1:33418/callback/", &pkce_params));
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.header("location").is_none());
}

#[test]
fn client_metadata_documents_are_refused_when_unsafe_or_wrong() {
    let (url, hits) = serve_document(|url| client_document(url, "Doc Client"));
    let (_, challenge) = pkce();
    let pkce_params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let refused_page = |server: &TestServer, client_id: &str| {
        let page = Browser::new(server).get(&authorize_path(client_id, LOCAL_CALLBACK, &pkce_params));
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.header("location").is_none());
        page.body
    };
    // Without the test flag: no plain http, and no loopback address even over https.
    let (strict, _) = setup();
    assert!(refused_page(&strict, &url).contains("not registered"), "http URLs are not document URLs");
    let loopback = url.replace("http://", "https://");
    assert!(refused_page(&strict, &loopback).contains("loopback"), "loopback is never fetched");
    let localhost =
        format!("https://localhost:{}/client.json", url.rsplit(':').next().unwrap().split('/').next().unwrap());
    assert!(refused_page(&strict, &localhost).contains("loopback"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was fetched");

    // A document whose client_id is not its own URL is refused.
    let (liar, _) = serve_document(|_| client_document("https://someone-else.example/client.json", "Liar"));
    let (lenient, _) = setup_with(|config| config.allow_private_client_metadata = true);
    assert!(refused_page(&lenient, &liar).contains("client_id is not exactly its URL"));
    // The operator can switch documents off.
    let (off, _) = setup_with(|config| {
        config.allow_private_client_metadata = true;
        config.client_metadata_documents = false;
    });
    assert!(refused_page(&off, &url).contains("not registered"));
    let metadata = get(&off.url("/.well-known/oauth-authorization-server"), None).body;
    assert_eq!(metadata["client_id_metadata_document_supported"], false);
}

#[test]
fn a_disabled_user_cannot_sign_in_or_refresh_until_enabled() {
    let (server, client) = setup();
    let issued = signed_in_tokens(&server, &client);
    let refresh_token = field(&issued, "refresh_token").to_owned();
    assert!(server.cli(&["user", "disable", "ann@example.com"]).status.success());
    assert_eq!(create_todo(&server, field(&issued, "access_token")), 401, "the access token stops at once");
    assert_oauth_error(&refresh(&server, &refresh_token, &client), 400, "invalid_grant");
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client.0, CALLBACK, &[]));
    let refused = browser.post(&login, "login", &[("email", "ann@example.com"), ("password", PASSWORD)]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("disabled"), "{}", refused.body);
    assert!(refused.header("location").is_none());

    assert!(server.cli(&["user", "enable", "ann@example.com"]).status.success());
    assert_eq!(create_todo(&server, field(&issued, "access_token")), 200, "enabled, the unexpired token works");
    let refreshed = refresh(&server, &refresh_token, &client);
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
}

#[test]
fn user_unlock_lifts_a_lockout_on_the_running_server() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    for _ in 0..gpt_todo::oauth::MAX_FAILURES {
        browser.post(&login, "login", &[("email", "ann@example.com"), ("password", "not the password")]);
    }
    let locked = browser.post(&login, "login", &[("email", "ann@example.com"), ("password", PASSWORD)]);
    assert_eq!(locked.status, 429);
    assert!(server.cli(&["user", "unlock", "ann@example.com"]).status.success());
    let consent = browser.log_in(&login, "ann@example.com", PASSWORD);
    assert!(consent.body.contains("Allow"), "signed in after the unlock: {}", consent.body);
}

#[test]
fn the_unregistered_redirect_uri_page_shows_the_uri_received_escaped() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let received = r#"https://chatgpt.com/aip/g-other/oauth/callback?a=<b>&q="x""#;
    let page = browser.get(&authorize_path(&client_id, received, &[]));
    assert_eq!(page.status, 400);
    let escaped = "https://chatgpt.com/aip/g-other/oauth/callback?a=&lt;b&gt;&amp;q=&quot;x&quot;";
    assert!(page.body.contains(escaped), "the page shows the URI it received, escaped: {}", page.body);
    assert!(!page.body.contains("<b>"), "{}", page.body);
    assert!(page.body.contains(&format!("client add-redirect-uri {client_id}")), "{}", page.body);
}

#[test]
fn a_stranger_cannot_lock_an_account_for_its_owner() {
    let (server, (client_id, _)) = setup_with(|config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let mut stranger = Browser::new(&server);
    stranger.forwarded_for = Some("203.0.113.66".into());
    let strangers_login = stranger.get(&authorize_path(&client_id, CALLBACK, &[]));
    for _ in 0..gpt_todo::oauth::MAX_FAILURES {
        let wrong = stranger.post(&strangers_login, "login", &[("email", "ann@example.com"), ("password", "a guess")]);
        assert_eq!(wrong.status, 401, "{}", wrong.body);
    }
    let locked = stranger.post(&strangers_login, "login", &[("email", "ann@example.com"), ("password", PASSWORD)]);
    assert_eq!(locked.status, 429, "the guesser's address is locked out of the account: {}", locked.body);
    let retry_after: u64 = locked.header("retry-after").expect("a 429 says when to retry").parse().unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "Retry-After {retry_after}");

    // The owner signs in from their own network (a proxy in front of the server says which).
    let mut owner = Browser::new(&server);
    owner.forwarded_for = Some("1.1.1.1, 198.51.100.7".into());
    let owners_login = owner.get(&authorize_path(&client_id, CALLBACK, &[]));
    let consent = owner.log_in(&owners_login, "ann@example.com", PASSWORD);
    assert!(consent.body.contains("Allow"), "the owner reaches the consent page: {}", consent.body);

    // The owner's success lifts the lock: the stranger's next guess is checked (and wrong) again.
    let again = stranger.post(&strangers_login, "login", &[("email", "ann@example.com"), ("password", "a guess")]);
    assert_eq!(again.status, 401, "{}", again.body);
}

#[test]
fn sign_in_posts_are_limited_per_address_with_retry_after() {
    let (server, (client_id, _)) = setup();
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    let burst = gpt_todo::http::rate_limit::Rate::SIGN_IN.burst;
    for n in 0..burst {
        // A different email each time: the per-account lockout is not what refuses here.
        let email = format!("guess{n}@example.com");
        let wrong = browser.post(&login, "login", &[("email", &email), ("password", "a guess")]);
        assert_eq!(wrong.status, 401, "attempt {n}: {}", wrong.body);
    }
    // Without --trusted-proxy, a client cannot pick another address by saying so.
    browser.forwarded_for = Some("198.51.100.7".into());
    let limited = browser.post(&login, "login", &[("email", "ann@example.com"), ("password", PASSWORD)]);
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{:?}", limited.headers);
    assert!(limited.body.contains("Too many sign-in attempts from your network"), "{}", limited.body);
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(limited.body.contains("name=\"password\""), "the form is shown again: {}", limited.body);
    // The consent and logout steps of a signed-in browser are not sign-in attempts.
    let page = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    assert_eq!(page.status, 200);
}

#[test]
fn the_token_endpoint_limits_each_address_with_an_rfc_6749_error() {
    let (server, client) = setup_with(|config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let attempt = |address: &str| {
        reply(common::http().post(server.url("/api/oauth2/token")).header("X-Forwarded-For", address).send_form([
            ("grant_type", "refresh_token"),
            ("refresh_token", "gtrt_guess"),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ]))
    };
    // The bucket refills while the loop runs, so a few more than the burst may pass.
    let burst = gpt_todo::http::rate_limit::Rate::TOKEN.burst as usize;
    let mut answered = 0;
    let limited = loop {
        let reply = attempt("203.0.113.9");
        if reply.status == 429 || answered == 3 * burst {
            break reply;
        }
        assert_oauth_error(&reply, 400, "invalid_grant");
        answered += 1;
    };
    assert!(answered >= burst, "the first {burst} requests of an address are answered, not {answered}");
    assert_oauth_error(&limited, 429, "temporarily_unavailable");
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(limited.header("cache-control"), Some("no-store"));
    assert_oauth_error(&attempt("198.51.100.7"), 400, "invalid_grant");
}

#[test]
fn a_database_failure_at_sign_up_is_a_server_error_page_not_a_form_error() {
    let (server, (client_id, _)) = setup_with(|config| config.allow_signup = true);
    let mut browser = Browser::new(&server);
    let login = browser.get(&authorize_path(&client_id, CALLBACK, &[]));
    assert_eq!(login.status, 200, "{}", login.body);
    // The table the insert needs is gone: a fault of the database, not of what the person typed.
    server.sql().execute_batch("ALTER TABLE users RENAME TO users_moved").unwrap();
    let fields = [("name", "Neo"), ("email", "neo@example.com"), ("password", "long enough pw")];
    let failed = browser.post(&login, "signup", &fields);
    assert_eq!(failed.status, 500, "a database failure is the server's fault, not a form error: {}", failed.body);
    assert!(!failed.body.contains("no such table"), "the page must not show SQLite's message: {}", failed.body);
    assert!(failed.body.contains("Something went wrong"), "{}", failed.body);
}
