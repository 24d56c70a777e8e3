//! For tests: one throwaway PostgreSQL cluster per test process (`scripts/pg-cluster`, never a
//! system-wide one), stopped and removed when the process exits, and a fresh database in it for
//! each test. Without PostgreSQL installed this panics saying what to install: a test on both
//! backends never passes by skipping one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The running cluster: its folder (for `stop`), and the URL of its `gpt_todo` role.
struct Cluster {
    dir: PathBuf,
    url: String,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster")
}

fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let output = Command::new(script()).arg("start").output().expect("run scripts/pg-cluster");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "these tests need PostgreSQL (Debian's postgresql package; scripts/test installs it): \
             scripts/pg-cluster said: {stderr}"
        );
        let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let dir = PathBuf::from(stderr.lines().last().expect("pg-cluster prints its folder last").trim());
        // SAFETY: `stop_at_exit` is a plain function that runs once, when the process exits.
        unsafe { libc::atexit(stop_at_exit) };
        Cluster { dir, url }
    })
}

extern "C" fn stop_at_exit() {
    if let Some(cluster) = CLUSTER.get() {
        let _ = Command::new(script()).arg("stop").arg(&cluster.dir).output();
    }
}

/// A new, empty database owned by the `gpt_todo` role; its URL (password included).
pub fn database() -> String {
    let cluster = cluster();
    let name = format!("test_{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::SeqCst));
    // The cluster trusts its own socket (a 0700 folder): the postgres superuser creates it.
    let socket = cluster.dir.join("socket");
    let port = std::fs::read_to_string(cluster.dir.join("port")).expect("the cluster's port");
    let psql = Path::new(&pg_bin()).join("psql");
    let mut command = if unsafe { libc::geteuid() } == 0 {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(&psql);
        runuser
    } else {
        Command::new(&psql)
    };
    let created = command
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres", "-p", port.trim(), "-h"])
        .arg(&socket)
        .args(["-c", &format!("CREATE DATABASE {name} OWNER gpt_todo")])
        .output()
        .expect("run psql");
    assert!(created.status.success(), "CREATE DATABASE {name}: {}", String::from_utf8_lossy(&created.stderr));
    let (base, _) = cluster.url.rsplit_once('/').expect("the URL names a database");
    format!("{base}/{name}")
}

/// The newest of Debian's `/usr/lib/postgresql/*/bin`, as `scripts/pg-cluster` picks it.
fn pg_bin() -> String {
    if let Ok(bin) = std::env::var("PG_BIN") {
        return bin;
    }
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.filter_map(|d| d.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    versions.sort_unstable();
    format!("/usr/lib/postgresql/{}/bin", versions.last().expect("a PostgreSQL under /usr/lib/postgresql"))
}
