//! Each configuration flag (`--db` and `serve`'s, wherever they appear) parsed from its
//! `GPT_TODO_*` variable alone, and every other flag (one command's filters and arguments) never
//! read from one. Variables are process-wide and the other tests in this binary start servers that
//! would read them, so the check runs in a child process of this test binary that runs this one
//! test and nothing else, setting one variable at a time.

use std::process::Command;

use clap::parser::ValueSource;

/// Set in the child process: there, this test is the only one running.
const ALONE: &str = "GPT_TODO_TEST_ENV_VARS_ALONE";

/// A value each flag accepts; most take a number, which a text flag accepts too.
fn sample(long: &str) -> &'static str {
    match long {
        "listen" | "metrics-listen" => "localhost:9",
        "public-url" | "userinfo-url" | "cors-origin" => "https://a.example",
        "redirect-uri" => "https://a.example/cb",
        "synchronous" => "normal",
        "log-format" => "json",
        "trusted-proxy" => "127.0.0.1",
        "db" => "/tmp/x.db",
        "default-call-window" | "per" => "day",
        _ => "5",
    }
}

/// Arguments that make `path` parse without the flag under test.
fn required_args(command: &clap::Command, skip: &str) -> Vec<String> {
    let mut args = Vec::new();
    for arg in command.get_arguments().filter(|a| a.is_required_set() && a.get_id() != skip) {
        match arg.get_long() {
            Some(long) => args.extend([format!("--{long}"), sample(long).to_owned()]),
            // A positional argument: the first of its values when it has a list (`on`/`off`).
            None => match arg.get_possible_values().first() {
                Some(value) => args.push(value.get_name().to_owned()),
                None => args.push("x@example.com".to_owned()),
            },
        }
    }
    args
}

fn leaves(command: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    let subs: Vec<_> = command.get_subcommands().filter(|s| s.get_name() != "help").collect();
    if !command.is_subcommand_required_set() || subs.is_empty() {
        out.push(path.clone());
    }
    for sub in subs {
        let mut deeper = path.clone();
        deeper.push(sub.get_name().to_owned());
        leaves(sub, deeper, out);
    }
}

/// Parses `argv` with `variable=value` set (and removed again).
fn parse_with(variable: &str, value: &str, argv: &[String]) -> Result<clap::ArgMatches, clap::Error> {
    // SAFETY: this process runs this one test (see ALONE), so nothing else reads the environment.
    unsafe { std::env::set_var(variable, value) };
    let parsed = gpt_todo::cli::args::command().try_get_matches_from(argv);
    unsafe { std::env::remove_var(variable) };
    parsed
}

#[test]
fn configuration_flags_and_only_they_are_read_from_their_variables() {
    if std::env::var_os(ALONE).is_none() {
        let test = concat!(module_path!(), "::configuration_flags_and_only_they_are_read_from_their_variables");
        let test = test.split_once("::").map_or(test, |(_crate, path)| path);
        let child = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--test-threads=1"])
            .env(ALONE, "1")
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "the check in its own process failed:\n{printed}");
        assert!(printed.contains("1 passed"), "the child ran the check:\n{printed}");
        return;
    }
    let settings = gpt_todo::cli::args::setting_flags();
    let mut root = gpt_todo::cli::args::command();
    root.build();
    let mut paths = Vec::new();
    leaves(&root, Vec::new(), &mut paths);
    let (mut read, mut ignored) = (0, 0);
    for path in paths.iter().filter(|p| !p.is_empty()) {
        let command = path.iter().fold(&root, |c, name| c.find_subcommand(name).unwrap());
        for arg in command.get_arguments().filter(|a| a.get_long().is_some_and(|l| l != "help" && l != "version")) {
            let long = arg.get_long().unwrap();
            let variable = gpt_todo::cli::args::env_var_name(long);
            let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
            let value = if flag { "yes" } else { sample(long) };
            let setting = settings.iter().any(|s| s == long);
            let mut argv = vec!["gpt-todo".to_owned()];
            argv.extend(path.iter().cloned());
            // A setting must parse from its variable alone; any other flag is given on the command
            // line when required, and must not be read from the variable when it is not.
            argv.extend(required_args(command, if setting { arg.get_id().as_str() } else { "" }));
            // `client add --per` is the window of `--call-limit`, and only goes with it.
            if long == "per" && command.get_arguments().any(|a| a.get_long() == Some("call-limit")) {
                argv.extend(["--call-limit".to_owned(), "5".to_owned()]);
            }
            let matches =
                parse_with(&variable, value, &argv).unwrap_or_else(|e| panic!("{variable}={value} with {argv:?}: {e}"));
            let leaf = path.iter().fold(&matches, |m, name| m.subcommand_matches(name).unwrap());
            let id = arg.get_id().as_str();
            if setting {
                assert_eq!(leaf.value_source(id), Some(ValueSource::EnvVariable), "{variable} sets {path:?} --{long}");
                if flag {
                    assert!(leaf.get_flag(id), "{variable}=yes turns --{long} on");
                }
                read += 1;
            } else {
                assert_ne!(
                    leaf.value_source(id),
                    Some(ValueSource::EnvVariable),
                    "{variable} must not set {path:?} --{long}: it is not configuration"
                );
                ignored += 1;
            }
        }
    }
    assert!(read > 20 && ignored > 20, "only {read} settings and {ignored} other flags checked");

    // Switches take the words people write; lists split on commas, with or without spaces.
    let serve = |extra: &[&str]| {
        let mut argv: Vec<String> = ["gpt-todo", "serve"].map(str::to_owned).to_vec();
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv
    };
    for (word, on) in [("1", true), ("true", true), ("YES", true), ("0", false), ("false", false), ("no", false)] {
        let matches = parse_with("GPT_TODO_ALLOW_SIGNUP", word, &serve(&[])).unwrap();
        assert_eq!(matches.subcommand_matches("serve").unwrap().get_flag("allow_signup"), on, "{word}");
    }
    let matches = parse_with("GPT_TODO_CORS_ORIGIN", "https://a.example, https://b.example", &serve(&[])).unwrap();
    let origins: Vec<&String> = matches.subcommand_matches("serve").unwrap().get_many("cors_origin").unwrap().collect();
    assert_eq!(origins, ["https://a.example", "https://b.example"]);
}
