//! The SQL of todos. Every query is scoped by the owner, so a row of another user is simply not
//! found: there is no path by which one user reads or changes another's todo.

use rusqlite::{Connection, Row, params};

use super::model::{NewTodo, Todo};

const COLUMNS: &str = "id, title, description, status, user_id, created_at, updated_at";

fn from_row(row: &Row) -> rusqlite::Result<Todo> {
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

pub fn insert(conn: &Connection, user_id: &str, new: &NewTodo) -> rusqlite::Result<Todo> {
    conn.prepare_cached(&format!(
        "INSERT INTO todos (user_id, title, description, status) VALUES (?1, ?2, ?3, ?4) RETURNING {COLUMNS}"
    ))?
    .query_row(params![user_id, new.title, new.description, new.status], from_row)
}
