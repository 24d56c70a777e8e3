//! The commands of an operator's day two keep what they do not change, take the console's filters,
//! read only configuration from the environment, say what they did in plain English, and leave
//! their changes in the console's audit, marked as made with the CLI.

use std::process::Command;

use crate::cli::{fails, field, json, ok};
use crate::common::{TestServer, cli_on, post_json};

const CALLBACK: &str = "https://chatgpt.com/aip/g-1/oauth/callback";

fn client_limit(db: &std::path::Path, client_id: &str) -> (serde_json::Value, serde_json::Value) {
    let clients = json(&cli_on(db, &["client", "list", "--json"], None));
    let client = clients.as_array().unwrap().iter().find(|c| c["clientId"] == client_id).unwrap().clone();
    (client["callLimit"].clone(), client["callWindow"].clone())
}

#[test]
fn set_limit_keeps_the_window_in_force_and_0_needs_yes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("limits.db");
    let run = |args: &[&str]| cli_on(&db, args, None);
    let added = ok(&run(&["client", "add", "G", "--redirect-uri", CALLBACK, "--call-limit", "100", "--per", "day"]));
    let client_id = field(&added, "Client ID:").to_owned();

    let said = ok(&run(&["client", "set-limit", &client_id, "150"]));
    assert!(said.contains("150 calls per day"), "the window stays a day: {said}");
    assert_eq!(client_limit(&db, &client_id), (150.into(), "day".into()));
    ok(&run(&["client", "set-limit", &client_id, "20", "--per", "month"]));
    assert_eq!(client_limit(&db, &client_id), (20.into(), "month".into()), "--per changes the window");

    let refused = run(&["client", "set-limit", &client_id, "0"]);
    fails(&refused, "`none` removes a limit");
    fails(&refused, "--yes");
    assert_eq!(client_limit(&db, &client_id), (20.into(), "month".into()), "a refused 0 changes nothing");
    ok(&run(&["client", "set-limit", &client_id, "0", "--yes"]));
    assert_eq!(client_limit(&db, &client_id), (0.into(), "month".into()), "0 with --yes is meant");

    // A user's own limit keeps its window too; without one, it starts from the client's.
    ok(&cli_on(&db, &["user", "add", "ann@example.com", "--password-stdin"], Some("long enough\n")));
    ok(&run(&["client", "set-limit", &client_id, "100", "--per", "day"]));
    let said = ok(&run(&["user", "set-limit", "ann@example.com", "--client", &client_id, "7"]));
    assert!(said.contains("7 calls per day"), "the client's window: {said}");
    ok(&run(&["user", "set-limit", "ann@example.com", "--client", &client_id, "8", "--per", "month"]));
    let said = ok(&run(&["user", "set-limit", "ann@example.com", "--client", &client_id, "9"]));
    assert!(said.contains("9 calls per month"), "the user's own window: {said}");
    fails(&run(&["user", "set-limit", "ann@example.com", "--client", &client_id, "0"]), "--yes");
    let usage = json(&run(&["usage", "--json", "--user", "ann@example.com"]));
    assert_eq!(usage, serde_json::json!([]), "no call made yet");
}

