//! `restore` as an operator runs it on day two, with the real binary: as root over a service's
//! database, which must stay the service's (owner, mode, and its `.lock`); onto a mistyped path,
//! which must not "succeed"; and from the gzipped files of the README's nightly recipe.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::cli::{fails, gpt_todo_database, mode, ok};
use crate::common::cli_on;

/// An account with no files of its own here (Debian's `nobody`), standing in for `gpt-todo`.
const SERVICE_UID: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn owner(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).uid()
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The binary as the service account, with `--db db` and `args`.
fn as_service(db: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={SERVICE_UID}"))
        .arg(format!("--regid={SERVICE_UID}"))
        .arg("--clear-groups")
        .arg(env!("CARGO_BIN_EXE_gpt-todo"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null());
    command
}

/// Starts `serve` with `command`, reads its first line and stops it: whether it was listening,
/// and what it said on stderr otherwise.
fn serve_starts(mut command: Command) -> Result<(), String> {
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut first);
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    if first.contains("listening on") { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}

fn users_of(db: &Path) -> String {
    ok(&cli_on(db, &["user", "list"], None))
}

#[test]
fn a_restore_as_root_keeps_the_database_and_its_lock_the_services() {
    let dir = tempfile::tempdir().unwrap();
    let db = gpt_todo_database(dir.path(), "gpt-todo.db");
    let backup = dir.path().join("backup.db");
    ok(&cli_on(&db, &["backup", backup.to_str().unwrap()], None));
    ok(&cli_on(&db, &["user", "add", "later@example.com", "--password-stdin"], Some("long enough\n")));
    chmod(&db, 0o640);
    if !is_root() {
        // Only root can give a file to another account: what a user can check is the mode.
        ok(&cli_on(&db, &["restore", backup.to_str().unwrap()], None));
        assert_eq!(mode(&db), 0o640, "restore keeps the database's mode");
        eprintln!(
            "NOTE: not root, so only the mode was checked; run the tests as root (scripts/test does) to check \
             that a restore as root keeps the service account's owner on the database and its .lock"
        );
        return;
    }

    // The service's directory and database, as systemd's StateDirectory= leaves them; no lock
    // file yet (the service never ran, or it was cleaned away).
    chown(dir.path(), SERVICE_UID);
    chown(&db, SERVICE_UID);
    let lock = dir.path().join("gpt-todo.db.lock");
    let _ = std::fs::remove_file(&lock);
    let restored = ok(&cli_on(&db, &["restore", backup.to_str().unwrap()], None));
    assert!(restored.contains("nobody (uid 65534), mode 0640"), "it says whose the file is: {restored}");
    assert_eq!((owner(&db), mode(&db)), (SERVICE_UID, 0o640), "the database keeps its owner and mode");
    assert_eq!((owner(&lock), mode(&lock)), (SERVICE_UID, 0o600), "the lock root made is the service's");
    assert!(!users_of(&db).contains("later@example.com"), "the backup's data");
    serve_starts(as_service(&db, &[])).expect("the service starts on the file root restored");

    // A lock file an earlier root run left behind, root's and 0600, is given back too.
    chown(&lock, 0);
    ok(&cli_on(&db, &["restore", backup.to_str().unwrap()], None));
    assert_eq!(owner(&lock), SERVICE_UID, "root's old lock file is the service's again");
    serve_starts(as_service(&db, &[])).expect("the service starts after a second restore");

    // The service account over root's database: refused, naming the owner; nothing changes.
    let roots = tempfile::tempdir().unwrap();
    chmod(roots.path(), 0o777);
    let root_db = gpt_todo_database(roots.path(), "root.db");
    let before = std::fs::read(&root_db).unwrap();
    let output = as_service(&root_db, &["restore", backup.to_str().unwrap()]).output().unwrap();
    fails(&output, "it belongs to root (uid 0)");
    assert!(String::from_utf8_lossy(&output.stderr).contains("sudo -u root"), "{output:?}");
    assert_eq!(std::fs::read(&root_db).unwrap(), before, "a refused restore changes nothing");
    assert_eq!(owner(&root_db), 0);

    // A database the service cannot open: the error names the file and its owner, not the directory.
    let refused = serve_starts(as_service(&root_db, &[])).expect_err("the service cannot open root's 0600 file");
    assert!(
        refused.contains(root_db.to_str().unwrap()) && refused.contains("belongs to root (uid 0), mode 0600"),
        "the error names the file and its owner: {refused}"
    );
    assert!(!refused.contains("directory"), "the directory is fine, and the error says nothing of it: {refused}");
}

#[test]
fn a_restore_onto_a_missing_database_is_refused_unless_create() {
    let dir = tempfile::tempdir().unwrap();
    let db = gpt_todo_database(dir.path(), "gpt-todo.db");
    let backup = dir.path().join("backup.db");
    ok(&cli_on(&db, &["backup", backup.to_str().unwrap()], None));
    let typo = dir.path().join("todos.db");
    fails(&cli_on(&typo, &["restore", backup.to_str().unwrap()], None), "no gpt-todo database here to restore over");
    let left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!left.iter().any(|name| name.starts_with("todos.db")), "nothing made at the mistyped path: {left:?}");

    let restored = cli_on(&typo, &["--create", "restore", backup.to_str().unwrap()], None);
    assert!(ok(&restored).starts_with("Restored"), "--create restores into a new file");
    assert!(users_of(&typo).contains("kept@example.com"));
    assert_eq!(mode(&typo), 0o600, "a new database is its owner's only");
}

