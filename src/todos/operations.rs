//! What each todo call does once the chain lets it run, for the REST routes and the MCP tools
//! alike: owner-scoped, and another user's todo is simply not found.

use rusqlite::Connection;
use serde::Serialize;

use super::model::{NewTodo, Todo, TodoPatch};
use super::query::{ListQuery, cursor};
use super::store;
use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::ids::UserId;

/// `{"todos": [...], "nextCursor": ...}`: newest first; `nextCursor` is null on the last page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub todos: Vec<Todo>,
    pub next_cursor: Option<String>,
}

impl Page {
    /// One page of the caller's todos: one row more than asked for tells whether another follows.
    fn read(conn: &Connection, user_id: &UserId, query: &ListQuery) -> Result<Page, ApiError> {
        let mut todos = store::list(conn, user_id, query, query.limit + 1)?;
        let next_cursor = (todos.len() > query.limit as usize).then(|| {
            todos.truncate(query.limit as usize);
            cursor::encode(todos.last().map_or(0, |todo| todo.id))
        });
        Ok(Page { todos, next_cursor })
    }
}

pub fn list(conn: &Connection, caller: &Caller, query: ListQuery) -> Result<Page, ApiError> {
    Page::read(conn, &caller.user_id, &query)
}

pub fn create(conn: &Connection, caller: &Caller, new: NewTodo) -> Result<Todo, ApiError> {
    // The original demo's words for a failed create, kept for GPTs that show them.
    store::insert(conn, &caller.user_id, &new).map_err(|e| ApiError::internal("Failed to create todo item", e))
}

pub fn get(conn: &Connection, caller: &Caller, id: i64) -> Result<Todo, ApiError> {
    store::get(conn, &caller.user_id, id)?.ok_or(ApiError::NotFound)
}

pub fn update(conn: &Connection, caller: &Caller, (id, patch): (i64, TodoPatch)) -> Result<Todo, ApiError> {
    store::update(conn, &caller.user_id, id, &patch)?.ok_or(ApiError::NotFound)
}

pub fn delete(conn: &Connection, caller: &Caller, id: i64) -> Result<(), ApiError> {
    match store::delete(conn, &caller.user_id, id)? {
        true => Ok(()),
        false => Err(ApiError::NotFound),
    }
}
