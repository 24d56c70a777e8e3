//! The real `gpt-todo serve` executable as a child process on 127.0.0.1:0, for what only a
//! process shows: its resident memory and threads (`/proc/<pid>/status`), its stderr, its
//! descriptor limit. Stopped with SIGKILL when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Reads a started server's first line, `gpt-todo listening on http://ADDRESS ...`, and returns
/// its stdout (kept open so the server never writes into a closed pipe) and the address.
pub fn listening_address(child: &mut Child) -> (BufReader<ChildStdout>, std::net::SocketAddr) {
    let mut stdout = BufReader::new(child.stdout.take().expect("the server's stdout is piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the server's first line");
    let address = line
        .strip_prefix("gpt-todo listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("expected the listening banner, got {line:?}"));
    (stdout, address.parse().expect("a socket address"))
}

pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub address: std::net::SocketAddr,
    pub db_path: PathBuf,
    stderr_path: PathBuf,
    _stdout: BufReader<ChildStdout>,
    _dir: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// `gpt-todo serve` on a fresh database with `args` after `serve` and `env` set.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = ServerProcess::start_on(&dir.path().join("test.db"), args, env, None);
        server._dir = Some(dir);
        server
    }

    /// Like [`ServerProcess::start`] on `db_path`; with `max_open_files`, the process starts with
    /// that soft and hard `RLIMIT_NOFILE` (as `ulimit -n` would give it).
    pub fn start_on(db_path: &Path, args: &[&str], env: &[(&str, &str)], max_open_files: Option<u64>) -> ServerProcess {
        let stderr_path = db_path.with_extension("stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("server stderr file");
        // GPT_TODO_BIN measures another build (e.g. the last release) with the same load.
        let binary = std::env::var_os("GPT_TODO_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_gpt-todo").into());
        let mut command = Command::new(binary);
        command
            .arg("--db")
            .arg(db_path)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr);
        if let Some(limit) = max_open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().expect("start gpt-todo serve");
        let (stdout, address) = listening_address(&mut child);
        ServerProcess {
            base: format!("http://{address}"),
            address,
            db_path: db_path.to_path_buf(),
            stderr_path,
            child,
            _stdout: stdout,
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A number from `/proc/<pid>/status`, e.g. `VmHWM` (peak resident memory, kB) or `Threads`.
    pub fn status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"))
    }

    /// Peak resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        self.status("VmHWM") / 1024
    }

    /// Reads the server's stdout up to the first line that starts with `prefix`, and returns the
    /// rest of that line (e.g. the address after `Prometheus metrics at `).
    pub fn stdout_after(&mut self, prefix: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self._stdout.read_line(&mut line).expect("the server's stdout");
            assert!(read > 0, "the server's stdout ended without a line starting {prefix:?}");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim_end().to_owned();
            }
        }
    }

    /// What the server has written to stderr so far (its log lines).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr_path).expect("read the server's stderr")).into_owned()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
