//! The SQL of todos. Every query is scoped by the owner, so a row of another user is simply not
//! found: there is no path by which one user reads or changes another's todo.

use super::sql::{Sql, SqlRow};
use super::{StoreError, Tx};
use crate::support::ids::UserId;
use crate::todos::{ListQuery, NewTodo, Todo, TodoPatch};

/// The columns [`from_row`] reads, in its order.
macro_rules! columns {
    () => {
        "id, title, description, status, user_id, created_at, updated_at"
    };
}

fn from_row(row: &SqlRow<'_>) -> Result<Todo, StoreError> {
    Ok(Todo {
        id: row.get(0)?,
        title: row.get(1)?,
        description: row.get(2)?,
        status: row.get(3)?,
        user_id: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

/// The job's moment is both timestamps (PostgreSQL's schema has no clock defaults).
static INSERT: Sql = Sql::new(concat!(
    "INSERT INTO todos (user_id, title, description, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
    columns!()
));

pub fn insert(tx: &Tx<'_>, user_id: &UserId, new: &NewTodo) -> Result<Todo, StoreError> {
    let now = tx.now().timestamp();
    let row = tx.row(&INSERT, &[user_id, &new.title, &new.description, &new.status, &now], from_row)?;
    row.ok_or_else(|| StoreError::Other("INSERT … RETURNING gave no row".into()))
}

static LIST: Sql =
    Sql::new(concat!("SELECT ", columns!(), " FROM todos WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"));
static LIST_BY_STATUS: Sql = Sql::new(concat!(
    "SELECT ",
    columns!(),
    " FROM todos WHERE user_id = $1 AND status = $4 AND id < $2 ORDER BY id DESC LIMIT $3"
));

/// Up to `limit` todos, newest first, below the cursor. A range on the index (user_id, id) or
/// (user_id, status, id), read in index order: no sort, no OFFSET, however many rows exist.
pub fn list(tx: &Tx<'_>, user_id: &UserId, query: &ListQuery, limit: u32) -> Result<Vec<Todo>, StoreError> {
    let before = query.before.unwrap_or(i64::MAX);
    let limit = i64::from(limit);
    match &query.status {
        Some(status) => tx.rows(&LIST_BY_STATUS, &[user_id, &before, &limit, status], from_row),
        None => tx.rows(&LIST, &[user_id, &before, &limit], from_row),
    }
}

#[cfg(test)]
fn list_sql(by_status: bool) -> &'static str {
    if by_status { LIST_BY_STATUS.sqlite() } else { LIST.sqlite() }
}

static GET: Sql = Sql::new(concat!("SELECT ", columns!(), " FROM todos WHERE id = $1 AND user_id = $2"));

pub fn get(tx: &Tx<'_>, user_id: &UserId, id: i64) -> Result<Option<Todo>, StoreError> {
    tx.row(&GET, &[&id, user_id], from_row)
}

static UPDATE: Sql = Sql::new(concat!(
    "UPDATE todos SET title = coalesce($3, title), description = coalesce($4, description),
                      status = coalesce($5, status), updated_at = $6
      WHERE id = $1 AND user_id = $2 RETURNING ",
    columns!()
));

/// Changes the fields the patch has and refreshes `updated_at`; `None` when the caller has no such todo.
pub fn update(tx: &Tx<'_>, user_id: &UserId, id: i64, patch: &TodoPatch) -> Result<Option<Todo>, StoreError> {
    let now = tx.now().timestamp();
    tx.row(&UPDATE, &[&id, user_id, &patch.title, &patch.description, &patch.status, &now], from_row)
}

static DELETE: Sql = Sql::new("DELETE FROM todos WHERE id = $1 AND user_id = $2");

/// `false` when the caller has no such todo.
pub fn delete(tx: &Tx<'_>, user_id: &UserId, id: i64) -> Result<bool, StoreError> {
    Ok(tx.run(&DELETE, &[&id, user_id])? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, params};

    /// With a million rows, a full scan or a sort would be slow: the plan must be an index range.
    #[test]
    fn listing_walks_an_index_without_sorting() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrate(&conn).unwrap();
        for by_status in [false, true] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", list_sql(by_status)))
                .unwrap()
                .query_map(params!["u", 100, 21, "done"][..if by_status { 4 } else { 3 }].as_ref(), |row| row.get(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let plan = plan.join("; ");
            let index = if by_status { "todos_by_user_status" } else { "todos_by_user" };
            assert!(plan.contains(&format!("USING INDEX {index} ")), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
            let query = ListQuery { status: by_status.then(|| "done".into()), limit: 20, before: Some(100) };
            assert!(
                list(&Tx::sqlite_at(&conn, &crate::support::clock::Clock::system()), &UserId::new("u"), &query, 21)
                    .unwrap()
                    .is_empty()
            );
        }
    }
}

/// The todo statements, on both backends.
#[cfg(test)]
mod both_backends {
    use super::*;
    use crate::store::Commit;
    use crate::store::test_stores::{TestStore, on_both_backends};

    on_both_backends!(a_todo_is_created_listed_changed_and_deleted_only_by_its_owner, |backend| async move {
        let test_store = TestStore::open(backend);
        let store = &test_store.store;
        let new = |title: &str| NewTodo { title: title.into(), description: String::new(), status: "pending".into() };
        let (first, second) = (new("first"), new("second"));
        let created = store
            .write(Commit::OnOk, move |tx| {
                let ann = UserId::new("ann");
                Ok((insert(tx, &ann, &first)?, insert(tx, &ann, &second)?, insert(tx, &UserId::new("bob"), &first)?))
            })
            .await
            .unwrap();
        assert!(created.0.id < created.1.id, "ids grow: {created:?}");
        assert_eq!(created.0.created_at, created.0.updated_at);
        let query = ListQuery { status: None, limit: 20, before: None };
        let listed = store.read(move |tx| list(tx, &UserId::new("ann"), &query, 21)).await.unwrap();
        let titles: Vec<_> = listed.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["second", "first"], "newest first, Ann's only");
        let (id, bobs) = (created.0.id, created.2.id);
        let patch = TodoPatch { title: None, description: None, status: Some("done".into()) };
        let changed = store.write(Commit::OnOk, move |tx| update(tx, &UserId::new("ann"), id, &patch)).await.unwrap();
        assert_eq!(changed.map(|t| (t.title, t.status)), Some(("first".into(), "done".into())));
        let query = ListQuery { status: Some("done".into()), limit: 20, before: None };
        let done = store.read(move |tx| list(tx, &UserId::new("ann"), &query, 21)).await.unwrap();
        assert_eq!(done.len(), 1);
        let deleted = store
            .write(Commit::OnOk, move |tx| {
                Ok((delete(tx, &UserId::new("ann"), bobs)?, delete(tx, &UserId::new("ann"), id)?))
            })
            .await
            .unwrap();
        assert_eq!(deleted, (false, true), "another user's todo is not found");
        assert!(store.read(move |tx| get(tx, &UserId::new("ann"), id)).await.unwrap().is_none());
    });
}

/// The application's clock writes the same text SQLite's column defaults did.
#[cfg(test)]
mod timestamp_tests {
    use crate::support::clock::{Clock, timestamp_of_millis};

    #[test]
    fn timestamps_are_what_sqlite_strftime_wrote() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for millis in [0_i64, 1_764_633_792_345, 951_782_400_999, 4_102_444_799_000] {
            let sqlite: String = conn
                .query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1 / 1000.0, 'unixepoch')", [millis], |row| {
                    row.get(0)
                })
                .unwrap();
            assert_eq!(timestamp_of_millis(millis), sqlite, "{millis}");
        }
        assert_eq!(Clock::manual(86_400).timestamp(), "1970-01-02T00:00:00.000Z");
    }
}
