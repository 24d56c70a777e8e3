//! One test list, two stores: [`on_both_backends!`] runs a store-level test once on the server's
//! SQLite store (a file of its own) and once on PostgreSQL (a fresh database in the test
//! process's throwaway cluster, [`super::postgres::throwaway`]).

use tempfile::TempDir;

use super::Store;
use super::sqlite::Retention;
use crate::support::clock::Clock;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store for one test, and what keeps its database alive.
pub struct TestStore {
    pub store: Store,
    _dir: Option<TempDir>,
}

impl TestStore {
    /// The SQLite file, on SQLite.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        self._dir.as_ref().map(|dir| dir.path().join("test.db"))
    }

    pub fn open(backend: Backend) -> TestStore {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let store = Store::open_server(&dir.path().join("test.db"), false, Retention::default())
                    .expect("open the server's store");
                TestStore { store, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let url = super::postgres::throwaway::database();
                let config = super::postgres::PgConfig::parse(&url).expect("the throwaway cluster's URL");
                let store = Store::open_postgres(&config, 8, Clock::system()).expect("open the PostgreSQL store");
                TestStore { store, _dir: None }
            }
        }
    }
}

/// `on_both_backends!(name, |backend| async { … })` is a module `name` with the tests `sqlite`
/// and `postgres`, each running the body on that backend (multi-threaded, so racing jobs race).
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                ($body)(crate::store::test_stores::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                ($body)(crate::store::test_stores::Backend::Postgres).await
            }
        }
    };
}
pub(crate) use on_both_backends;
