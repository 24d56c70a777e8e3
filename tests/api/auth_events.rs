//! The OAuth failure lines of the real binary: one per event, with the client's address first and
//! no password or secret, in a form Debian's fail2ban matches with the filter in deploy/ (the
//! one docs/operations.md shows). `fail2ban-regex` is installed by scripts/test when missing.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{cli_on, http};

const CALLBACK: &str = "https://chatgpt.com/aip/g-1/oauth/callback";
const FILTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/fail2ban/filter.d/gpt-todo.conf");
const WRONG_PASSWORD: &str = "not the password";
const WRONG_SECRET: &str = "gts_not_the_secret";

/// A server started from the binary with its log going to `log`.
struct Served {
    child: std::process::Child,
    base: String,
}

fn serve(db: &Path, log: &Path, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .args(["--db", db.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0", "--allow-signup"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(File::create(log).unwrap())
        .spawn()
        .unwrap();
    let first = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let base = format!("http://{}", first.split("http://").nth(1).unwrap().split_whitespace().next().unwrap());
    Served { child, base }
}

impl Served {
    fn stop(mut self) {
        assert!(Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success());
        assert!(self.child.wait().unwrap().success());
    }

    fn authorize_url(&self, client_id: &str, redirect_uri: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("response_type", "code").append_pair("client_id", client_id);
        query.append_pair("redirect_uri", redirect_uri);
        format!("{}/api/oauth2/authorize?{}", self.base, query.finish())
    }

    /// Posts the login or sign-up form as a browser would (cookie and CSRF token from the page).
    fn post_form(&self, client_id: &str, fields: &[(&str, &str)]) -> (u16, Option<String>) {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        let mut page = agent.get(self.authorize_url(client_id, CALLBACK)).call().unwrap();
        let cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
        let body = page.body_mut().read_to_string().unwrap();
        let csrf = body.split(r#"name="csrf" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CALLBACK),
        ];
        form.extend_from_slice(fields);
        let response = agent
            .post(format!("{}/api/oauth2/authorize", self.base))
            .header("Cookie", &cookie)
            .send_form(form)
            .unwrap();
        let request_id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), request_id)
    }
}

fn setup(dir: &Path) -> (std::path::PathBuf, String) {
    let db = dir.join("events.db");
    let added = cli_on(&db, &["user", "add", "ann@example.com", "--password-stdin"], Some("the right password\n"));
    assert!(added.status.success());
    let client = cli_on(&db, &["client", "add", "G", "--redirect-uri", CALLBACK], None);
    let client = String::from_utf8_lossy(&client.stdout).into_owned();
    let client_id = client.lines().find_map(|l| l.trim().strip_prefix("Client ID:")).unwrap().trim().to_owned();
    (db, client_id)
}