#[test]
fn logs_take_the_consoles_filters() {
    let server = TestServer::start();
    let (_, client_id, token) = server.caller("ann@example.com", Some(2));
    let statuses: Vec<u16> = (0..3)
        .map(|_| post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"x"}"#).status)
        .chain([crate::common::get(&server.url("/api/todos"), Some("gta_unknown")).status])
        .collect();
    assert_eq!(statuses, [200, 200, 429, 401]);
    let logged = |args: &[&str]| -> Vec<i64> {
        let mut all = vec!["logs", "--json"];
        all.extend_from_slice(args);
        let mut statuses: Vec<i64> =
            json(&server.cli(&all)).as_array().unwrap().iter().map(|row| row["status"].as_i64().unwrap()).collect();
        // A 401's row is written apart from the quota's job, so the order between them may vary.
        statuses.sort_unstable();
        statuses
    };
    assert_eq!(logged(&["--status", "4xx"]), [401, 429], "a class, as in the console");
    assert_eq!(logged(&["--status", "2xx"]), [200, 200]);
    assert_eq!(logged(&["--status", "429"]), [429]);
    assert_eq!(logged(&["--path", "/api/todos"]), [401], "a path prefix");
    assert_eq!(logged(&["--client", &client_id, "--status", "4xx"]), [429]);
    assert_eq!(logged(&["--client", &client_id, "--limit", "1"]), [429]);
    assert_eq!(logged(&["--from", "2000-01-01", "--to", "2999-01-01"]).len(), 4, "a time range");
    assert_eq!(logged(&["--to", "2000-01-01"]), Vec::<i64>::new());
    fails(&server.cli(&["logs", "--status", "4x"]), "--status: '4x' is not a status");
    fails(&server.cli(&["logs", "--from", "yesterday"]), "--from: 'yesterday' is not a time");
}

#[test]
fn token_revoke_takes_a_client_alone() {
    let server = TestServer::start();
    let (_, client_id, ann) = server.caller("ann@example.com", None);
    let bob_id = server.add_user("bob@example.com");
    let bob = server.token(&bob_id, &client_id, std::time::Duration::from_secs(3600));
    let status = |token: &str| crate::common::get(&server.url("/api/todos"), Some(token)).status;
    assert_eq!((status(&ann), status(&bob)), (200, 200));

    let help = ok(&server.cli(&["token", "revoke", "--help"]));
    let usage = help.lines().find(|l| l.starts_with("Usage:")).unwrap();
    assert!(!usage.contains("<--user") && !usage.contains("--user <"), "no flag shown as required: {usage}");
    fails(&server.cli(&["token", "revoke"]), "--client CLIENT_ID");

    let said = ok(&server.cli(&["token", "revoke", "--client", &client_id]));
    assert!(said.starts_with("Revoked 2 tokens of client"), "{said}");
    assert_eq!((status(&ann), status(&bob)), (401, 401), "every user's token of the client stops working");
    fails(&server.cli(&["token", "revoke", "--client", "gtc_nope"]), "no client");
}

/// The binary with `args` and the environment variables `vars`.
fn with_env(db: &std::path::Path, args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gpt-todo"));
    command.arg("--db").arg(db).args(args).envs(vars.iter().copied());
    command.output().unwrap()
}

#[test]
fn variables_meant_for_something_else_do_not_filter_reports() {
    let server = TestServer::start();
    let (_, _, token) = server.caller("ann@example.com", None);
    for _ in 0..3 {
        assert_eq!(post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"x"}"#).status, 200);
    }
    let stray = [
        ("GPT_TODO_USER", "someone-else@example.com"),
        ("GPT_TODO_CLIENT", "gtc_other"),
        ("GPT_TODO_LIMIT", "1"),
        ("GPT_TODO_STATUS", "500"),
        ("GPT_TODO_JSON", "yes"),
        ("GPT_TODO_CREATE", "yes"),
    ];
    let logs = ok(&with_env(&server.db_path, &["logs"], &stray));
    assert_eq!(logs.lines().count(), 4, "every call, as a table, whatever the variables say: {logs}");
    let usage = ok(&with_env(&server.db_path, &["usage"], &stray));
    assert!(usage.contains("ann@example.com") && usage.starts_with("USER ID"), "{usage}");
    let typo = server.db_path.with_file_name("typo.db");
    fails(&with_env(&typo, &["user", "list"], &stray), "no gpt-todo database here");
    assert!(!typo.exists(), "GPT_TODO_CREATE does not switch off the mistyped-path check");

    // Configuration is still read from the environment: the database and the server's settings.
    let listed = Command::new(env!("CARGO_BIN_EXE_gpt-todo"))
        .args(["user", "list"])
        .env("GPT_TODO_DB", &server.db_path)
        .output()
        .unwrap();
    assert!(ok(&listed).contains("ann@example.com"), "GPT_TODO_DB names the database");
    let usage = json(&with_env(&server.db_path, &["usage", "--json"], &[("GPT_TODO_DEFAULT_CALL_LIMIT", "5")]));
    assert_eq!((usage[0]["limit"].as_i64(), usage[0]["remaining"].as_i64()), (Some(5), Some(2)), "{usage}");
    let added = ok(&with_env(
        &server.db_path,
        &["client", "add", "Env", "--redirect-uri", CALLBACK],
        &[("GPT_TODO_PUBLIC_URL", "https://todo.example.com")],
    ));
    assert_eq!(field(&added, "Token URL:"), "https://todo.example.com/api/oauth2/token", "{added}");
}

