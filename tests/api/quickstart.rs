//! The README's quickstart block, pasted as a whole: taken verbatim from README.md and run with
//! bash in a fresh folder. The release build line stands outside the block (a release build is
//! too slow for CI), so this test puts the already built binary where the block expects it,
//! `./target/release/gpt-todo`. The block starts the server on 127.0.0.1:8080 and stops it itself.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first ```sh block after the heading `## Quickstart` that does not build.
fn quickstart_block() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## Quickstart").expect("a Quickstart section")..];
    section
        .split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("\n```").map(|(block, _)| block))
        .find(|block| !block.trim_start().starts_with("cargo build"))
        .expect("a pasteable block in the Quickstart")
        .to_owned()
}

#[test]
fn the_readme_quickstart_works_when_pasted_as_a_whole() {
    let block = quickstart_block();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("target/release");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gpt-todo"), bin.join("gpt-todo")).unwrap();

    let mut shell = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &block])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a hanging block can be stopped with its server.
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while shell.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", shell.id())]).status();
            panic!("the quickstart block did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = shell.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the block failed ({:?}):\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains(r#""title":"Try gpt-todo""#), "the curl created the todo:\n{stdout}\n{stderr}");
    assert!(stdout.contains("gpt-todo stopped"), "kill %1 stopped the server cleanly:\n{stdout}");
    // USER ID, EMAIL, CLIENT ID, WINDOW, PERIOD, COUNT, CURRENT, LIMIT, ...: the count and the limit.
    let usage_row = stdout.lines().find(|l| l.contains("you@example.com") && l.contains("gtc_"));
    let counted = usage_row.map(|row| row.split_whitespace().collect::<Vec<_>>());
    assert!(
        counted.is_some_and(|cells| cells[5] == "1" && cells[7] == "1000"),
        "usage shows 1 call of 1000:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.contains("POST") && l.contains("/api/todo-demo") && l.contains("200")),
        "{stdout}"
    );
}
