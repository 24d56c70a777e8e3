//! The real binary on PostgreSQL: `user add`, `client add` and `token issue` on a throwaway
//! cluster's database, then `serve --db postgres://…` answering todo create and list to the
//! token's bearer; and the database's password in none of the output, logs or errors.

use std::path::Path;
use std::process::{Command, Stdio};

use super::common::process::listening_address;
use super::common::{cli_on, get, output_of, post_json};

/// Runs the binary with `GPT_TODO_DB` (as the README recommends over `--db` in argv).
fn cli_env(url: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gpt-todo"));
    command.env("GPT_TODO_DB", url).args(args);
    output_of(command, stdin)
}

fn text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The password of a `postgres://user:password@…` URL.
fn password_of(url: &str) -> String {
    let userinfo = url.split("://").nth(1).and_then(|rest| rest.split('@').next()).unwrap();
    userinfo.split_once(':').unwrap().1.to_owned()
}

#[test]
fn serve_on_postgres_answers_todo_create_and_list_and_never_shows_the_password() {
    let url = gpt_todo::store::postgres::throwaway::database();
    let password = password_of(&url);
    let mut seen = Vec::new();

    let added =
        cli_env(&url, &["user", "add", "ann@example.com", "--name", "Ann", "--password-stdin"], Some("pw-123456789\n"));
    seen.push(text(&added));
    assert!(added.status.success(), "user add: {}", text(&added));
    let client = cli_env(
        &url,
        &["client", "add", "Test GPT", "--redirect-uri", "https://chatgpt.com/aip/g-x/oauth/callback"],
        None,
    );
    seen.push(text(&client));
    assert!(client.status.success(), "client add: {}", text(&client));
    let client_out = String::from_utf8_lossy(&client.stdout).into_owned();
    let client_id = client_out
        .lines()
        .find_map(|line| line.trim().strip_prefix("Client ID:").map(|id| id.trim().to_owned()))
        .unwrap_or_else(|| panic!("a Client ID line in {client_out:?}"));
    // Once with the URL in argv, to check errors and output redact it there too.
    let issued =
        cli_on(Path::new(&url), &["token", "issue", "--user", "ann@example.com", "--client", &client_id], None);
    seen.push(text(&issued));
    assert!(issued.status.success(), "token issue: {}", text(&issued));
    let token = String::from_utf8_lossy(&issued.stdout).lines().last().unwrap_or("").trim().to_owned();
    let refused = cli_on(Path::new(&url), &["backup", "/tmp/never-written.db"], None);
    seen.push(text(&refused));
    assert!(!refused.status.success() && text(&refused).contains("pg_dump"), "{}", text(&refused));

    let stderr_file = tempfile::NamedTempFile::new().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .env("GPT_TODO_DB", &url)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(stderr_file.reopen().unwrap())
        .spawn()
        .expect("start serve");
    let (mut stdout, address) = listening_address(&mut server);
    let base = format!("http://{address}");
    let created = post_json(&format!("{base}/api/todos"), Some(&token), r#"{"title":"on postgres"}"#);
    let listed = get(&format!("{base}/api/todos"), Some(&token));
    let health = get(&format!("{base}/healthz"), None);
    let help = cli_env(&url, &["serve", "--help"], None);
    seen.push(text(&help));
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let _ = server.wait();
    let mut banner = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut banner).unwrap();
    seen.push(banner.clone());
    seen.push(std::fs::read_to_string(stderr_file.path()).unwrap());

    assert_eq!(created.status, 201, "create: {created:?}");
    assert_eq!(listed.status, 200, "list: {listed:?}");
    assert!(listed.body.to_string().contains("on postgres"), "list: {listed:?}");
    assert_eq!(health.status, 200, "healthz: {health:?}");
    for (i, output) in seen.iter().enumerate() {
        assert!(!output.contains(&password), "output {i} shows the database password: {output}");
    }
    assert!(seen.iter().any(|output| output.contains(":***@")), "the banner shows the URL redacted: {seen:?}");
}
