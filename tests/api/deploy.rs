//! The files in deploy/ that an operator copies onto a VPS: the environment file names every
//! `serve` option and each of its values is accepted; the Caddyfile is valid and formatted for
//! Debian's caddy; the systemd unit passes `systemd-analyze verify` (Debian's systemd package).
//! scripts/test installs both when missing; without them these tests fail saying what to install.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::tool;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");

/// `NAME=value` of every line of the example, commented out or not.
fn example_values() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(format!("{DEPLOY}/gpt-todo.env.example")).unwrap();
    text.lines()
        .map(|line| line.trim_start_matches('#').trim())
        .filter_map(|line| line.split_once('='))
        .filter(|(name, _)| name.starts_with("GPT_TODO_") || *name == "RUST_LOG")
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

#[test]
fn the_environment_file_lists_every_serve_option() {
    let mut command = gpt_todo::cli::args::command();
    command.build();
    let serve = command.find_subcommand("serve").unwrap();
    let values = example_values();
    let missing: Vec<String> = serve
        .get_arguments()
        .filter_map(|arg| arg.get_long().filter(|l| *l != "help"))
        .map(gpt_todo::cli::args::env_var_name)
        .filter(|name| !values.contains_key(name))
        .collect();
    assert!(missing.is_empty(), "deploy/gpt-todo.env.example must list {missing:?}");
}

#[test]
fn serve_starts_with_every_value_of_the_environment_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_gpt-todo"));
    serve.arg("serve").envs(example_values());
    // Where this test may write and listen; everything else as the example has it.
    serve.env("GPT_TODO_DB", dir.path().join("example.db")).env("GPT_TODO_LISTEN", "127.0.0.1:0");
    let mut child = serve.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let first = BufReader::new(child.stdout.take().unwrap()).lines().next();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let first = first.and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("listening on"), "serve refused the example: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn the_caddyfile_is_valid_and_formatted() {
    let caddyfile = format!("{DEPLOY}/Caddyfile");
    let run = |args: &[&str]| tool("caddy", "caddy").args(args).output().expect("run caddy");
    let validated = run(&["validate", "--config", &caddyfile, "--adapter", "caddyfile"]);
    assert!(validated.status.success(), "caddy validate: {}", String::from_utf8_lossy(&validated.stderr));
    let formatted = run(&["fmt", &caddyfile]);
    assert_eq!(
        String::from_utf8_lossy(&formatted.stdout),
        std::fs::read_to_string(&caddyfile).unwrap(),
        "deploy/Caddyfile differs from `caddy fmt`'s layout"
    );
}

#[test]
#[should_panic(expected = "is not installed: `sudo apt-get install no-such-package`")]
fn a_missing_tool_fails_saying_what_to_install() {
    tool("gpt-todo-no-such-tool", "no-such-package");
}

#[test]
fn the_systemd_unit_verifies() {
    let version = tool("systemd-analyze", "systemd").arg("--version").output().expect("run systemd-analyze");
    assert!(version.status.success());
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let unit = std::fs::read_to_string(format!("{DEPLOY}/gpt-todo.service")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("gpt-todo.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/gpt-todo", env!("CARGO_BIN_EXE_gpt-todo"))).unwrap();
    let verified = Command::new("systemd-analyze").arg("verify").arg(&copy).output().unwrap();
    let complaints = String::from_utf8_lossy(&verified.stderr);
    assert!(verified.status.success() && complaints.trim().is_empty(), "systemd-analyze verify: {complaints}");
}
