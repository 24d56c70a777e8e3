//! For the store's OAuth tests: a real server store (on an SQLite file of its own, or a fresh
//! PostgreSQL database), with a user and two clients in it.

use std::path::PathBuf;

use super::test_stores::{Backend, TestStore};
use super::{Commit, Store, clients};
use crate::oauth::client_rules::{NewClient, Registration};
use crate::support::clock::unix_now;
use crate::support::ids::UserId;

pub const REDIRECT_URI: &str = "https://chatgpt.com/aip/g-test/oauth/callback";

pub struct Fixture {
    pub store: Store,
    /// The SQLite file (`None` on PostgreSQL).
    pub path: Option<PathBuf>,
    pub user_id: UserId,
    /// The client the grants are for, and another one.
    pub client_id: String,
    pub other_client_id: String,
    _test_store: TestStore,
}

impl Fixture {
    /// The server's SQLite store (its writer, its readers) on a new file.
    pub async fn new() -> Fixture {
        Fixture::on(Backend::Sqlite).await
    }

    /// The server's store on `backend`.
    pub async fn on(backend: Backend) -> Fixture {
        let test_store = TestStore::open(backend);
        let store = test_store.store.clone();
        let path = test_store.sqlite_path();
        let add = |name: &str| {
            NewClient::prepare(Registration::Operator, name, &[REDIRECT_URI.to_owned()], None, false).expect(name)
        };
        let (client, other) = (add("Test GPT"), add("Other GPT"));
        let (client_id, other_client_id) = (client.client_id.clone(), other.client_id.clone());
        let now = unix_now();
        store
            .write(Commit::OnOk, move |tx| {
                tx.execute(
                    "INSERT INTO users (id, email, name, password_hash, created_at)
                     VALUES ('u1', 'ann@example.com', 'Ann', 'x', $1)",
                    &[tx.now().timestamp().into()],
                )?;
                clients::insert(tx, &client, now)?;
                clients::insert(tx, &other, now)
            })
            .await
            .expect("a user and two clients");
        Fixture { store, path, user_id: UserId::new("u1"), client_id, other_client_id, _test_store: test_store }
    }

    /// One number the database holds, read in a job of its own.
    pub async fn count(&self, sql: &'static str) -> i64 {
        let row = self.store.read(move |tx| tx.query_one(sql, &[])).await.expect(sql);
        row.and_then(|row| row.integer(0)).expect("a number")
    }
}