#[test]
fn output_counts_in_english_and_cli_changes_are_in_the_consoles_audit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let run = |args: &[&str]| cli_on(&db, args, None);
    ok(&cli_on(&db, &["user", "add", "ann@example.com", "--password-stdin"], Some("long enough\n")));
    let client_id = field(&ok(&run(&["client", "add", "G", "--redirect-uri", CALLBACK])), "Client ID:").to_owned();
    let client_list = ok(&run(&["client", "list"]));
    assert!(client_list.lines().nth(1).unwrap().contains(" - "), "no limit of its own shows as -: {client_list}");
    ok(&run(&["token", "issue", "--user", "ann@example.com", "--client", &client_id]));
    let said = ok(&run(&["token", "revoke", "--user", "ann@example.com"]));
    assert!(said.contains("Revoked 1 token of"), "{said}");
    let said = ok(&run(&["token", "revoke", "--user", "ann@example.com"]));
    assert!(said.contains("Revoked 0 tokens of"), "{said}");
    let server = TestServer::start_on(&db, |_| {});
    let token = ok(&run(&["token", "issue", "--user", "ann@example.com", "--client", &client_id])).trim().to_owned();
    assert_eq!(post_json(&server.url("/api/todo-demo"), Some(&token), r#"{"title":"x"}"#).status, 200);
    let said = ok(&run(&["usage", "reset", "--user", "ann@example.com"]));
    assert!(said.starts_with("Reset 1 counter of"), "{said}");
    ok(&run(&["client", "set-limit", &client_id, "5", "--per", "day"]));
    ok(&run(&["client", "rotate-secret", &client_id]));
    ok(&run(&["user", "disable", "ann@example.com"]));
    let said = ok(&run(&["user", "remove", "ann@example.com"]));
    assert!(said.contains("with 1 todo;"), "{said}");
    fails(&run(&["user", "disable", "ann@example.com"]), "no user");

    let rows: Vec<(String, String, String, String)> = server
        .sql()
        .prepare("SELECT action, target, via, admin_email FROM admin_audit ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.add",
            "client.add",
            "user.issue-token",
            "user.revoke-tokens",
            "user.revoke-tokens",
            "user.issue-token",
            "user.reset-usage",
            "client.set-limit",
            "client.rotate-secret",
            "user.disable",
            "user.remove",
        ],
        "every change once, none for what failed or only read"
    );
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    assert!(rows.iter().all(|r| r.2 == "cli" && r.3.starts_with(me.trim())), "marked as CLI, by {me}: {rows:?}");
    let detail: String = server
        .sql()
        .query_row("SELECT detail FROM admin_audit WHERE action = 'client.set-limit'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(detail, "5 calls per day");
    let secrets: i64 = server
        .count("SELECT count(*) FROM admin_audit WHERE detail LIKE '%gts_%' OR detail LIKE '%gta_%' OR detail LIKE '%long enough%'");
    assert_eq!(secrets, 0, "no secret, token or password in the audit");
}