/// The IPs fail2ban-regex finds in `log` with the filter.
fn fail2ban_matches(log: &Path) -> Vec<String> {
    let output = crate::common::tool("fail2ban-regex", "fail2ban")
        .args(["--out", "ip", log.to_str().unwrap(), FILTER])
        .output()
        .expect("run fail2ban-regex");
    assert!(output.status.success(), "fail2ban-regex failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn each_oauth_failure_is_one_line_that_fail2ban_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (db, client_id) = setup(dir.path());
    let log = dir.path().join("server.log");
    let server = serve(&db, &log, &[]);

    let unknown = http().get(server.authorize_url("gtc_nobody", CALLBACK)).call().unwrap();
    assert_eq!(unknown.status(), 400);
    let unknown_id = unknown.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    // A crafted redirect URI that tries to plant another address in the line.
    let crafted = r#"https://evil.example/cb?x=" oauth failure event=bad_password remote_addr=6.6.6.6 "#;
    assert_eq!(http().get(server.authorize_url(&client_id, crafted)).call().unwrap().status(), 400);
    let token = http()
        .post(format!("{}/api/oauth2/token", server.base))
        .send_form([
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", CALLBACK),
            ("client_id", client_id.as_str()),
            ("client_secret", WRONG_SECRET),
        ])
        .unwrap();
    assert_eq!(token.status(), 401);
    let login = [("action", "login"), ("email", "ann@example.com"), ("password", WRONG_PASSWORD)];
    for _ in 0..gpt_todo::oauth::MAX_FAILURES {
        assert_eq!(server.post_form(&client_id, &login).0, 401);
    }
    assert_eq!(server.post_form(&client_id, &login).0, 429);
    let signup = [("action", "signup"), ("email", "neo@example.com"), ("name", "Neo"), ("password", "long enough pw")];
    assert_eq!(server.post_form(&client_id, &signup).0, 303);
    server.stop();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines_of =
        |event: &str| -> Vec<&str> { text.lines().filter(|l| l.contains(&format!(" event={event} "))).collect() };
    for (event, count) in [
        ("unknown_client", 1),
        ("unregistered_redirect_uri", 1),
        ("bad_client_secret", 1),
        ("bad_password", gpt_todo::oauth::MAX_FAILURES as usize),
        ("lockout", 1),
        ("signup", 1),
    ] {
        let lines = lines_of(event);
        assert_eq!(lines.len(), count, "{count} lines for {event} expected in:\n{text}");
        for line in lines {
            assert!(line.contains(&format!("event={event} remote_addr=127.0.0.1 request_id=")), "{line}");
        }
    }
    assert!(
        lines_of("unknown_client")[0].contains(&format!("request_id={unknown_id} ")),
        "X-Request-Id is the id in the line"
    );
    assert!(lines_of("unknown_client")[0].contains(r#"client_id="gtc_nobody""#));
    assert!(lines_of("unregistered_redirect_uri")[0].contains("redirect_uri=\"https://evil.example/cb?x=\\\"%20oauth"));
    assert!(lines_of("bad_client_secret")[0].contains(&format!("client_id=\"{client_id}\"")));
    assert!(lines_of("signup")[0].contains(r#"email="neo@example.com""#));
    for secret in [WRONG_PASSWORD, WRONG_SECRET, "long enough pw", "the right password"] {
        assert!(!text.contains(secret), "a password or secret in the log: {secret}");
    }

    let banned = fail2ban_matches(&log);
    let expected = vec!["127.0.0.1".to_owned(); gpt_todo::oauth::MAX_FAILURES as usize + 1];
    assert_eq!(banned, expected, "fail2ban counts the wrong passwords and the lockout, never the planted address");
}

#[test]
fn json_log_lines_carry_the_same_fields_and_fail2ban_matches_them_too() {
    let dir = tempfile::tempdir().unwrap();
    let (db, client_id) = setup(dir.path());
    let log = dir.path().join("server.json.log");
    let server = serve(&db, &log, &["--log-format", "json"]);
    let (status, request_id) = server
        .post_form(&client_id, &[("action", "login"), ("email", "ann@example.com"), ("password", WRONG_PASSWORD)]);
    assert_eq!(status, 401);
    server.stop();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let failure = lines.iter().find(|l| l["message"] == "oauth failure").expect("an oauth failure line");
    assert_eq!(failure["event"], "bad_password");
    assert_eq!(failure["remote_addr"], "127.0.0.1");
    assert_eq!(failure["request_id"].as_str(), request_id.as_deref(), "{failure}");
    assert_eq!(failure["email"], "ann@example.com");
    assert_eq!(fail2ban_matches(&log), vec!["127.0.0.1"]);
}

#[test]
fn failed_console_sign_ins_are_oauth_failure_lines_that_fail2ban_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = setup(dir.path());
    assert!(cli_on(&db, &["user", "set-admin", "ann@example.com", "on"], None).status.success());
    let log = dir.path().join("console.log");
    let server = serve(&db, &log, &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut page = agent.get(format!("{}/admin/login", server.base)).call().unwrap();
    let cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let body = page.body_mut().read_to_string().unwrap();
    let csrf = body.split(r#"name="csrf" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    for _ in 0..3 {
        let refused = agent
            .post(format!("{}/admin/login", server.base))
            .header("Cookie", &cookie)
            .send_form([("csrf", csrf.as_str()), ("email", "ann@example.com"), ("password", WRONG_PASSWORD)])
            .unwrap();
        assert_eq!(refused.status(), 401);
    }
    server.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("oauth failure event=bad_password")).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.iter().all(|l| l.contains("remote_addr=127.0.0.1 ") && l.contains(r#"email="ann@example.com""#)));
    assert!(!text.contains(WRONG_PASSWORD));
    assert_eq!(fail2ban_matches(&log), vec!["127.0.0.1"; 3]);
}

#[test]
fn the_operations_guide_shows_the_filter_that_is_tested() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md")).unwrap();
    let filter = std::fs::read_to_string(FILTER).unwrap();
    let failregex = filter.lines().skip_while(|l| !l.starts_with("[Definition]")).collect::<Vec<_>>().join("\n");
    assert!(
        guide.contains(&failregex),
        "docs/operations.md must show deploy/fail2ban/filter.d/gpt-todo.conf's rules:\n{failregex}"
    );
}
