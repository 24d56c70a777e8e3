//! For the store's OAuth tests: a real server store on an SQLite file of its own, with a user and
//! two clients in it.

use std::path::PathBuf;

use tempfile::TempDir;

use super::{Commit, Store, clients};
use crate::oauth::client_rules::{NewClient, Registration};
use crate::store::sqlite::Retention;
use crate::support::clock::unix_now;
use crate::support::ids::UserId;

pub const REDIRECT_URI: &str = "https://chatgpt.com/aip/g-test/oauth/callback";

pub struct Fixture {
    pub store: Store,
    pub path: PathBuf,
    pub user_id: UserId,
    /// The client the grants are for, and another one.
    pub client_id: String,
    pub other_client_id: String,
    _dir: TempDir,
}

impl Fixture {
    /// The server's store (its writer, its readers) on a new file.
    pub async fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("oauth.db");
        let store = Store::open_server(&path, false, Retention::default()).expect("open the server's store");
        let add = |name: &str| {
            NewClient::prepare(Registration::Operator, name, &[REDIRECT_URI.to_owned()], None, false).expect(name)
        };
        let (client, other) = (add("Test GPT"), add("Other GPT"));
        let (client_id, other_client_id) = (client.client_id.clone(), other.client_id.clone());
        let now = unix_now();
        store
            .write(Commit::OnOk, move |tx| {
                tx.sqlite()?.execute(
                    "INSERT INTO users (id, email, name, password_hash) VALUES ('u1', 'ann@example.com', 'Ann', 'x')",
                    [],
                )?;
                clients::insert(tx, &client, now)?;
                clients::insert(tx, &other, now)
            })
            .await
            .expect("a user and two clients");
        Fixture { store, path, user_id: UserId::new("u1"), client_id, other_client_id, _dir: dir }
    }

    /// One number the database holds, read in a job of its own.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.store.read(move |tx| Ok(tx.sqlite()?.query_row(sql, [], |r| r.get(0))?)).await.expect(sql)
    }
}