#[test]
fn the_nightly_gzip_recipe_writes_owner_only_files_that_restore_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = gpt_todo_database(dir.path(), "gpt-todo.db");
    // The README's cron line, as cron runs it (`\%` is `%`), on this test's files, under the
    // common umask 022 it must not depend on.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let line = readme.lines().find(|l| l.contains("backup - | gzip")).expect("the README's nightly recipe");
    let command = line.split_whitespace().skip(6).collect::<Vec<_>>().join(" ").replace("\\%", "%");
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let command = command
        .replace("/usr/local/bin/gpt-todo", env!("CARGO_BIN_EXE_gpt-todo"))
        .replace("/var/lib/gpt-todo/gpt-todo.db", db.to_str().unwrap())
        .replace("/var/lib/gpt-todo/backups", backups.to_str().unwrap());
    let written = Command::new("sh").arg("-c").arg(format!("umask 022; {command}")).output().unwrap();
    assert!(written.status.success() && written.stderr.is_empty(), "{command}: {written:?}");
    let nightly = std::fs::read_dir(&backups).unwrap().next().expect("the recipe wrote a file").unwrap().path();
    assert!(nightly.to_str().unwrap().ends_with(".db.gz"), "{}", nightly.display());
    assert_eq!(mode(&nightly), 0o600, "the recipe's file is owner-only");
    ok(&cli_on(&db, &["user", "add", "later@example.com", "--password-stdin"], Some("long enough\n")));

    let restored = ok(&cli_on(&db, &["restore", nightly.to_str().unwrap()], None));
    assert!(restored.contains("(gunzipped)"), "{restored}");
    let users = users_of(&db);
    assert!(users.contains("kept@example.com") && !users.contains("later@example.com"), "the backup's data: {users}");
    assert!(!dir.path().join("gpt-todo.db.unpacked").exists(), "the unpacked copy is removed");

    // A cut-off download: refused, naming the backup; the database stays as it was.
    let cut = dir.path().join("cut.db.gz");
    let bytes = std::fs::read(&nightly).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let before = std::fs::read(&db).unwrap();
    let output = cli_on(&db, &["restore", cut.to_str().unwrap()], None);
    fails(&output, "gzip -t");
    assert!(String::from_utf8_lossy(&output.stderr).starts_with(&format!("error: {}", cut.display())), "{output:?}");
    assert_eq!(std::fs::read(&db).unwrap(), before);

    // Not a database at all: the error is about the backup, not --db.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database at all, just some text that is long enough to have a header\n").unwrap();
    let output: Output = cli_on(&db, &["restore", text.to_str().unwrap()], None);
    fails(&output, "check the backup's path");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("--db"), "{output:?}");
}
